"""Entries: which feeds a site has and which posts each shows, and what an entry holds.

An entry's content is sanitised and absolute, its summary jekyll-feed's excerpt, its title
jekyll-feed's (smartify, strip_html, normalize_whitespace), whatever text the post holds.
The site is tests/feeds/conftest.py's news site.
"""
from __future__ import annotations

import dataclasses
import json
import types

import hypothesis
import lxml.html
import pytest
from hypothesis import strategies as st

from feedsvc.feeds import FeedBuilder, FeedKey
from feedsvc.source import Store
from tests.feeds.news import (
    ATOM, CONTENT, POST_1, POST_2, POST_3, SITE, entry_links, parse, xml,
)
from tests.support.profiles import examples


# --- which feeds, which entries --------------------------------------------------------------

def test_every_feed_exists_in_every_format(news, build):
    feeds = build()
    names = {(k.kind, k.name) for k in feeds.feeds}
    assert names == {("all", ""), ("category", "dongfangwang"), ("category", "metro"),
                     ("category", "weather"), ("tag", "东方网新闻"), ("tag", "交通"),
                     ("tag", "天气")}
    assert len(feeds.feeds) == 3 * len(names)
    for kind, name in names:
        for fmt in ("rss", "atom", "json"):
            parse(feeds, kind, name, fmt)   # bozo 0 for RSS and Atom


def test_entries_newest_first_with_excluded_posts_absent(news, build):
    feeds = build()
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


def test_same_instant_ties_are_broken_by_path_and_never_flip(write, build):
    for slug in ("b", "a", "c"):
        write(f"2022-05-11-{slug}.md", f"title: {slug}\ndate: 2022-05-11 17:16:04 +0800")
    first = build()
    again = build()
    expected = [f"{SITE}/2022/05/11/{slug}.html" for slug in ("c", "b", "a")]
    assert entry_links(first, "all", "") == {fmt: expected for fmt in ("rss", "atom", "json")}
    key = FeedKey("all", "", "rss")
    assert first.feeds[key].body == again.feeds[key].body


def test_feed_limit_keeps_the_newest(write, build):
    for day in range(1, 6):
        write(f"2022-05-0{day}-p{day}.md", f"title: P{day}\ncategories: c")
    feeds = build(feed_limit=3)
    for kind, name in (("all", ""), ("category", "c")):
        assert [e.title for e in parse(feeds, kind, name, "atom").entries] == ["P5", "P4", "P3"]
        assert len(parse(feeds, kind, name, "json")["items"]) == 3


def test_authors_per_entry_with_site_author_as_default(news, build):
    feeds = build()
    rss = parse(feeds, "all", "", "rss")
    atom = parse(feeds, "all", "", "atom")
    assert [e.author for e in rss.entries] == ["新闻部", "王记者", "新闻部"]
    assert [e.author for e in atom.entries] == ["新闻部", "王记者", "新闻部"]


# --- content ---------------------------------------------------------------------------------

def test_content_and_summary_in_every_format(news, build):
    feeds = build()
    # jekyll-feed's summary: the excerpt (all before the first blank line), its HTML blocks
    # apart as kramdown writes them, whole in Atom; RSS and JSON shorten it (summary_length).
    summary = ("本市今日举行线上政策解读会，介绍企业复工复产的最新措施。会议吸引了数百家企业参加，"
               "反响良好。 线上讲座 （文章来源：示例网）")
    rss = parse(feeds, "all", "", "rss").entries[0]
    atom = parse(feeds, "all", "", "atom").entries[0]
    item = parse(feeds, "all", "", "json")["items"][0]
    assert atom.summary == summary
    assert rss.summary == item["summary"] == summary   # within summary_length (140)
    assert parse(build(summary_length=20), "all", "", "rss").entries[0].summary == \
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
def test_excerpt_only_site_wide_and_per_post(write, site_wide, per_post, full, build):
    write("2022-05-11-a.md", f"title: A\n{per_post}")
    feeds = build(excerpt_only=site_wide)
    rss = xml(feeds, "all", "", "rss").find("channel/item")
    atom = xml(feeds, "all", "", "atom").find(ATOM + "entry")
    item = parse(feeds, "all", "", "json")["items"][0]
    assert (rss.find(CONTENT) is not None) is full
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


def test_hostile_content_is_well_formed_clean_and_absolute(write, atom_schema, build):
    write("2022-05-11-evil.md",
          "title: \"Tom & Jerry <b>\\\"quoted\\\"</b> 'single' \\x01\"\n"
          "description: \"sum\\x02mary ]]> & <i>\"\ncategories: \"ca\\x03t\"\n"
          "author: \"Ann \\x04<a>\"",
          HOSTILE_BODY)
    feeds = build()
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
    rss_content = xml(feeds, "all", "", "rss").findtext(f"channel/item/{CONTENT}")
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


@hypothesis.settings(max_examples=examples(60),
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(title=_any_text, body=_any_text, name=_any_text.filter(bool),
                  author=_any_text, summary=_any_text, image=_any_text, post_id=_any_text)
def test_any_text_in_any_field_gives_well_formed_feeds(write, feed_settings, clock, title, body,
                                                       name, author, summary, image, post_id):
    write("2022-05-11-a.md", "title: A\ncategories: c\ntags: t")
    settings = feed_settings()
    real = Store.from_settings(settings, clock=clock).reload()
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
