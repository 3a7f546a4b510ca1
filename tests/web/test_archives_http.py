"""RFC 5005 archives over HTTP: walking prev-archive, immutable pages, what bad URLs get.

A walk starts at a feed's current document and follows ``prev-archive`` (``next_url`` in
JSON Feed) through the test client until a page has none, as an aggregator does; feedparser
reads RSS and Atom, ``json`` JSON Feed.
"""
from __future__ import annotations

import gzip
import json

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsvc.documents import make_document
from feedsvc.web.archives import IMMUTABLE, PageCache
from tests.web.wsgi import call

SITE = "https://news.example.com"
LIMIT, SIZE = 3, 4
COUNT = 23                       # posts: 12 "even", 11 "odd", all tagged
EDITED = "Post 1, corrected"


def date(n: int) -> str:
    return f"2024-{1 + n // 28:02d}-{1 + n % 28:02d} 10:00:00 +0800"


def write(write_post, n: int, title: str | None = None) -> None:
    write_post(f"p{n:03d}", date=date(n), title=title or f"Post {n}",
               categories=["even" if n % 2 == 0 else "odd"], tags=["everything"])


@pytest.fixture
def app(write_post, make_app):
    for n in range(COUNT):
        write(write_post, n)
    return make_app(archives=True, feed_limit=LIMIT, archive_page_size=SIZE)


@pytest.fixture
def client(app):
    return app.test_client()


def local(url: str) -> str:
    assert url.startswith(SITE + "/"), url
    return url[len(SITE):]


def read(body: bytes, fmt: str) -> tuple[list[tuple[str, str]], str | None, bool]:
    """Return the (id, title) of each entry, the prev-archive URL and whether it is an archive."""
    if fmt == "json":
        doc = json.loads(body)
        entries = [(item["id"], item["title"]) for item in doc["items"]]
        return entries, doc.get("next_url"), "_feedsvc" in doc
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.bozo_exception
    links = {link.rel: link.href for link in parsed.feed.get("links", [])}
    archived = b"<fh:archive/>" in body
    return [(e.id, e.title) for e in parsed.entries], links.get("prev-archive"), archived


def walk(client, path: str, fmt: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Return every entry met walking prev-archive from *path*, and the pages visited."""
    response = client.get(path)
    assert response.status_code == 200
    entries, prev, archived = read(response.data, fmt)
    assert not archived
    pages = []
    while prev is not None:
        pages.append(local(prev))
        response = client.get(pages[-1])
        assert response.status_code == 200, pages[-1]
        assert response.headers["Cache-Control"] == IMMUTABLE
        more, prev, archived = read(response.data, fmt)
        assert archived and more
        entries += more
        assert len(pages) < 100, "the walk does not end"
    return entries, pages


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
@pytest.mark.parametrize("feed, titles", [
    ("/feeds/all", [f"Post {n}" for n in range(COUNT)]),
    ("/feeds/categories/odd", [f"Post {n}" for n in range(1, COUNT, 2)]),
])
def test_walking_prev_archive_from_the_current_document_meets_every_post_once(
        client, fmt, feed, titles):
    entries, pages = walk(client, f"{feed}.{fmt}", fmt)
    ids = [entry_id for entry_id, _ in entries]
    assert len(ids) == len(set(ids)) == len(titles)
    assert sorted(title for _, title in entries) == sorted(titles)
    assert len(pages) == -(-(len(titles) - LIMIT) // SIZE)


def test_an_archive_page_fetched_before_a_new_post_is_byte_identical_after(
        app, client, write_post):
    _, pages = walk(client, "/feeds/all.atom", "atom")
    oldest = client.get(pages[-1])
    write(write_post, COUNT)
    app.state.site.reload()
    again = client.get(pages[-1])
    assert again.status_code == 200 and again.data == oldest.data
    assert again.headers["ETag"] == oldest.headers["ETag"]
    entries, new_pages = walk(client, "/feeds/all.atom", "atom")
    assert pages[-1] in new_pages and len(entries) == COUNT + 1


def test_after_an_edit_in_a_page_walking_again_reaches_the_edited_version(
        app, client, write_post):
    before, pages = walk(client, "/feeds/all.rss", "rss")
    write(write_post, 1, EDITED)        # in the oldest page
    app.state.site.reload()
    after, new_pages = walk(client, "/feeds/all.rss", "rss")
    titles = [title for _, title in after]
    assert EDITED in titles and "Post 1" not in titles and len(after) == COUNT
    assert not set(pages) & set(new_pages)   # every page from the edit up has a new URL
    gone = client.get(pages[-1])
    assert gone.status_code == 404 and gone.headers["Cache-Control"] == "no-store"
    assert gone.mimetype == "text/plain" and b"Walk the archive again" in gone.data


def test_a_pages_stable_url_redirects_to_its_current_version(app, client):
    archive = app.state.site.current.feeds.archives[("all", "")]
    response = client.get("/feeds/archive/all/0.json")
    assert response.status_code == 302
    assert response.headers["Location"] == \
        f"{SITE}/feeds/archive/all/0-{archive.digests[0]}.json"
    after_newest = client.get(f"/feeds/archive/all/{archive.pages}.json")
    assert (after_newest.status_code, after_newest.headers["Location"]) == \
        (302, f"{SITE}/feeds/all.json")
    assert client.get(f"/feeds/archive/all/{archive.pages + 1}.json").status_code == 404


def test_archive_pages_are_immutable_conditional_and_gzipped(app, client):
    _, pages = walk(client, "/feeds/tags/everything.json", "json")
    first = client.get(pages[0])
    assert first.headers["Content-Type"] == "application/feed+json; charset=utf-8"
    assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get(pages[0], headers={"If-None-Match": first.headers["ETag"]}
                      ).status_code == 304
    zipped = client.get(pages[0], headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == first.data
    assert client.head(pages[0]).status_code == 200
    cache = app.state.archives.cache
    assert cache.misses == len(pages) and cache.hits >= 3


def test_a_page_whose_post_changed_since_the_reload_is_503_until_the_next(
        app, client, write_post):
    _, pages = walk(client, "/feeds/categories/even.atom", "atom")
    app.state.archives.cache = PageCache(0)     # nothing kept: the page is rendered again
    write(write_post, 0, "Edited, not reloaded yet")
    response = client.get(pages[-1])            # the oldest page holds post 0
    assert response.status_code == 503
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Retry-After"]


BAD = ["/feeds/archive/", "/feeds/archive/all", "/feeds/archive/all/", "/feeds/archive/all/x.atom",
       "/feeds/archive/all/-1.atom", "/feeds/archive/all/01.atom", "/feeds/archive/all/0.xml",
       "/feeds/archive/all/" + "9" * 40 + ".atom", "/feeds/archive/all/0-zz.atom",
       "/feeds/archive/all/0-0123456789ABCDEF.atom", "/feeds/archive/all/0-0000000000000000.atom",
       "/feeds/archive/all/999-0123456789abcdef.rss", "/feeds/archive/all/0.atom/x",
       "/feeds/archive/categories//0.atom", "/feeds/archive/categories/nope/0.atom",
       "/feeds/archive/categories/0.atom", "/feeds/archive/tags/%00/0.atom",
       "/feeds/archive/tags/%ff%fe/0.rss", "/feeds/archive/all/%2e%2e/0.atom",
       "/feeds/archive/../all.atom", "/feeds/archive/nope/x/0.atom",
       "/feeds/archive/all/0-0123456789abcdef0.atom"]


@pytest.mark.parametrize("path", BAD)
def test_bad_archive_urls_get_a_plain_404(client, path):
    for method in (client.get, client.head):
        response = method(path)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from("/0123456789abcdef-.%xyzé"), max_size=40),
       st.sampled_from(["all/", "categories/odd/", "tags/everything/", "categories/", ""]))
def test_no_archive_url_gets_a_5xx(client, tail, folder):
    response = client.get(f"/feeds/archive/{folder}{tail}")
    assert response.status_code in (200, 302, 404), (folder, tail)


def test_with_archives_off_there_are_none(make_app, write_post):
    for n in range(COUNT):
        write(write_post, n)
    client = make_app(feed_limit=LIMIT).test_client()
    assert b"prev-archive" not in client.get("/feeds/all.atom").data
    assert client.get("/feeds/archive/all/0.atom").status_code == 404
    assert b"Older posts" not in client.get("/").data


def test_the_feed_pages_link_older_posts_to_the_newest_archive_page(app, client):
    archive = app.state.site.current.feeds.archives[("category", "odd")]
    newest = f"{SITE}/feeds/archive/categories/odd/{archive.pages - 1}-{archive.digests[-1]}"
    page = client.get("/feeds/categories/odd").data.decode()
    assert "Older posts" in page and f'href="{newest}.atom"' in page
    assert client.get(local(newest + ".atom")).status_code == 200
    assert f'href="{SITE}/feeds/archive/all/' in client.get("/").data.decode()


def test_the_page_cache_keeps_the_most_recently_used_pages_within_its_bytes():
    pages = {f"/p{i}": make_document(bytes([65 + i]) * 1000, "atom", None) for i in range(4)}
    size = len(pages["/p0"].body) + len(pages["/p0"].gzip)
    cache = PageCache(3 * size)
    rendered = []

    def get(key):
        return cache.get(key, lambda: rendered.append(key) or pages[key])
    for key in ("/p0", "/p1", "/p2", "/p0", "/p3", "/p1", "/p0"):
        assert get(key) is pages[key]
    assert rendered == ["/p0", "/p1", "/p2", "/p3", "/p1"]   # p1 was the least recently used
    assert cache.bytes <= 3 * size and len(cache) == 3 and cache.evictions == 2


def test_the_fast_path_answers_a_kept_page_as_flask_does_and_nothing_else(
        app, client, write_post):
    from unittest import mock
    fast = app.wsgi_app
    _, pages = walk(client, "/feeds/all.rss", "rss")     # rendered and kept, through Flask
    page = pages[-1]
    etag = client.get(page).headers["ETag"]
    for method in ("GET", "HEAD"):
        for headers in ({}, {"Accept-Encoding": "gzip"}, {"If-None-Match": etag}):
            with mock.patch.object(fast, "fallback", side_effect=AssertionError("fell back")):
                got = call(fast, page, method, headers)
            assert got == call(fast.fallback, page, method, headers), (method, headers)
    write(write_post, 1, EDITED)                          # the kept page is not current now
    app.state.site.reload()
    with mock.patch.object(fast, "fallback", wraps=fast.fallback) as flask:
        assert call(fast, page)[0] == "404 NOT FOUND"
    assert flask.call_count == 1


def test_before_the_first_load_an_archive_url_is_503_not_404(app, client):
    app.state.site.current = None
    response = client.get("/feeds/archive/all/0.atom")
    assert response.status_code == 503 and response.headers["Cache-Control"] == "no-store"
    assert response.headers["Retry-After"]
