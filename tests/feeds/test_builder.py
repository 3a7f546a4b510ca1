"""Feed builder tests: build feeds from small stores, then judge the bytes with real readers.

feedparser reads RSS and Atom (bozo must be 0); Atom is validated against RFC 4287's
RELAX NG grammar and Schematron rules; JSON Feed 1.1 (which feedparser 6.0 cannot read)
is checked field by field against the spec.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import gzip
import hashlib
import json
import re
import locale
import logging
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import feedparser
import hypothesis
import lxml.html
import pytest
from hypothesis import strategies as st
from lxml import etree, isoschematron

from feedsvc.config import load_settings
from feedsvc.feeds import FeedBuilder, FeedKey, FeedSet
from feedsvc.feeds.formats import render_atom
from feedsvc.feeds.ids import IdRegistry, assign_ids, tag_uri
from feedsvc.source import ParseOptions, Store
from feedsvc.source.posts import make_post

UTC = dt.timezone.utc
CST = dt.timezone(dt.timedelta(hours=8))
FIXED = dt.datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
SITE = "https://news.example.com"
ATOM = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
SCHEMAS = Path(__file__).resolve().parent.parent / "feedsvc" / "schemas"

BODY = (
    "<p>本市今日举行线上政策解读会，介绍企业复工复产的最新措施。会议吸引了数百家企业参加，"
    "反响良好。</p><p><strong>线上讲座</strong></p><p class=\"em_media\">（文章来源：示例网）</p>\n"
    "\n"
    "<http://source.example.org/news/1.html>\n"
    "\n"
    "[返回新闻](//news.example.com/category/dongfangwang.html)｜[返回首页](//news.example.com/)\n"
)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "_posts").mkdir()
    return tmp_path


@pytest.fixture
def write(site: Path):
    def write(name: str, front: str, body: str = BODY) -> Path:
        path = site / "_posts" / name
        path.write_text(f"---\n{front}\n---\n{body}", encoding="utf-8")
        return path
    return write


@pytest.fixture
def news(write) -> None:
    """Three due posts, one future post, one unpublished post."""
    write("2022-05-11-shi-gong-jing-lian.md",
          'title: "政策解读答疑、助力复工复产……线上搭平台"\n'
          "date: 2022-05-11 17:16:04 +0800\ncategories: dongfangwang\ntags: 东方网新闻")
    write("2022-05-10-metro-line.md",
          "title: Metro line 5 opens\ndate: 2022-05-10T08:00:00+08:00\n"
          "categories: [metro, dongfangwang]\ntags: [交通, 东方网新闻]\nauthor: 王记者\n"
          "last_modified_at: 2022-05-12 09:30:00 +0800")
    write("2022-05-09-weather.md",
          "title: 晴\ndate: '2022-05-09 07:30:00'\ncategories: weather\ntags: 天气\n"
          "image: /img/sun.jpg\ndescription: 今天天气晴朗。")
    write("2099-01-01-future.md", "title: Future\ndate: 2099-01-01 00:00:00 +0800\n"
          "categories: dongfangwang")
    write("2022-05-08-draft.md", "title: Draft\npublished: false\ncategories: drafts")


def settings_for(site: Path, **overrides):
    values = {"site_dir": str(site), "url": SITE, "timezone": "Asia/Shanghai",
              "title": "示例新闻", "description": "一座城市的新闻", "lang": "zh-CN",
              "author": "新闻部", **overrides}
    return load_settings(values, environ={})


def build(site: Path, **overrides) -> FeedSet:
    settings = settings_for(site, **overrides)
    store = Store.from_settings(settings, clock=lambda: FIXED)
    return FeedBuilder.from_settings(settings).build(store.reload(), store)


def parse(feeds: FeedSet, kind: str, name: str, fmt: str):
    body = feeds.feeds[FeedKey(kind, name, fmt)].body
    if fmt == "json":
        return json.loads(body)
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def xml(feeds: FeedSet, kind: str, name: str, fmt: str) -> etree._Element:
    # A strict parser: a feed that is not well-formed XML fails here.
    return etree.fromstring(feeds.feeds[FeedKey(kind, name, fmt)].body,
                            etree.XMLParser(resolve_entities=False))


def entry_links(feeds: FeedSet, kind: str, name: str) -> dict[str, list[str]]:
    """Return each format's entry links, in document order."""
    return {
        "rss": [e.link for e in parse(feeds, kind, name, "rss").entries],
        "atom": [e.link for e in parse(feeds, kind, name, "atom").entries],
        "json": [i["url"] for i in parse(feeds, kind, name, "json")["items"]],
    }


POST_1 = f"{SITE}/dongfangwang/2022/05/11/shi-gong-jing-lian.html"
POST_2 = f"{SITE}/metro/dongfangwang/2022/05/10/metro-line.html"
POST_3 = f"{SITE}/weather/2022/05/09/weather.html"


# --- which feeds, which entries --------------------------------------------------------------

def test_every_feed_exists_in_every_format(site, news):
    feeds = build(site)
    names = {(k.kind, k.name) for k in feeds.feeds}
    assert names == {("all", ""), ("category", "dongfangwang"), ("category", "metro"),
                     ("category", "weather"), ("tag", "东方网新闻"), ("tag", "交通"),
                     ("tag", "天气")}
    assert len(feeds.feeds) == 3 * len(names)
    for kind, name in names:
        for fmt in ("rss", "atom", "json"):
            parse(feeds, kind, name, fmt)   # bozo 0 for RSS and Atom


def test_entries_newest_first_with_excluded_posts_absent(site, news):
    feeds = build(site)
    expected = [POST_1, POST_2, POST_3]
    for fmt, links in entry_links(feeds, "all", "").items():
        assert links == expected, fmt
    assert [e.link for e in feeds.entries[("all", "")]] == expected
    for fmt, links in entry_links(feeds, "category", "dongfangwang").items():
        assert links == [POST_1, POST_2], fmt     # the future post is not due
    for fmt, links in entry_links(feeds, "tag", "天气").items():
        assert links == [POST_3], fmt
    everything = b"".join(d.body for d in feeds.feeds.values())
    assert b"Future" not in everything and b"Draft" not in everything
    assert ("category", "drafts") not in feeds.entries


def test_same_instant_ties_are_broken_by_path_and_never_flip(site, write):
    for slug in ("b", "a", "c"):
        write(f"2022-05-11-{slug}.md", f"title: {slug}\ndate: 2022-05-11 17:16:04 +0800")
    first = build(site)
    again = build(site)
    expected = [f"{SITE}/2022/05/11/{slug}.html" for slug in ("c", "b", "a")]
    assert entry_links(first, "all", "") == {fmt: expected for fmt in ("rss", "atom", "json")}
    key = FeedKey("all", "", "rss")
    assert first.feeds[key].body == again.feeds[key].body


def test_feed_limit_keeps_the_newest(site, write):
    for day in range(1, 6):
        write(f"2022-05-0{day}-p{day}.md", f"title: P{day}\ncategories: c")
    feeds = build(site, feed_limit=3)
    for kind, name in (("all", ""), ("category", "c")):
        assert [e.title for e in parse(feeds, kind, name, "atom").entries] == ["P5", "P4", "P3"]
        assert len(parse(feeds, kind, name, "json")["items"]) == 3


# --- instants --------------------------------------------------------------------------------

def test_instants_are_exact_in_the_site_zone(site, news):
    feeds = build(site)
    rss = parse(feeds, "all", "", "rss")
    atom = parse(feeds, "all", "", "atom")
    jf = parse(feeds, "all", "", "json")
    published = [dt.datetime(2022, 5, 11, 17, 16, 4, tzinfo=CST),
                 dt.datetime(2022, 5, 10, 8, 0, 0, tzinfo=CST),
                 dt.datetime(2022, 5, 9, 7, 30, 0, tzinfo=CST)]   # quoted zoneless: site zone
    updated = [published[0], dt.datetime(2022, 5, 12, 9, 30, 0, tzinfo=CST), published[2]]
    for i, (pub, upd) in enumerate(zip(published, updated)):
        rss_date = email.utils.parsedate_to_datetime(rss.entries[i].published)
        assert rss_date == pub and rss_date.utcoffset() == dt.timedelta(hours=8)
        assert rss.entries[i].published_parsed[:6] == pub.astimezone(UTC).timetuple()[:6]
        for value, expected in ((atom.entries[i].published, pub), (atom.entries[i].updated, upd),
                                (jf["items"][i]["date_published"], pub),
                                (jf["items"][i]["date_modified"], upd)):
            parsed = dt.datetime.fromisoformat(value)
            assert parsed == expected and parsed.utcoffset() == dt.timedelta(hours=8)
        assert atom.entries[i].updated_parsed[:6] == upd.astimezone(UTC).timetuple()[:6]
    assert rss.entries[0].published == "Wed, 11 May 2022 17:16:04 +0800"
    assert atom.entries[0].published == "2022-05-11T17:16:04+08:00"
    assert jf["items"][0]["date_published"] == "2022-05-11T17:16:04+08:00"


def test_feed_updated_is_the_newest_entry_update_never_the_build_time(site, news):
    feeds = build(site)
    newest = dt.datetime(2022, 5, 12, 9, 30, 0, tzinfo=CST)   # post 2's last_modified_at
    assert feeds.updated[("all", "")] == newest
    assert feeds.feeds[FeedKey("all", "", "atom")].last_modified == newest
    rss = xml(feeds, "all", "", "rss").find("channel")
    assert rss.findtext("lastBuildDate") == "Thu, 12 May 2022 09:30:00 +0800"
    assert rss.findtext("pubDate") == "Thu, 12 May 2022 09:30:00 +0800"
    assert xml(feeds, "all", "", "atom").findtext(ATOM + "updated") == "2022-05-12T09:30:00+08:00"
    assert feeds.updated[("tag", "天气")] == dt.datetime(2022, 5, 9, 7, 30, tzinfo=CST)


def test_building_never_touches_the_process_locale(site, news, monkeypatch):
    # feedgen's formatRFC2822 calls locale.setlocale, which is not thread-safe.
    def refuse(*args):
        raise AssertionError(f"locale.setlocale{args} called while building feeds")
    monkeypatch.setattr(locale, "setlocale", refuse)
    feeds = build(site)
    assert feeds.feeds[FeedKey("all", "", "rss")].body


# --- validity --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def atom_schema():
    relax_ng = etree.RelaxNG(etree.parse(str(SCHEMAS / "atom.rng")))
    schematron = isoschematron.Schematron(etree.parse(str(SCHEMAS / "atom.sch")))
    def validate(root: etree._Element) -> None:
        assert relax_ng.validate(root), relax_ng.error_log
        assert schematron.validate(root), schematron.error_log
    return validate


def test_atom_is_valid_against_rfc4287_schema(site, news, atom_schema):
    feeds = build(site)
    for key in feeds.feeds:
        if key.fmt == "atom":
            atom_schema(xml(feeds, key.kind, key.name, "atom"))


def test_atom_schema_rejects_what_rfc4287_forbids(site, news, atom_schema):
    feeds = build(site)
    root = xml(feeds, "all", "", "atom")
    root.find(ATOM + "updated").text = "Wed, 11 May 2022 17:16:04 +0800"
    with pytest.raises(AssertionError):
        atom_schema(root)
    root = xml(feeds, "all", "", "atom")
    for author in root.iter(ATOM + "author"):
        author.getparent().remove(author)
    with pytest.raises(AssertionError):
        atom_schema(root)


def test_atom_entry_links_carry_rel_and_type(site, news):
    # feedgen 1.0.0 drops the attributes of entry links (its issue #135).
    root = xml(build(site), "all", "", "atom")
    links = [entry.find(ATOM + "link").attrib for entry in root.iter(ATOM + "entry")]
    assert [dict(link) for link in links] == [
        {"href": url, "rel": "alternate", "type": "text/html"} for url in (POST_1, POST_2, POST_3)]


def test_rss_has_every_required_element(site, news):
    root = xml(build(site), "category", "dongfangwang", "rss")
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel.findtext("title") == "示例新闻 · dongfangwang"
    assert channel.findtext("link") == f"{SITE}/category/dongfangwang.html"
    assert channel.findtext("description") == "一座城市的新闻"
    assert channel.find("generator") is None and channel.find("docs") is None
    for item in channel.findall("item"):
        assert item.findtext("title") and item.findtext("description")
        assert item.find("guid").get("isPermaLink") == "false"


def test_json_feed_has_every_field_json_feed_1_1_requires(site, news):
    feed = parse(build(site), "tag", "东方网新闻", "json")
    assert list(feed)[:4] == ["version", "title", "home_page_url", "feed_url"]
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "示例新闻 · 东方网新闻"
    encoded = "%E4%B8%9C%E6%96%B9%E7%BD%91%E6%96%B0%E9%97%BB"   # 东方网新闻
    assert feed["home_page_url"] == f"{SITE}/tag/{encoded}.html"
    assert feed["feed_url"] == f"{SITE}/feeds/tags/{encoded}.json"
    assert feed["language"] == "zh-CN" and feed["authors"] == [{"name": "新闻部"}]
    assert isinstance(feed["items"], list) and len(feed["items"]) == 2
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert isinstance(item.get("content_html") or item.get("content_text"), str)
        assert item["url"].startswith(SITE + "/")
    assert feed["items"][1]["authors"] == [{"name": "王记者"}]


def test_json_is_utf8_without_escapes(site, news):
    body = build(site).feeds[FeedKey("tag", "东方网新闻", "json")].body
    assert "东方网新闻".encode() in body and b"\\u" not in body


# --- metadata --------------------------------------------------------------------------------

def test_feed_metadata_and_links(site, news):
    feeds = build(site, public_url="https://feeds.example.net/svc")
    atom = parse(feeds, "category", "weather", "atom").feed
    assert atom.title == "示例新闻 · weather"
    assert atom.subtitle == "一座城市的新闻"
    assert atom.language == "zh-CN"
    assert atom.author == "新闻部"
    links = {link.rel: link.href for link in atom.links}
    assert links == {"self": "https://feeds.example.net/svc/feeds/categories/weather.atom",
                     "alternate": f"{SITE}/category/weather.html"}
    rss = xml(feeds, "all", "", "rss").find("channel")
    assert rss.findtext("link") == f"{SITE}/"
    assert rss.find("{http://www.w3.org/2005/Atom}link").get("href") == \
        "https://feeds.example.net/svc/feeds/all.rss"
    assert rss.findtext("language") == "zh-CN"
    assert feeds.titles[("tag", "交通")] == "示例新闻 · 交通"


def test_empty_description_falls_back_to_title_and_alternate_pattern_is_configurable(site, news):
    feeds = build(site, description="", tag_url="/tags/{name}/")
    channel = xml(feeds, "tag", "天气", "rss").find("channel")
    assert channel.findtext("description") == "示例新闻 · 天气"
    assert channel.findtext("link") == f"{SITE}/tags/%E5%A4%A9%E6%B0%94/"


def test_categories_and_tags_are_told_apart(site, news):
    feeds = build(site)
    rss = parse(feeds, "all", "", "rss").entries[1]
    assert [(t.term, t.scheme) for t in rss.tags] == [
        ("metro", "category"), ("dongfangwang", "category"), ("交通", "tag"), ("东方网新闻", "tag")]
    atom = parse(feeds, "all", "", "atom").entries[1]
    assert [(t.term, t.scheme) for t in atom.tags] == [
        ("metro", f"{SITE}/categories/"), ("dongfangwang", f"{SITE}/categories/"),
        ("交通", f"{SITE}/tags/"), ("东方网新闻", f"{SITE}/tags/")]
    item = parse(feeds, "all", "", "json")["items"][1]
    assert item["tags"] == ["metro", "dongfangwang", "交通", "东方网新闻"]
    assert item["_feedsvc"]["categories"] == ["metro", "dongfangwang"]
    assert item["_feedsvc"]["tags"] == ["交通", "东方网新闻"]


def test_image_is_a_media_thumbnail_and_json_image(site, news):
    feeds = build(site)
    image = f"{SITE}/img/sun.jpg"
    for fmt in ("rss", "atom"):
        entry = parse(feeds, "tag", "天气", fmt).entries[0]
        assert entry.media_thumbnail == [{"url": image}], fmt
    assert parse(feeds, "tag", "天气", "json")["items"][0]["image"] == image
    assert "image" not in parse(feeds, "category", "metro", "json")["items"][0]


def test_authors_per_entry_with_site_author_as_default(site, news):
    feeds = build(site)
    rss = parse(feeds, "all", "", "rss")
    atom = parse(feeds, "all", "", "atom")
    assert [e.author for e in rss.entries] == ["新闻部", "王记者", "新闻部"]
    assert [e.author for e in atom.entries] == ["新闻部", "王记者", "新闻部"]


def test_empty_store_gives_a_valid_empty_global_feed(site, atom_schema):
    feeds = build(site)
    assert set(feeds.feeds) == {FeedKey("all", "", fmt) for fmt in ("rss", "atom", "json")}
    assert feeds.updated[("all", "")] is None
    assert feeds.feeds[FeedKey("all", "", "rss")].last_modified is None
    root = xml(feeds, "all", "", "atom")
    atom_schema(root)
    assert root.findtext(ATOM + "updated") == "1970-01-01T08:00:00+08:00"
    assert xml(feeds, "all", "", "rss").find("channel/lastBuildDate") is None
    assert parse(feeds, "all", "", "rss").entries == []
    assert parse(feeds, "all", "", "json")["items"] == []


# --- content ---------------------------------------------------------------------------------

def test_content_and_summary_in_every_format(site, news):
    feeds = build(site)
    # jekyll-feed's summary: the excerpt (all before the first blank line), its HTML blocks
    # apart as kramdown writes them, whole in Atom; RSS and JSON shorten it (summary_length).
    summary = ("本市今日举行线上政策解读会，介绍企业复工复产的最新措施。会议吸引了数百家企业参加，"
               "反响良好。 线上讲座 （文章来源：示例网）")
    rss = parse(feeds, "all", "", "rss").entries[0]
    atom = parse(feeds, "all", "", "atom").entries[0]
    item = parse(feeds, "all", "", "json")["items"][0]
    assert atom.summary == summary
    assert rss.summary == item["summary"] == summary   # within summary_length (140)
    assert parse(build(site, summary_length=20), "all", "", "rss").entries[0].summary == \
        "本市今日举行线上政策解读会…"
    for html in (rss.content[0].value, atom.content[0].value, item["content_html"]):
        assert html.startswith("<p>本市今日举行线上政策解读会")
        assert '<a href="http://source.example.org/news/1.html">' in html
        assert '<a href="https://news.example.com/category/dongfangwang.html">' in html
        assert 'class="em_media"' not in html
    assert atom.content[0].type == "text/html"
    assert parse(feeds, "tag", "天气", "atom").entries[0].summary == "今天天气晴朗。"


@pytest.mark.parametrize("site_wide, per_post, full", [
    (False, "", True), (True, "", False), (True, "excerpt_only: false", True),
    (False, "excerpt_only: true", False)])
def test_excerpt_only_site_wide_and_per_post(site, write, site_wide, per_post, full):
    write("2022-05-11-a.md", f"title: A\n{per_post}")
    feeds = build(site, excerpt_only=site_wide)
    rss = xml(feeds, "all", "", "rss").find("channel/item")
    atom = xml(feeds, "all", "", "atom").find(ATOM + "entry")
    item = parse(feeds, "all", "", "json")["items"][0]
    content = "{http://purl.org/rss/1.0/modules/content/}encoded"
    assert (rss.find(content) is not None) is full
    assert (atom.find(ATOM + "content") is not None) is full
    assert ("content_html" in item) is full
    assert rss.findtext("description").startswith("本市今日举行")
    assert atom.findtext(ATOM + "summary").startswith("本市今日举行")
    if not full:
        assert item["content_text"] == item["summary"]
        assert feeds.entries[("all", "")][0].content_html == ""


HOSTILE_BODY = (
    "<p>Intro\x00 with\x0b controls\x1f and ]]> end &amp; more</p>\n"
    "<script>alert('x')</script><style>p{}</style><iframe src='https://evil.example'>f</iframe>\n"
    "<p><img src=\"pic.png\" onerror=\"alert(1)\" srcset=\"a.png 1x, //cdn.example.com/b.png 2x\">"
    "<a href=\"javascript:alert(1)\" onclick=\"x()\">js</a>"
    "<a href=\"../up.html\">up</a><a href=\"//other.example.org/x\">proto</a>"
    "<video poster=\"/p.jpg\" src=\"v.mp4\"></video></p>\n"
)


def test_hostile_content_is_well_formed_clean_and_absolute(site, write, atom_schema):
    write("2022-05-11-evil.md",
          "title: \"Tom & Jerry <b>\\\"quoted\\\"</b> 'single' \\x01\"\n"
          "description: \"sum\\x02mary ]]> & <i>\"\ncategories: \"ca\\x03t\"\n"
          "author: \"Ann \\x04<a>\"",
          HOSTILE_BODY)
    feeds = build(site)
    base = f"{SITE}/ca%03t/2022/05/11/"
    for key, document in feeds.feeds.items():
        assert b"<script" not in document.body and b"alert" not in document.body
        if key.fmt != "json":   # JSON may carry "]]>" as text; XML must not end a CDATA
            assert b"]]>" not in document.body
            xml(feeds, key.kind, key.name, key.fmt)       # well-formed
            parse(feeds, key.kind, key.name, key.fmt)     # bozo 0
    atom_schema(xml(feeds, "all", "", "atom"))
    entry = feeds.entries[("all", "")][0]
    # jekyll-feed's title: smartify | strip_html | normalize_whitespace
    assert entry.title == "Tom & Jerry \u201cquoted\u201d \u2018single\u2019"
    assert parse(feeds, "all", "", "atom").entries[0].title == entry.title
    assert xml(feeds, "all", "", "rss").findtext("channel/item/title") == entry.title
    assert parse(feeds, "all", "", "json")["items"][0]["title"] == entry.title
    assert entry.summary == "summary ]]> &"
    assert entry.author == "Ann <a>"
    # The raw content of each format (feedparser would sanitise it once more).
    rss_content = xml(feeds, "all", "", "rss").findtext(
        "channel/item/{http://purl.org/rss/1.0/modules/content/}encoded")
    atom_content = xml(feeds, "all", "", "atom").findtext(f"{ATOM}entry/{ATOM}content")
    json_content = parse(feeds, "all", "", "json")["items"][0]["content_html"]
    assert rss_content == atom_content == json_content == entry.content_html
    for html in (entry.content_html, parse(feeds, "all", "", "atom").entries[0].content[0].value):
        assert "alert" not in html and "onerror" not in html and "onclick" not in html
        assert "javascript" not in html and "<iframe" not in html and "p{}" not in html
        assert "Intro with controls and ]]&gt; end &amp; more" in html
    assert _urls(entry.content_html) == [
        base + "pic.png", base + "a.png", "https://cdn.example.com/b.png",
        f"{SITE}/ca%03t/2022/05/up.html", "https://other.example.org/x",
        base + "v.mp4", f"{SITE}/p.jpg"]


def _urls(html: str) -> list[str]:
    urls = []
    for element in lxml.html.fragment_fromstring(html, create_parent="div").iter():
        for name in ("src", "srcset", "href", "poster"):
            value = element.get(name)
            if name == "srcset" and value:
                urls += [candidate.split()[0] for candidate in value.split(",")]
            elif value is not None:
                urls.append(value)
    return urls


# Any text at all, including what XML 1.0 forbids, lone surrogates and markup.
_any_text = st.text(st.characters(codec=None, blacklist_categories=()), max_size=40)


@hypothesis.settings(max_examples=60, deadline=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(title=_any_text, body=_any_text, name=_any_text.filter(bool),
                  author=_any_text, summary=_any_text, image=_any_text, post_id=_any_text)
def test_any_text_in_any_field_gives_well_formed_feeds(site, write, title, body, name, author,
                                                       summary, image, post_id):
    write("2022-05-11-a.md", "title: A\ncategories: c\ntags: t")
    settings = settings_for(site)
    real = Store.from_settings(settings, clock=lambda: FIXED).reload()
    post = dataclasses.replace(real.posts[0], title=title, categories=(name,), tags=(name,),
                               author=author, summary=summary, image=image, id=post_id)
    snapshot = dataclasses.replace(
        real, posts=(post,), categories={name: (post,)}, tags={name: (post,)})
    bodies = types.SimpleNamespace(body_of=lambda shown: body)
    feeds = FeedBuilder.from_settings(settings).build(snapshot, bodies)
    # A name with a lone surrogate cannot be UTF-8, so no URL names its feeds.
    assert len(feeds.feeds) == (9 if name == name.encode("utf-8", "replace").decode() else 3)
    for key, document in feeds.feeds.items():
        if key.fmt == "json":
            json.loads(document.body.decode("utf-8"))
        else:
            xml(feeds, key.kind, key.name, key.fmt)


# --- ids -------------------------------------------------------------------------------------

def test_default_ids_are_tag_uris_that_survive_scheme_and_path_changes(site, news):
    expected = ["tag:news.example.com,2022-05-11:_posts/2022-05-11-shi-gong-jing-lian",
                "tag:news.example.com,2022-05-10:_posts/2022-05-10-metro-line",
                "tag:news.example.com,2022-05-09:_posts/2022-05-09-weather"]
    feeds = build(site)
    moved = build(site, url="http://news.example.com", baseurl="/blog")
    for result in (feeds, moved):
        assert [e.id for e in parse(result, "all", "", "atom").entries] == expected
        assert [e.id for e in parse(result, "all", "", "rss").entries] == expected
        assert [i["id"] for i in parse(result, "all", "", "json")["items"]] == expected
    assert parse(moved, "all", "", "atom").entries[0].link == \
        "http://news.example.com/blog/dongfangwang/2022/05/11/shi-gong-jing-lian.html"


def test_front_matter_id_wins_and_rss_guid_is_not_a_permalink(site, write):
    write("2022-05-11-a.md", "title: A\nid: urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a")
    feeds = build(site)
    guid = xml(feeds, "all", "", "rss").find("channel/item/guid")
    assert guid.text == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert guid.get("isPermaLink") == "false"
    assert parse(feeds, "all", "", "atom").entries[0].id == guid.text


def test_jekyll_feed_id_style_is_the_url_without_html(site, news):
    feeds = build(site, id_style="jekyll-feed")
    assert [e.id for e in parse(feeds, "all", "", "atom").entries] == [
        POST_1.removesuffix(".html"), POST_2.removesuffix(".html"), POST_3.removesuffix(".html")]
    pretty = build(site, id_style="jekyll-feed", permalink="pretty")
    assert parse(pretty, "all", "", "atom").entries[0].id == POST_1.removesuffix(".html")


def test_duplicate_ids_are_reported_and_resolved_oldest_first(site, write, caplog):
    write("2022-05-09-old.md", "title: Old\nid: same")
    write("2022-05-10-mid.md", "title: Mid\nid: same")
    write("2022-05-11-new.md", "title: New\nid: same")
    write("2022-05-12-clash.md", "title: Clash\nid: 'same#2'")
    with caplog.at_level(logging.WARNING, logger="feedsvc.feeds"):
        feeds = build(site)
    ids = {e.title: e.id for e in parse(feeds, "all", "", "atom").entries}
    assert ids == {"Clash": "same#2", "New": "same#4", "Mid": "same#3", "Old": "same"}
    assert feeds.duplicate_ids == ("same",)
    assert "same" in caplog.text


def test_assign_ids_gives_the_oldest_post_the_plain_id():
    posts = [types.SimpleNamespace(path=p) for p in ("c", "b", "a")]   # newest first
    ids, duplicates = assign_ids(posts, {"a": "x", "b": "x", "c": "y"})
    assert ids == {"a": "x", "b": "x#2", "c": "y"} and duplicates == ("x",)


@dataclasses.dataclass(frozen=True)
class _Version:
    """What the id registry reads of a post: path, epoch, digest (and here the id it asks)."""

    path: str
    epoch: int
    digest: str
    id: str


# Ids that collide, that look like another id's suffix (a#2, a#2#2), and near misses.
_ASKED_IDS = st.sampled_from(["a", "a#2", "a#3", "a#2#2", "b", "b#2", "#2", "2", "a#", "a#x"])
_OPERATIONS = st.lists(st.tuples(
    st.sampled_from(["put", "put", "touch", "reread", "delete"]),
    st.sampled_from([f"_posts/p{i}.md" for i in range(8)]),
    st.integers(0, 3),      # few epochs: many ties, broken by path
    _ASKED_IDS), max_size=40)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(operations=_OPERATIONS)
def test_incremental_ids_always_equal_assign_ids_from_scratch(operations):
    registry = IdRegistry(lambda post: post.id)
    store: dict[str, _Version] = {}
    for number, (operation, path, epoch, asked) in enumerate(operations):
        old = store.get(path)
        if operation == "delete":
            store.pop(path, None)
        elif operation == "put":            # add, or edit date and id
            store[path] = _Version(path, epoch, f"d{number}", asked)
        elif operation == "touch" and old:  # edit the body only: same id and date
            store[path] = dataclasses.replace(old, digest=f"d{number}")
        elif operation == "reread" and old:  # the same file read again: a new object
            store[path] = dataclasses.replace(old)
        posts = sorted(store.values(), key=lambda p: (p.epoch, p.path), reverse=True)
        expected = assign_ids(posts, {post.path: post.id for post in posts})
        assert (dict(registry.update(posts)), registry.duplicates) == expected


@pytest.mark.parametrize("before, after", [
    ({"a": ("x", 1), "b": ("x", 2)}, {"a": ("x", 1), "b": ("x", 2), "c": ("x#2", 0)}),
    ({"a": ("x", 1), "b": ("x", 2), "c": ("x#2", 0)}, {"a": ("x", 1), "b": ("x", 2)}),
    ({"a": ("x", 1), "b": ("x", 2), "c": ("x", 3)}, {"a": ("x", 4), "b": ("x", 2), "c": ("x", 3)}),
    ({"a": ("x", 1), "b": ("x", 2)}, {"a": ("y", 1), "b": ("x", 2)}),
    ({"a": ("x", 1), "b": ("x", 2)}, {"b": ("x", 2)}),
])
def test_incremental_ids_follow_edits_of_colliding_posts(before, after):
    registry = IdRegistry(lambda post: post.id)

    def posts(table):
        versions = [_Version(path, epoch, f"{asked}{epoch}", asked)
                    for path, (asked, epoch) in table.items()]
        return sorted(versions, key=lambda p: (p.epoch, p.path), reverse=True)

    registry.update(posts(before))
    expected = assign_ids(posts(after), {p.path: p.id for p in posts(after)})
    assert (dict(registry.update(posts(after))), registry.duplicates) == expected


def test_reloads_with_colliding_ids_give_the_bytes_of_a_fresh_build(site, write):
    settings = settings_for(site)
    store = Store.from_settings(settings, clock=lambda: FIXED)
    builder = FeedBuilder.from_settings(settings)
    write("2022-05-09-old.md", "title: Old\nid: same\ncategories: c")
    write("2022-05-10-mid.md", "title: Mid\nid: same\ntags: t")
    edits = [
        lambda: write("2022-05-12-clash.md", "title: Clash\nid: 'same#2'"),
        lambda: write("2022-05-08-older.md", "title: Older\nid: same\ntags: t"),
        lambda: write("2022-05-10-mid.md", "title: Mid\nid: other\ntags: t"),
        lambda: (site / "_posts" / "2022-05-12-clash.md").unlink(),
        lambda: write("2022-05-10-mid.md", "title: Mid again\nid: same\ntags: t"),
        lambda: (site / "_posts" / "2022-05-08-older.md").unlink(),
    ]
    builder.build(store.reload(), store)
    for edit in edits:
        edit()
        snapshot = store.reload()
        incremental = builder.build(snapshot, store)
        fresh = FeedBuilder.from_settings(settings).build(snapshot, store)
        assert {k: d.body for k, d in incremental.feeds.items()} == \
            {k: d.body for k, d in fresh.feeds.items()}
        assert incremental.duplicate_ids == fresh.duplicate_ids


def test_tag_uri_date_is_the_file_name_date_not_the_post_date(site, write):
    write("2022-05-11-a.md", "title: A\ndate: 2022-05-11 23:30:00 -0100")
    settings = settings_for(site)
    post = Store.from_settings(settings, clock=lambda: FIXED).reload().posts[0]
    assert post.date.astimezone(CST).date() == dt.date(2022, 5, 12)
    assert tag_uri(post, "news.example.com") == \
        "tag:news.example.com,2022-05-11:_posts/2022-05-11-a"



@pytest.mark.parametrize("path, expected", [
    ("_posts/2022-05-11-a.md", "2022-05-11:_posts/2022-05-11-a"),
    ("_posts/2022-5-1-a b.markdown", "2022-05-01:_posts/2022-5-1-a%20b"),
    ("news/_posts/x/2022-05-01-东方.html",
     "2022-05-01:news/_posts/x/2022-05-01-%E4%B8%9C%E6%96%B9"),
    ("_posts/2022-05-11-a%20b~c.md", "2022-05-11:_posts/2022-05-11-a%2520b~c"),
    ("_posts/2022-05-11-a+b=c?.md", "2022-05-11:_posts/2022-05-11-a%2Bb%3Dc%3F"),
    ("_posts/0999-12-31-old.md", "0999-12-31:_posts/0999-12-31-old"),
    ("_posts/2022-1-09-x.md", "2022-01-09:_posts/2022-1-09-x"),
])
def test_tag_uri_date_and_path_are_normalised(site, path, expected):
    post = make_post(path, {"title": "A"}, ParseOptions.from_settings(settings_for(site)), "d")
    assert tag_uri(post, "news.example.com") == f"tag:news.example.com,{expected}"


# --- determinism and incremental builds ------------------------------------------------------

SCRIPT = textwrap.dedent("""
    import datetime as dt, hashlib, json, sys
    from feedsvc.config import load_settings
    from feedsvc.feeds import FeedBuilder
    from feedsvc.source import Store
    settings = load_settings({"site_dir": sys.argv[1], "url": "https://news.example.com",
                              "timezone": "Asia/Shanghai", "title": "T", "lang": "zh-CN"},
                             environ={})
    clock = lambda: dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    store = Store.from_settings(settings, clock=clock)
    feeds = FeedBuilder.from_settings(settings).build(store.reload(), store)
    print(json.dumps([[k.kind, k.name, k.fmt, hashlib.sha256(d.body).hexdigest(),
                       hashlib.sha256(d.gzip).hexdigest()] for k, d in feeds.feeds.items()]))
""")


def test_same_store_gives_identical_bytes_in_separate_processes(site, news):
    outputs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", SCRIPT, str(site)], env=env,
                                capture_output=True, text=True, check=True, timeout=120)
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 21
    here = build(site, title="T", description="", author="")
    assert [hashlib.sha256(d.body).hexdigest() for d in here.feeds.values()] == \
        [row[3] for row in outputs[0]]


def test_gzip_copy_is_deterministic_at_zlibs_default_level(site, news):
    for document in build(site).feeds.values():
        assert gzip.decompress(document.gzip) == document.body
        assert document.gzip == gzip.compress(document.body, compresslevel=6, mtime=0)
        assert document.gzip_etag == document.etag[:-1] + '-gz"'


def test_documents_made_in_a_parallel_batch_equal_one_by_one(monkeypatch):
    import threading

    from feedsvc import documents
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
    from feedsvc.site import Site
    empty = tmp_path / "empty.yaml"   # not config/feedsvc.yaml: only the site's own config
    empty.write_text("{}\n", encoding="utf-8")
    settings = load_settings({"site_dir": str(site_dir), "timezone": "Asia/Shanghai"},
                             config_file=empty, environ={})
    site = Site(settings, clock=lambda: FIXED)
    site.reload()
    rows = [[path, hashlib.sha256(d.body).hexdigest(), d.etag, d.last_modified_http]
            for path, d in sorted(site.current.documents.items())
            if not d.content_type.startswith(("text/html", "text/x-opml"))]
    return len(rows), hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def test_feeds_of_the_sample_and_a_generated_site_keep_their_bytes(tmp_path):
    from feedsvc.config import SAMPLE_SITE
    generated = tmp_path / "generated"
    maker = Path(__file__).resolve().parent.parent / "bench" / "make_store.py"
    subprocess.run([sys.executable, str(maker), "300", str(generated)], check=True,
                   capture_output=True, timeout=120)
    assert published_feeds(SAMPLE_SITE, tmp_path) == PUBLISHED_FEEDS["sample"]
    assert published_feeds(generated, tmp_path) == PUBLISHED_FEEDS["generated-300"]


def test_unchanged_snapshot_builds_nothing_and_returns_the_same_documents(site, news):
    settings = settings_for(site)
    store = Store.from_settings(settings, clock=lambda: FIXED)
    builder = FeedBuilder.from_settings(settings)
    first = builder.build(store.reload(), store)
    assert builder.builds == 28   # 7 feeds x 3 formats, and jekyll-feed's path of each
    second = builder.build(store.reload(), store)
    assert builder.builds == 28
    for key, document in first.feeds.items():
        assert second.feeds[key] is document


def test_changing_one_post_rebuilds_only_the_feeds_that_show_it(site, news, write):
    settings = settings_for(site)
    store = Store.from_settings(settings, clock=lambda: FIXED)
    builder = FeedBuilder.from_settings(settings)
    first = builder.build(store.reload(), store)
    write("2022-05-09-weather.md",
          "title: 雨\ndate: 2022-05-09 07:30:00\ncategories: weather\ntags: 天气\n"
          "image: /img/rain.jpg")
    second = builder.build(store.reload(), store)
    changed = {(k.kind, k.name) for k in second.feeds if second.feeds[k] is not first.feeds[k]}
    assert changed == {("all", ""), ("category", "weather"), ("tag", "天气")}
    assert builder.builds == 28 + 9 + 3   # and their three jekyll-feed paths
    assert parse(second, "tag", "天气", "atom").entries[0].title == "雨"


def test_each_post_version_is_rendered_once(site, news, monkeypatch):
    import feedsvc.feeds.entries as feeds_module
    calls = []
    original = feeds_module.sanitize
    monkeypatch.setattr(feeds_module, "sanitize",
                        lambda *args: calls.append(args) or original(*args))
    build(site)
    assert len(calls) == 3   # three due posts, each in several feeds


def test_a_post_whose_id_moves_is_not_rendered_again(site, write, monkeypatch):
    import feedsvc.feeds.entries as feeds_module
    calls = []
    original = feeds_module.sanitize
    monkeypatch.setattr(feeds_module, "sanitize",
                        lambda *args: calls.append(args) or original(*args))
    settings = settings_for(site)
    store = Store.from_settings(settings, clock=lambda: FIXED)
    builder = FeedBuilder.from_settings(settings)
    write("2022-05-10-mid.md", "title: Mid\nid: same")
    builder.build(store.reload(), store)
    write("2022-05-09-old.md", "title: Old\nid: same")   # older: takes the plain id
    feeds = builder.build(store.reload(), store)
    assert [e.id for e in parse(feeds, "all", "", "atom").entries] == ["same#2", "same"]
    assert len(calls) == 2   # Mid once, Old once: Mid's new id needed no rendering
    fresh = FeedBuilder.from_settings(settings).build(store.reload(), store)
    assert {k: d.body for k, d in feeds.feeds.items()} == \
        {k: d.body for k, d in fresh.feeds.items()}


def test_feeds_and_entries_no_longer_shown_are_dropped(site, news, write):
    settings = settings_for(site)
    store = Store.from_settings(settings, clock=lambda: FIXED)
    builder = FeedBuilder.from_settings(settings)
    builder.build(store.reload(), store)
    (site / "_posts" / "2022-05-09-weather.md").unlink()
    feeds = builder.build(store.reload(), store)
    assert ("category", "weather") not in feeds.entries
    assert len(builder._feeds) == len(feeds.entries) == 5
    assert len(builder._entries) == 2


# --- W3C feedvalidator rules -------------------------------------------------------------------

def test_rss_categories_and_creators_carry_no_markup_the_validator_calls_html(site, write):
    # feedvalidator's `nonhtml` text (RSS <category>, <dc:creator>) warns "should not contain
    # HTML" when the decoded text holds an HTML element's tag (ContainsHTML).
    write("2022-11-06-m.md", 'title: M\ncategories: ["<b>x</b>"]\ntags: ["<i>y</i>", "a&b"]\n'
          'author: "<b>Eve</b> & Co"')
    feeds = build(site)
    creator = "{http://purl.org/dc/elements/1.1/}creator"
    for key in feeds.feeds:
        if key.fmt != "rss":
            continue
        root = xml(feeds, key.kind, key.name, "rss")
        texts = [e.text for e in root.iter("category", creator)]
        assert texts and not [t for t in texts if re.search(r"</?[A-Za-z][^<>]*>", t)], key
    item = xml(feeds, "all", "", "rss").find("channel/item")
    assert [c.text for c in item.iter("category")] == ["x", "y", "a&b"]
    assert item.findtext(creator) == "Eve & Co"
    # Atom and JSON keep the names as written: they name the feeds
    assert [t.term for t in parse(feeds, "all", "", "atom").entries[0].tags] == \
        ["<b>x</b>", "<i>y</i>", "a&b"]


def test_an_empty_title_is_written_empty_in_atom_and_left_out_of_rss(site, write, atom_schema):
    write("2022-09-10-empty.md", 'title: ""')   # jekyll-feed: <title type="html"></title>
    feeds = build(site)
    atom = xml(feeds, "all", "", "atom")
    atom_schema(atom)
    assert atom.find(ATOM + "entry").findtext(ATOM + "title") == ""
    item = xml(feeds, "all", "", "rss").find("channel/item")
    assert item.find("title") is None and item.findtext("description")


def test_jekyll_feed_documents_spliced_from_feedsvc_s_own_equal_a_full_render(site, write):
    (site / "_config.yml").write_text("feed:\n  categories: [c, empty]\n  tags: true\n")
    write("2022-05-11-a.md", "title: A\ncategories: c\ntags: [t1, 东方]\nlang: en")
    write("2022-05-12-b.md", "title: B\ncategories: c\ntags: t1\nimage: /i.png")
    settings = settings_for(site)
    store = Store.from_settings(settings, clock=lambda: FIXED)
    builder = FeedBuilder.from_settings(settings)
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
