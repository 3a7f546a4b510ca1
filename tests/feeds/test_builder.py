"""The feed builder: determinism, incremental builds, and jekyll-feed's documents.

A build must be the same bytes whatever the process, and an incremental build exactly what a
fresh one gives, rebuilding and rendering only what a change touched. The site is
tests/feeds/conftest.py's news site.
"""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import subprocess
import textwrap
import threading
from pathlib import Path

import feedparser
import pytest

from feedsvc import documents
from feedsvc.config import SAMPLE_SITE, load_settings
import feedsvc.feeds.entries
from feedsvc.feeds import FeedBuilder
from feedsvc.feeds.formats import render_atom
from feedsvc.site import Site
from tests.conftest import NOW
from tests.feeds.news import parse
from tests.support.serve import PYTHON, ROOT, child_env


# --- determinism and incremental builds ------------------------------------------------------

SCRIPT = textwrap.dedent("""
    import datetime as dt, hashlib, json, sys
    from feedsvc.config import load_settings
    from feedsvc.feeds import FeedBuilder
    from feedsvc.source import Store
    settings = load_settings(json.loads(sys.argv[1]), environ={})
    clock = lambda: dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    store = Store.from_settings(settings, clock=clock)
    feeds = FeedBuilder.from_settings(settings).build(store.reload(), store)
    print(json.dumps([[k.kind, k.name, k.fmt, hashlib.sha256(d.body).hexdigest(),
                       hashlib.sha256(d.gzip).hexdigest()] for k, d in feeds.feeds.items()]))
""")


def test_same_store_gives_identical_bytes_in_separate_processes(news, build, site_dir):
    meta = {"title": "T", "description": "", "author": ""}   # url, zone, lang: _config.yml's
    values = json.dumps({"site_dir": str(site_dir), **meta})
    outputs = []
    for seed in ("1", "4242"):
        env = child_env(PYTHONHASHSEED=seed)
        result = subprocess.run([PYTHON, "-c", SCRIPT, values], env=env,
                                capture_output=True, text=True, check=True, timeout=120)
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 21
    here = build(**meta)
    assert [hashlib.sha256(d.body).hexdigest() for d in here.feeds.values()] == \
        [row[3] for row in outputs[0]]


def test_gzip_copy_is_deterministic_at_zlibs_default_level(news, build):
    for document in build().feeds.values():
        assert gzip.decompress(document.gzip) == document.body
        assert document.gzip == gzip.compress(document.body, compresslevel=6, mtime=0)
        assert document.gzip_etag == document.etag[:-1] + '-gz"'


def test_documents_made_in_a_parallel_batch_equal_one_by_one(monkeypatch):
    stamp = dt.datetime(2022, 5, 11, 9, 16, 4, tzinfo=dt.timezone.utc)
    items = [((f"<rss>{i}</rss>" * (2000 + i)).encode(), "rss", stamp if i % 2 else None)
             for i in range(12)]
    made_threads = []
    real = documents.make_document
    monkeypatch.setattr(documents, "make_document", lambda *item: (
        made_threads.append(threading.current_thread().name), real(*item))[1])
    monkeypatch.setattr(documents, "PARALLEL_BYTES", 1000)
    monkeypatch.setattr(documents.os, "cpu_count", lambda: 2)
    before = threading.active_count()
    assert documents.make_documents(items) == [real(*item) for item in items]
    assert any(name.startswith("feedsvc-gzip") for name in made_threads)   # really threaded
    assert threading.active_count() == before      # no thread outlives the batch


# The feeds as published, as (documents, sha256 of [path, sha256 of body, ETag,
# Last-Modified] of every feed document). Speed work must keep these: a feed's bytes are
# what its subscribers' readers compare. Changed on purpose by the Jekyll-fidelity work
# (issue 12): jekyll-feed's summaries (the whole excerpt), titles and bodies with smart
# typography, author e-mail/uri, and documents at jekyll-feed's paths only where jekyll-feed
# writes them (/feed.xml, as these sites have no feed: block), each naming itself.
PUBLISHED_FEEDS = {
    # Every category and tag keeps its jekyll-feed path beside the feed: block's (docs/jekyll.md).
    "sample": (100, "9ffd91769559618c843fe144368f3d37cc8947bb388da0aad6a0e8d377dd8a39"),
    "generated-300": (260, "40f950f779f8126af8a2987e9a98bf701719663fcc4bf866f7b12892ab62c9e4"),
}


def published_feeds(site_dir: Path, tmp_path: Path) -> tuple[int, str]:
    empty = tmp_path / "empty.yaml"   # not config/feedsvc.yaml: only the site's own config
    empty.write_text("{}\n", encoding="utf-8")
    settings = load_settings({"site_dir": str(site_dir), "timezone": "Asia/Shanghai"},
                             config_file=empty, environ={})
    site = Site(settings, clock=lambda: NOW)
    site.reload()
    rows = [[path, hashlib.sha256(d.body).hexdigest(), d.etag, d.last_modified_http]
            for path, d in sorted(site.current.documents.items())
            if not d.content_type.startswith(("text/html", "text/x-opml"))]
    return len(rows), hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def test_feeds_of_the_sample_and_a_generated_site_keep_their_bytes(tmp_path):
    generated = tmp_path / "generated"
    subprocess.run([PYTHON, "-m", "bench.make_store", "300", str(generated)], cwd=ROOT,
                   env=child_env(), check=True, capture_output=True, timeout=120)
    assert published_feeds(SAMPLE_SITE, tmp_path) == PUBLISHED_FEEDS["sample"]
    assert published_feeds(generated, tmp_path) == PUBLISHED_FEEDS["generated-300"]


def test_unchanged_snapshot_builds_nothing_and_returns_the_same_documents(news,
                                                                          store_and_builder):
    store, builder = store_and_builder()
    first = builder.build(store.reload(), store)
    assert builder.builds == 28   # 7 feeds x 3 formats, and jekyll-feed's path of each
    second = builder.build(store.reload(), store)
    assert builder.builds == 28
    for key, document in first.feeds.items():
        assert second.feeds[key] is document


def test_changing_one_post_rebuilds_only_the_feeds_that_show_it(news, write, store_and_builder):
    store, builder = store_and_builder()
    first = builder.build(store.reload(), store)
    write("2022-05-09-weather.md",
          "title: 雨\ndate: 2022-05-09 07:30:00\ncategories: weather\ntags: 天气\n"
          "image: /img/rain.jpg")
    second = builder.build(store.reload(), store)
    changed = {(k.kind, k.name) for k in second.feeds if second.feeds[k] is not first.feeds[k]}
    assert changed == {("all", ""), ("category", "weather"), ("tag", "天气")}
    assert builder.builds == 28 + 9 + 3   # and their three jekyll-feed paths
    assert parse(second, "tag", "天气", "atom").entries[0].title == "雨"


@pytest.fixture
def renders(monkeypatch) -> list[tuple]:
    """Return the list of every call of the entries' ``sanitize``: one per post rendered."""
    calls: list[tuple] = []
    original = feedsvc.feeds.entries.sanitize
    monkeypatch.setattr(feedsvc.feeds.entries, "sanitize",
                        lambda *args: calls.append(args) or original(*args))
    return calls


def test_each_post_version_is_rendered_once(news, renders, build):
    build()
    assert len(renders) == 3   # three due posts, each in several feeds


def test_a_post_whose_id_moves_is_not_rendered_again(write, renders, store_and_builder,
                                                     feed_settings):
    store, builder = store_and_builder()
    write("2022-05-10-mid.md", "title: Mid\nid: same")
    builder.build(store.reload(), store)
    write("2022-05-09-old.md", "title: Old\nid: same")   # older: takes the plain id
    feeds = builder.build(store.reload(), store)
    assert [e.id for e in parse(feeds, "all", "", "atom").entries] == ["same#2", "same"]
    assert len(renders) == 2   # Mid once, Old once: Mid's new id needed no rendering
    fresh = FeedBuilder.from_settings(feed_settings()).build(store.reload(), store)
    assert {k: d.body for k, d in feeds.feeds.items()} == \
        {k: d.body for k, d in fresh.feeds.items()}


def test_feeds_and_entries_no_longer_shown_are_dropped(news, store_and_builder, site_dir):
    store, builder = store_and_builder()
    builder.build(store.reload(), store)
    (site_dir / "_posts" / "2022-05-09-weather.md").unlink()
    feeds = builder.build(store.reload(), store)
    assert ("category", "weather") not in feeds.entries
    assert len(builder._feeds) == len(feeds.entries) == 5
    assert len(builder._entries) == 2


def test_jekyll_feed_documents_spliced_from_feedsvc_s_own_equal_a_full_render(write, site_dir,
                                                                              store_and_builder):
    with (site_dir / "_config.yml").open("a", encoding="utf-8") as config:
        config.write("feed:\n  categories: [c, empty]\n  tags: true\n")
    write("2022-05-11-a.md", "title: A\ncategories: c\ntags: [t1, 东方]\nlang: en")
    write("2022-05-12-b.md", "title: B\ncategories: c\ntags: t1\nimage: /i.png")
    store, builder = store_and_builder()
    feeds = builder.build(store.reload(), store)
    # 东方 is no [A-Za-z0-9_] name: jekyll-feed skips it, feedsvc keeps its path anyway.
    assert set(feeds.jekyll) == {"/feed.xml", "/feed/c.xml", "/feed/empty.xml",
                                 "/feed/by_tag/t1.xml", "/feed/by_tag/东方.xml"}
    for path, (kind, name) in {"/feed.xml": ("all", ""), "/feed/c.xml": ("category", "c"),
                               "/feed/by_tag/t1.xml": ("tag", "t1")}.items():
        meta = builder._jekyll_meta(kind, name, path)
        whole = render_atom(meta, feeds.entries[(kind, name)], builder.zone)
        assert feeds.jekyll[path].body == whole, path
    assert feedparser.parse(feeds.jekyll["/feed/empty.xml"].body).entries == []
