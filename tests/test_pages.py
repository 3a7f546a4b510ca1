"""The HTML pages and the OPML: content, escaping, absolute links, zones, incremental builds."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree, html

from feedsvc.config import Settings
from feedsvc.documents import Document
from feedsvc.feeds import FeedBuilder, FeedSet
from feedsvc.pages import PageBuilder
from feedsvc.source import Snapshot, Store
from feedsvc.urls import OPML_PATH, page_path


class Pipeline:
    """A site's store, feed builder and page builder, kept across reloads."""

    def __init__(self, settings: Settings, clock: Callable) -> None:
        self.settings = settings
        self.store = Store.from_settings(settings, clock=clock)
        self.feeds = FeedBuilder.from_settings(settings)
        self.pages = PageBuilder(settings)
        self.snapshot: Snapshot | None = None
        self.feed_set: FeedSet | None = None

    def build(self) -> dict[str, Document]:
        """Reload the store, build the feeds, then the pages; return the pages."""
        self.snapshot = self.store.reload()
        self.feed_set = self.feeds.build(self.snapshot, self.store)
        return self.pages.build(self.snapshot, self.feed_set)


@pytest.fixture
def pipeline(make_settings, clock) -> Callable[..., Pipeline]:
    """Return a factory of the pipeline of ``site_dir``; keyword arguments override settings."""
    return lambda **overrides: Pipeline(make_settings(**overrides), clock)


@pytest.fixture
def pages_of(pipeline) -> Callable[..., dict[str, Document]]:
    """Return a function building the pages of ``site_dir`` once, from scratch."""
    return lambda **overrides: pipeline(**overrides).build()


def links(document):
    tree = html.fromstring(document.body)
    return [e.get("href") for e in tree.iter() if e.get("href") is not None]


def test_every_page_key_is_a_decoded_path(write_post, pages_of):
    write_post("a", title="A", categories=["a/b", "metro"], tags=["东方网新闻"])
    pages = pages_of()
    assert sorted(pages) == ["/", "/feeds.opml", "/feeds/categories/a/b",
                             "/feeds/categories/metro", "/feeds/tags/东方网新闻"]
    assert all(d.content_type == "text/html; charset=utf-8"
               for p, d in pages.items() if p != OPML_PATH)


def test_every_link_is_absolute_from_public_url(write_post, pages_of):
    write_post("a", title="A", categories=["metro"], tags=["夜间 经济"])
    pages = pages_of(public_url="https://feeds.example.org/svc")
    for path, document in pages.items():
        if path == OPML_PATH:
            continue
        for href in links(document):
            assert href.startswith(("https://feeds.example.org/svc/",
                                    "https://news.example.com/")), (path, href)
    index = html.fromstring(pages["/"].body)
    alternates = [(e.get("type"), e.get("href")) for e in index.iter("link")
                  if e.get("rel") == "alternate"]
    assert alternates == [
        ("application/rss+xml", "https://feeds.example.org/svc/feeds/all.rss"),
        ("application/atom+xml", "https://feeds.example.org/svc/feeds/all.atom"),
        ("application/feed+json", "https://feeds.example.org/svc/feeds/all.json"),
    ]
    tag_page = html.fromstring(pages["/feeds/tags/夜间 经济"].body)
    assert tag_page.xpath("//link[@rel='canonical']/@href") == [
        "https://feeds.example.org/svc/feeds/tags/%E5%A4%9C%E9%97%B4%20%E7%BB%8F%E6%B5%8E"]


def test_everything_is_escaped(write_post, pages_of):
    write_post("x", title='<script>alert("t")</script>1 < 2 <svg onload=z>',
               categories=["<img src=x onerror=y>"], tags=['"><svg onload=z>'])
    pages = pages_of()
    for path, document in pages.items():
        text = document.body.decode()
        assert "<script>" not in text and "<img" not in text and "<svg" not in text, path
    tree = html.fromstring(pages["/feeds/categories/<img src=x onerror=y>"].body)
    assert tree.findtext(".//h1") == "<img src=x onerror=y>"
    # jekyll-feed's title: smartify | strip_html (script blocks and tags go)
    assert tree.findtext(".//article/h3/a") == "1 < 2"


def test_feed_page_shows_newest_entries_with_summaries_in_site_zone(write_post, pages_of):
    write_post("old", title="Old", date="2022-05-10 23:30:00 +0000", categories="metro",
               body="<p>First summary.</p>\n")
    write_post("new", title="New", date="2022-05-11 17:16:04 +0800", categories="metro",
               body="<p>Second summary.</p>\n")
    pages = pages_of(timezone="America/New_York")
    tree = html.fromstring(pages["/feeds/categories/metro"].body)
    assert [a.text for a in tree.xpath("//article/h3/a")] == ["New", "Old"]
    assert tree.xpath("//article//time/@datetime") == ["2022-05-11T05:16:04-04:00",
                                                       "2022-05-10T19:30:00-04:00"]
    assert [t.text for t in tree.xpath("//article//time")] == ["2022-05-11 05:16",
                                                               "2022-05-10 19:30"]
    assert [p.text for p in tree.xpath("//article/p[not(@class)]")] == ["Second summary.",
                                                                        "First summary."]
    assert tree.get("lang") == "zh-CN"
    subscribe = tree.xpath("//section[@id='subscribe']//a/@href")
    assert subscribe == ["https://news.example.com/feeds/categories/metro.rss",
                         "https://news.example.com/feeds/categories/metro.atom",
                         "https://news.example.com/feeds/categories/metro.json"]
    assert tree.xpath("//section[@id='subscribe']//input/@value") == subscribe


def test_index_lists_categories_and_tags_with_counts(write_post, pages_of):
    write_post("a", title="A", date="2022-05-11 10:00:00 +0800", categories=["metro", "news"])
    write_post("b", title="B", date="2022-05-12 10:00:00 +0800", categories="metro",
               tags="东方网新闻")
    tree = html.fromstring(pages_of()["/"].body)
    rows = [(li.findtext("a"), li.findtext("span[@class='count']"))
            for li in tree.xpath("//section[@id='categories']//li")]
    assert rows == [("metro", "2 posts"), ("news", "1 post")]
    assert [li.findtext("a") for li in tree.xpath("//section[@id='tags']//li")] == ["东方网新闻"]
    assert tree.xpath("//section[@id='latest']//h3/a/text()") == ["B", "A"]
    assert tree.findtext(".//title") == "东方网 Test News · feeds"


def test_empty_site_still_has_an_index_and_opml(pages_of):
    pages = pages_of(lang="")
    assert sorted(pages) == ["/", "/feeds.opml"]
    tree = html.fromstring(pages["/"].body)
    assert tree.get("lang") == "en"
    assert "No categories yet." in pages["/"].body.decode()
    assert pages["/"].last_modified is None
    assert etree.fromstring(pages["/feeds.opml"].body).get("version") == "2.0"


def test_opml_is_valid_xml_even_with_control_characters(write_post, pages_of):
    write_post("a", title="A", categories=["bell\x07name"])
    opml = pages_of()["/feeds.opml"]
    root = etree.fromstring(opml.body)
    outlines = root.xpath("//outline[@xmlUrl]")
    assert [o.get("xmlUrl") for o in outlines] == [
        "https://news.example.com/feeds/all.rss",
        "https://news.example.com/feeds/categories/bell%07name.rss"]
    assert outlines[1].get("text") == "东方网 Test News · bellname"
    assert root.findtext("head/dateModified") == "Wed, 11 May 2022 17:16:04 +0800"


def test_unchanged_reload_renders_nothing(write_post, pipeline):
    write_post("a", title="A", categories="metro", tags="t1")
    write_post("b", title="B", date="2022-05-12 10:00:00 +0800", categories="news", tags="t2")
    site = pipeline()
    first = site.build()
    assert site.pages.rendered == 6   # index, OPML, 2 categories, 2 tags
    second = site.build()
    assert site.pages.rendered == 6
    assert all(second[p] is first[p] for p in first)


def test_a_new_post_rerenders_only_the_pages_it_shows_on(write_post, pipeline):
    write_post("a", title="A", categories="metro", tags="t1")
    write_post("b", title="B", date="2022-05-12 10:00:00 +0800", categories="news", tags="t2")
    site = pipeline()
    first = site.build()
    write_post("c", title="C", date="2022-05-13 10:00:00 +0800", categories="news")
    second = site.build()
    changed = sorted(p for p in first if second[p] is not first[p])
    assert changed == ["/", "/feeds.opml", page_path("category", "news", encoded=False)]
    assert site.pages.rendered == 6 + 3


def test_incremental_pages_have_the_bytes_of_a_fresh_build(write_post, pipeline):
    write_post("a", title="A", categories="metro", tags="t1")
    write_post("b", title="B", date="2022-05-12 10:00:00 +0800", categories="news", tags="t1")
    site = pipeline()
    site.build()
    write_post("b", title="B edited", date="2022-05-12 10:00:00 +0800", categories="metro")
    write_post("c", title="C", date="2022-05-13 10:00:00 +0800", categories="news")
    incremental = site.build()
    fresh = PageBuilder(site.settings).build(site.snapshot, site.feed_set)
    assert 0 < site.pages.rendered - 6 < len(fresh)   # some pages were reused, some rendered
    assert {p: d.body for p, d in incremental.items()} == {p: d.body for p, d in fresh.items()}
