"""RFC 5005 archives in the feeds layer: which posts each page holds, its digest, its bytes.

Pages are planned by the builder on every reload and rendered by ``render_page``; these tests
use ``Site`` without the web. Walking the pages over HTTP is tests/web/test_archives_http.py.
"""
from __future__ import annotations

import json
import random

import feedparser
import pytest
from lxml import etree

from feedsvc.feeds.archives import ArchivePlanner, ArchiveUnavailable, render_page
from feedsvc.site import Site
from tests.feeds.news import ATOM

FH = "{http://purl.org/syndication/history/1.0}"
LIMIT, SIZE = 3, 4          # feed_limit, archive_page_size of these tests


def date(n: int) -> str:
    """The date of post *n*: one post a day, in age order."""
    return f"2024-{1 + n // 28:02d}-{1 + n % 28:02d} 10:00:00 +0800"


@pytest.fixture
def site(make_settings, clock):
    def make(**overrides) -> Site:
        settings = make_settings(**{"archives": True, "feed_limit": LIMIT,
                                    "archive_page_size": SIZE, **overrides})
        return Site(settings, clock)
    return make


@pytest.fixture
def posts(write_post):
    """Write posts 0..n-1 (post i in category "even" or "odd"); return their slugs."""
    def write(n: int, start: int = 0) -> list[str]:
        slugs = []
        for i in range(start, start + n):
            write_post(f"p{i:03d}", date=date(i), title=f"Post {i}",
                       categories=["even" if i % 2 == 0 else "odd"], tags=["all-of-them"])
            slugs.append(f"p{i:03d}")
        return slugs
    return write


def paths(posts) -> list[str]:
    return [post.path.rpartition("-")[2].removesuffix(".md") for post in posts]


def test_pages_are_counted_from_the_oldest_post_and_leave_out_the_current_document(site, posts):
    written = posts(14)
    published = site().reload()
    archive = published.feeds.archives[("all", "")]
    assert archive.archived == 14 - LIMIT and archive.pages == 3   # 11 posts: 4, 4, 3
    pages = [paths(archive.page_posts(k)) for k in range(archive.pages)]
    assert pages == [written[3::-1], written[7:3:-1], written[10:7:-1]]   # newest first
    current = [e.path for e in published.feeds.entries[("all", "")]]
    archived = [p.path for k in range(archive.pages) for p in archive.page_posts(k)]
    assert len(current) == LIMIT and not set(current) & set(archived)
    assert len(set(current) | set(archived)) == 14


def test_a_new_post_changes_only_the_open_page(site, posts):
    posts(14)
    s = site()
    before = s.reload().feeds.archives[("all", "")]
    posts(1, start=14)
    full = s.reload().feeds.archives[("all", "")]
    assert full.digests[:2] == before.digests[:2]      # full pages keep their URLs
    assert full.digests[2] != before.digests[2]        # the open page took one more post
    assert full.pages == 3 and paths(full.page_posts(2)) == ["p011", "p010", "p009", "p008"]
    posts(1, start=15)
    opened = s.reload().feeds.archives[("all", "")]
    assert opened.digests[:3] == full.digests[:3]      # now page 2 is full, it stays
    assert opened.pages == 4 and paths(opened.page_posts(3)) == ["p012"]


def test_an_edit_changes_its_page_and_every_newer_page_but_no_older_one(site, posts, write_post):
    posts(20)
    s = site()
    before = s.reload().feeds.archives[("all", "")]
    write_post("p005", date=date(5), title="Post 5, corrected", categories=["odd"],
               tags=["all-of-them"])
    after = s.reload().feeds.archives[("all", "")]
    assert after.digests[0] == before.digests[0]               # page 0: posts 0-3
    assert all(a != b for a, b in zip(after.digests[1:], before.digests[1:]))


def test_a_deletion_moves_the_later_posts_down_a_place_under_new_urls(site, posts, site_dir):
    written = posts(20)
    s = site()
    before = s.reload().feeds.archives[("all", "")]
    (site_dir / "_posts" / f"{date(2)[:10]}-{written[2]}.md").unlink()
    after = s.reload().feeds.archives[("all", "")]
    assert paths(after.page_posts(0)) == ["p004", "p003", "p001", "p000"]
    assert not set(after.digests) & set(before.digests)


def test_the_digest_covers_the_settings_the_bytes_depend_on(site, posts):
    posts(10)
    plain = site().reload().feeds.archives[("all", "")]
    assert site().reload().feeds.archives[("all", "")].digests == plain.digests
    for change in ({"title": "Another title"}, {"timezone": "UTC"}, {"feed_limit": 2},
                   {"permalink": "pretty"}, {"excerpt_only": True}):
        other = site(**change).reload().feeds.archives[("all", "")]
        assert not set(other.digests) & set(plain.digests), change


def test_an_entry_id_that_moves_changes_the_pages_that_show_it(site, posts, write_post,
                                                              site_dir):
    posts(12)
    # The older of two posts asking for one id keeps it; the newer gets "#2" (feeds/ids.py).
    write_post("clash", date=date(1), title="Asks for the id too", categories=["lonely"],
               extra="id: same")
    write_post("p002", date=date(2), title="Post 2", categories=["even"], extra="id: same")
    s = site()
    before = s.reload().feeds.archives
    (site_dir / "_posts" / f"{date(1)[:10]}-clash.md").unlink()
    after = s.reload().feeds.archives
    even = after[("category", "even")]
    assert even.posts is before[("category", "even")].posts   # no post of it changed...
    p002 = next(p.path for p in even.posts if "p002" in p.path)
    assert (before[("category", "even")].ids[p002], even.ids[p002]) == ("same#2", "same")
    assert even.digests[0] != before[("category", "even")].digests[0]   # ...but an id did
    assert after[("category", "odd")].digests == before[("category", "odd")].digests


def test_replanning_after_random_changes_equals_planning_afresh(site, posts, write_post,
                                                                site_dir):
    rng = random.Random(5005)
    posts(30)
    s = site()
    s.reload()
    alive = set(range(30))
    for step in range(25):
        choice = rng.random()
        n = rng.choice(sorted(alive))
        if choice < 0.4:
            write_post(f"p{n:03d}", date=date(n), title=f"Post {n} v{step}",
                       categories=["even" if n % 2 == 0 else "odd"], tags=["all-of-them"])
        elif choice < 0.6 and len(alive) > 5:
            (site_dir / "_posts" / f"{date(n)[:10]}-p{n:03d}.md").unlink()
            alive.discard(n)
        else:
            new = 30 + step
            write_post(f"p{new:03d}", date=date(new), title=f"Post {new}",
                       categories=["even"], extra="id: same" if step % 7 == 0 else "")
            alive.add(new)
        incremental = s.reload().feeds.archives
        fresh = site().reload().feeds.archives
        assert {k: a.digests for k, a in incremental.items()} == \
            {k: a.digests for k, a in fresh.items()}, step


def test_a_reload_hashes_only_the_pages_after_the_first_change(site, posts):
    posts(40)
    s = site()
    s.reload()
    planner: ArchivePlanner = s.builder._archives
    hashed = planner.hashed
    posts(1, start=40)
    s.reload()
    # The open page of the global feed, of "even" and of the tag, and no other.
    assert planner.hashed - hashed <= 3 + 1


def test_archive_documents_carry_fh_archive_and_their_links(site, posts):
    posts(14)
    s = site()
    published = s.reload()
    archive = published.feeds.archives[("all", "")]
    base = "https://news.example.com/feeds/archive/all"
    root = etree.fromstring(render_page(archive, 1, "atom", s.store).body)
    links = {link.get("rel"): link.get("href") for link in root.findall(ATOM + "link")}
    assert root.find(FH + "archive") is not None
    assert links["self"] == f"{base}/1-{archive.digests[1]}.atom"
    assert links["current"] == "https://news.example.com/feeds/all.atom"
    assert links["prev-archive"] == f"{base}/0-{archive.digests[0]}.atom"
    assert links["next-archive"] == f"{base}/2.atom"
    assert root.findtext(ATOM + "id") == "https://news.example.com/feeds/all.atom"
    oldest = feedparser.parse(render_page(archive, 0, "rss", s.store).body)
    assert "prev-archive" not in {link.rel for link in oldest.feed.links}
    assert b"<fh:archive/>" in render_page(archive, 0, "rss", s.store).body
    page = json.loads(render_page(archive, 1, "json", s.store).body)
    assert page["next_url"] == f"{base}/0-{archive.digests[0]}.json"
    assert page["feed_url"] == "https://news.example.com/feeds/all.json"
    assert page["_feedsvc"]["archive"] is True and page["_feedsvc"]["next_archive"] == \
        f"{base}/2.json"
    current = etree.fromstring(published.documents["/feeds/all.atom"].body)
    assert current.find(FH + "archive") is None
    assert [link.get("href") for link in current.findall(ATOM + "link")
            if link.get("rel") == "prev-archive"] == [f"{base}/2-{archive.digests[2]}.atom"]
    assert json.loads(published.documents["/feeds/all.json"].body)["next_url"] == \
        f"{base}/2-{archive.digests[2]}.json"


def test_a_feed_with_no_older_posts_than_its_current_document_has_no_archive(site, posts):
    posts(LIMIT)
    published = site().reload()
    assert published.feeds.archives[("all", "")].pages == 0
    body = published.documents["/feeds/all.atom"].body
    assert b"prev-archive" not in body and b"fh:archive" not in body


def test_a_page_is_not_rendered_from_a_file_that_changed_since_the_reload(site, posts,
                                                                        write_post):
    posts(10)
    s = site()
    archive = s.reload().feeds.archives[("all", "")]
    write_post("p001", date=date(1), title="Edited after the reload", categories=["odd"])
    with pytest.raises(ArchiveUnavailable):
        render_page(archive, 0, "atom", s.store)
    render_page(archive, 1, "atom", s.store)   # the other pages still render


def test_hubs_are_advertised_beside_self_in_every_format_of_the_current_document(site, posts):
    posts(2)
    hubs = ("https://hub.example/", "http://127.0.0.1:9/hub")
    published = site(websub_hubs=list(hubs), archives=False).reload()
    for path in ("/feeds/all.rss", "/feeds/all.atom", "/feeds/categories/even.rss",
                 "/feed/by_tag/all-of-them.xml"):
        feed = feedparser.parse(published.documents[path].body).feed
        rels = [(link.rel, link.href) for link in feed.links if link.rel in ("self", "hub")]
        assert rels[1:] == [("hub", hub) for hub in hubs], path
    doc = json.loads(published.documents["/feeds/tags/all-of-them.json"].body)
    assert doc["hubs"] == [{"type": "WebSub", "url": hub} for hub in hubs]


def test_archive_pages_and_current_documents_with_hubs_are_valid_atom(site, posts, atom_schema):
    posts(14)
    s = site(websub_hubs=["https://hub.example/"])
    published = s.reload()
    archive = published.feeds.archives[("all", "")]
    documents = [published.documents["/feeds/all.atom"].body] + \
        [render_page(archive, k, "atom", s.store).body for k in range(archive.pages)]
    for body in documents:
        atom_schema(etree.fromstring(body))
