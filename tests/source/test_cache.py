"""The persistent parse cache: warm restarts, its record codec, invalidation, corruption."""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import feedsvc
from feedsvc.errors import ContentError
from feedsvc.source.cache import RecordCodec
from feedsvc.source import Post

SAMPLE_SITE = Path(feedsvc.__file__).parent / "sample_site"


def test_warm_restart_parses_only_changed_files(write_file, tmp_path_factory, make_store):
    cache = tmp_path_factory.mktemp("cache")
    write_file("_posts/2022-05-11-a.md", "title: A\ncategories: c")
    path_b = write_file("_posts/2022-05-12-b.md", "title: B")
    write_file("_posts/2022-05-13-broken.md", "title: [x")
    first = make_store(cache_dir=str(cache))
    snap1 = first.reload()
    assert first.reads == 3
    path_b.write_text("---\ntitle: B changed\n---\n")
    second = make_store(cache_dir=str(cache))
    snap2 = second.reload()
    assert second.reads == 1
    assert [p.title for p in snap2.posts] == ["B changed", "A"]
    assert snap2.errors == snap1.errors
    assert _same_post(snap2.posts[1], snap1.posts[1])
    assert second.body_of(snap2.posts[1]) == "<p>body</p>\n"


def _same_post(a: Post, b: Post) -> bool:
    """Equal field by field, with datetimes equal as instants and in their zone's offset."""
    return a == b and all(
        (x.utcoffset(), x.tzinfo.tzname(x), x.fold) == (y.utcoffset(), y.tzinfo.tzname(y), y.fold)
        for x, y in ((a.date, b.date), (a.updated, b.updated)))


def test_cache_records_round_trip_every_post_and_error(make_store):
    """The cache's compact encoding gives back each post exactly (zones included)."""
    store = make_store(site_dir=str(SAMPLE_SITE))
    snap = store.reload()
    codec = RecordCodec(store.options.zone)
    states = list(store._files.values())
    assert len(states) >= 40
    broken = ContentError("_posts/2024-01-01-x.md", "invalid YAML front matter at line 2: 东")
    states.append(type(states[0])((1, 2, 3), None, broken))                # not a post
    states.append(type(states[0])((1, 2, 3), snap.posts[1], broken))       # last good
    for state in states:
        record = codec.encode(state.post, state.error)
        assert record[:1] == b"M"          # no sample post needs the pickle fallback
        post, error = codec.decode(record)
        assert error == state.error
        assert (post is None) == (state.post is None)
        if post is not None:
            assert _same_post(post, state.post)
            assert post.epoch == state.post.epoch and post.sort_key == state.post.sort_key
    # A zone that is neither the site's nor a fixed offset: the pickle fallback, still exact.
    post = snap.posts[0]
    odd = dataclasses.replace(post, date=post.date.astimezone(ZoneInfo("America/New_York")))
    record = codec.encode(odd, None)
    assert record[:1] == b"P"
    assert _same_post(codec.decode(record)[0], odd)
    named = dataclasses.replace(post, date=post.date.astimezone(
        dt.timezone(dt.timedelta(hours=8), "CST")))
    assert _same_post(codec.decode(codec.encode(named, None))[0], named)


def test_cache_is_dropped_when_parsing_settings_change(write_file, tmp_path_factory, make_store):
    cache = tmp_path_factory.mktemp("cache")
    write_file("_posts/2022-05-11-a.md", "title: A\ndate: 2022-05-11 10:00:00")
    make_store(cache_dir=str(cache)).reload()
    store = make_store(cache_dir=str(cache), timezone="UTC")
    post = store.reload().posts[0]
    assert store.reads == 1
    assert post.date.utcoffset() == dt.timedelta(0)


def test_corrupt_cache_is_ignored(write_file, tmp_path_factory, caplog, make_store):
    cache = tmp_path_factory.mktemp("cache")
    (cache / "parse-cache.sqlite3").write_bytes(b"this is not sqlite" * 100)
    write_file("_posts/2022-05-11-a.md", "title: A")
    store = make_store(cache_dir=str(cache))
    assert [p.title for p in store.reload().posts] == ["A"]
    assert "parse cache unusable" in caplog.text
