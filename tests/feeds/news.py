"""The small news site most feed tests build, and how to read its feeds back.

Real readers judge the bytes: feedparser reads RSS and Atom (``bozo`` must be 0), lxml's
strict parser reads the XML, and JSON Feed 1.1 (which feedparser 6.0 cannot read) is loaded
as JSON and checked field by field in the tests.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import feedparser
from lxml import etree

from feedsvc.feeds import FeedKey, FeedSet
from tests.conftest import SITE_URL as SITE

UTC = dt.timezone.utc
CST = dt.timezone(dt.timedelta(hours=8))
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
SCHEMAS = Path(__file__).resolve().parents[2] / "feedsvc" / "schemas"
# The news site's settings, on top of tests/conftest.py's site (its url, zone and language).
META = {"title": "示例新闻", "description": "一座城市的新闻", "author": "新闻部"}

BODY = (
    "<p>本市今日举行线上政策解读会，介绍企业复工复产的最新措施。会议吸引了数百家企业参加，"
    "反响良好。</p><p><strong>线上讲座</strong></p><p class=\"em_media\">（文章来源：示例网）</p>\n"
    "\n"
    "<http://source.example.org/news/1.html>\n"
    "\n"
    "[返回新闻](//news.example.com/category/dongfangwang.html)｜[返回首页](//news.example.com/)\n"
)

POST_1 = f"{SITE}/dongfangwang/2022/05/11/shi-gong-jing-lian.html"
POST_2 = f"{SITE}/metro/dongfangwang/2022/05/10/metro-line.html"
POST_3 = f"{SITE}/weather/2022/05/09/weather.html"


def parse(feeds: FeedSet, kind: str, name: str, fmt: str):
    """Return one feed read back: feedparser's result (bozo 0 asserted), or the JSON."""
    body = feeds.feeds[FeedKey(kind, name, fmt)].body
    if fmt == "json":
        return json.loads(body)
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def xml(feeds: FeedSet, kind: str, name: str, fmt: str) -> etree._Element:
    """Return one feed's XML root; a strict parser: a feed not well-formed fails here."""
    return etree.fromstring(feeds.feeds[FeedKey(kind, name, fmt)].body,
                            etree.XMLParser(resolve_entities=False))


def entry_links(feeds: FeedSet, kind: str, name: str) -> dict[str, list[str]]:
    """Return each format's entry links, in document order."""
    return {
        "rss": [e.link for e in parse(feeds, kind, name, "rss").entries],
        "atom": [e.link for e in parse(feeds, kind, name, "atom").entries],
        "json": [i["url"] for i in parse(feeds, kind, name, "json")["items"]],
    }
