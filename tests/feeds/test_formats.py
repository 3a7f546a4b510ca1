"""The three formats, judged by real readers: instants, validity, metadata, W3C's rules.

feedparser reads RSS and Atom (bozo must be 0); Atom is validated against RFC 4287's RELAX NG
grammar and Schematron rules; JSON Feed 1.1 (which feedparser 6.0 cannot read) is checked
field by field against the spec. The site is tests/feeds/conftest.py's news site.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import locale
import re

import pytest

from feedsvc.feeds import FeedKey
from tests.feeds.news import ATOM, CST, DC_CREATOR, POST_1, POST_2, POST_3, SITE, UTC, parse, xml


# --- instants --------------------------------------------------------------------------------

def test_instants_are_exact_in_the_site_zone(news, build):
    feeds = build()
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


def test_feed_updated_is_the_newest_entry_update_never_the_build_time(news, build):
    feeds = build()
    newest = dt.datetime(2022, 5, 12, 9, 30, 0, tzinfo=CST)   # post 2's last_modified_at
    assert feeds.updated[("all", "")] == newest
    assert feeds.feeds[FeedKey("all", "", "atom")].last_modified == newest
    rss = xml(feeds, "all", "", "rss").find("channel")
    assert rss.findtext("lastBuildDate") == "Thu, 12 May 2022 09:30:00 +0800"
    assert rss.findtext("pubDate") == "Thu, 12 May 2022 09:30:00 +0800"
    assert xml(feeds, "all", "", "atom").findtext(ATOM + "updated") == "2022-05-12T09:30:00+08:00"
    assert feeds.updated[("tag", "天气")] == dt.datetime(2022, 5, 9, 7, 30, tzinfo=CST)


def test_building_never_touches_the_process_locale(news, monkeypatch, build):
    # feedgen's formatRFC2822 calls locale.setlocale, which is not thread-safe.
    def refuse(*args):
        raise AssertionError(f"locale.setlocale{args} called while building feeds")
    monkeypatch.setattr(locale, "setlocale", refuse)
    feeds = build()
    assert feeds.feeds[FeedKey("all", "", "rss")].body


# --- validity --------------------------------------------------------------------------------

def test_atom_is_valid_against_rfc4287_schema(news, atom_schema, build):
    feeds = build()
    for key in feeds.feeds:
        if key.fmt == "atom":
            atom_schema(xml(feeds, key.kind, key.name, "atom"))


def test_atom_schema_rejects_what_rfc4287_forbids(news, atom_schema, build):
    feeds = build()
    root = xml(feeds, "all", "", "atom")
    root.find(ATOM + "updated").text = "Wed, 11 May 2022 17:16:04 +0800"
    with pytest.raises(AssertionError):
        atom_schema(root)
    root = xml(feeds, "all", "", "atom")
    for author in root.iter(ATOM + "author"):
        author.getparent().remove(author)
    with pytest.raises(AssertionError):
        atom_schema(root)


def test_atom_entry_links_carry_rel_and_type(news, build):
    # feedgen 1.0.0 drops the attributes of entry links (its issue #135).
    root = xml(build(), "all", "", "atom")
    links = [entry.find(ATOM + "link").attrib for entry in root.iter(ATOM + "entry")]
    assert [dict(link) for link in links] == [
        {"href": url, "rel": "alternate", "type": "text/html"} for url in (POST_1, POST_2, POST_3)]


def test_rss_has_every_required_element(news, build):
    root = xml(build(), "category", "dongfangwang", "rss")
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel.findtext("title") == "示例新闻 · dongfangwang"
    assert channel.findtext("link") == f"{SITE}/category/dongfangwang.html"
    assert channel.findtext("description") == "一座城市的新闻"
    assert channel.find("generator") is None and channel.find("docs") is None
    for item in channel.findall("item"):
        assert item.findtext("title") and item.findtext("description")
        assert item.find("guid").get("isPermaLink") == "false"


def test_json_feed_has_every_field_json_feed_1_1_requires(news, build):
    feed = parse(build(), "tag", "东方网新闻", "json")
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


def test_json_is_utf8_without_escapes(news, build):
    body = build().feeds[FeedKey("tag", "东方网新闻", "json")].body
    assert "东方网新闻".encode() in body and b"\\u" not in body


# --- metadata --------------------------------------------------------------------------------

def test_feed_metadata_and_links(news, build):
    feeds = build(public_url="https://feeds.example.net/svc")
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


def test_empty_description_falls_back_to_title_and_alternate_pattern_is_configurable(news,
                                                                                      build):
    feeds = build(description="", tag_url="/tags/{name}/")
    channel = xml(feeds, "tag", "天气", "rss").find("channel")
    assert channel.findtext("description") == "示例新闻 · 天气"
    assert channel.findtext("link") == f"{SITE}/tags/%E5%A4%A9%E6%B0%94/"


def test_categories_and_tags_are_told_apart(news, build):
    feeds = build()
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


def test_image_is_a_media_thumbnail_and_json_image(news, build):
    feeds = build()
    image = f"{SITE}/img/sun.jpg"
    for fmt in ("rss", "atom"):
        entry = parse(feeds, "tag", "天气", fmt).entries[0]
        assert entry.media_thumbnail == [{"url": image}], fmt
    assert parse(feeds, "tag", "天气", "json")["items"][0]["image"] == image
    assert "image" not in parse(feeds, "category", "metro", "json")["items"][0]


def test_empty_store_gives_a_valid_empty_global_feed(atom_schema, build):
    feeds = build()
    assert set(feeds.feeds) == {FeedKey("all", "", fmt) for fmt in ("rss", "atom", "json")}
    assert feeds.updated[("all", "")] is None
    assert feeds.feeds[FeedKey("all", "", "rss")].last_modified is None
    root = xml(feeds, "all", "", "atom")
    atom_schema(root)
    assert root.findtext(ATOM + "updated") == "1970-01-01T08:00:00+08:00"
    assert xml(feeds, "all", "", "rss").find("channel/lastBuildDate") is None
    assert parse(feeds, "all", "", "rss").entries == []
    assert parse(feeds, "all", "", "json")["items"] == []


# --- W3C feedvalidator rules -------------------------------------------------------------------

def test_rss_categories_and_creators_carry_no_markup_the_validator_calls_html(write,
                                                                                 build):
    # feedvalidator's `nonhtml` text (RSS <category>, <dc:creator>) warns "should not contain
    # HTML" when the decoded text holds an HTML element's tag (ContainsHTML).
    write("2022-11-06-m.md", 'title: M\ncategories: ["<b>x</b>"]\ntags: ["<i>y</i>", "a&b"]\n'
          'author: "<b>Eve</b> & Co"')
    feeds = build()
    for key in feeds.feeds:
        if key.fmt != "rss":
            continue
        root = xml(feeds, key.kind, key.name, "rss")
        texts = [e.text for e in root.iter("category", DC_CREATOR)]
        assert texts and not [t for t in texts if re.search(r"</?[A-Za-z][^<>]*>", t)], key
    item = xml(feeds, "all", "", "rss").find("channel/item")
    assert [c.text for c in item.iter("category")] == ["x", "y", "a&b"]
    assert item.findtext(DC_CREATOR) == "Eve & Co"
    # Atom and JSON keep the names as written: they name the feeds
    assert [t.term for t in parse(feeds, "all", "", "atom").entries[0].tags] == \
        ["<b>x</b>", "<i>y</i>", "a&b"]


def test_an_empty_title_is_written_empty_in_atom_and_left_out_of_rss(write, atom_schema,
                                                                        build):
    write("2022-09-10-empty.md", 'title: ""')   # jekyll-feed: <title type="html"></title>
    feeds = build()
    atom = xml(feeds, "all", "", "atom")
    atom_schema(atom)
    assert atom.find(ATOM + "entry").findtext(ATOM + "title") == ""
    item = xml(feeds, "all", "", "rss").find("channel/item")
    assert item.find("title") is None and item.findtext("description")
