"""Every route through the test client: exact headers and bytes, 404s, methods, forged Host.

feedsvc/web/views.py: what a request for a feed, page or the OPML gets (the conditional matrix
and content codings are in test_http.py); what every other request gets: a plain 404 naming
the index, 405 with Allow, 204 to OPTIONS, HEAD like GET without a body, 414 for an overlong
path, a bare 500 for a bug; and that no forged Host or absolute-form target changes a byte.
"""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import feedparser
import pytest
from lxml import etree

from feedsvc.urls import encode_name, feed_path, page_path
from tests.conftest import SITE_URL
from tests.web.news import (ALL_FEED, ALLOW, CATEGORIES, FEED, FORGED, NOT_FOUND, TAGS, doc,
                            feed_headers)

CST = dt.timezone(dt.timedelta(hours=8))
AWKWARD = ("a/b", "..", "<b>&", "with space", "50%25off", "东方网新闻")
FORGED_WITH_PORT = {"Host": "evil.example:666", "X-Forwarded-Host": "evil.example"}


# --- feeds --------------------------------------------------------------------------------

JEKYLL_FEED_BLOCK = """\
feed:
  categories: [dongfangwang, "a/b", 东方网新闻]
  tags:
    except: [skipped]
"""


@pytest.fixture
def jekyll_app(site_dir, write_post, make_app):
    """Return the app of a site whose _config.yml has jekyll-feed's feed: block."""
    with (site_dir / "_config.yml").open("a", encoding="utf-8") as config:
        config.write(JEKYLL_FEED_BLOCK)
    write_post("a", title="A", date="2022-05-11 17:16:04 +0800",
               categories=["dongfangwang", "a/b"], tags=["kept_tag", "skipped", "东方网新闻"])
    return make_app()


def test_jekyll_feed_paths_are_the_feeds_jekyll_feed_writes_and_every_other_one(jekyll_app):
    documents = jekyll_app.state.site.current.documents
    served = {path for path in documents if path.startswith("/feed") and path.endswith(".xml")}
    # What jekyll-feed writes for the feed: block (tags only [A-Za-z0-9_], minus `except`)...
    assert {"/feed.xml", "/feed/dongfangwang.xml", "/feed/a/b.xml", "/feed/东方网新闻.xml",
            "/feed/by_tag/kept_tag.xml"} <= served
    # ...and, on purpose (docs/jekyll.md), every other category and tag at feedsvc's old paths.
    assert {"/feed/by_tag/skipped.xml", "/feed/by_tag/东方网新闻.xml"} <= served
    web = jekyll_app.test_client()
    assert web.get("/feed/%E4%B8%9C%E6%96%B9%E7%BD%91%E6%96%B0%E9%97%BB.xml").status_code == 200
    assert web.get("/feed/by_tag/skipped.xml").status_code == 200
    assert web.get("/feed/by_tag/no-such-tag.xml").status_code == 404


@pytest.mark.parametrize("path, own, title", [
    ("/feed.xml", "/feeds/all.atom", "东方网 Test News"),
    ("/feed/dongfangwang.xml", "/feeds/categories/dongfangwang.atom",
     "东方网 Test News | Dongfangwang"),
    ("/feed/by_tag/kept_tag.xml", "/feeds/tags/kept_tag.atom", "东方网 Test News"),
])
def test_a_jekyll_feed_path_names_itself_and_feedsvc_s_own_url_stays(jekyll_app, path, own,
                                                                     title):
    web = jekyll_app.test_client()
    response = web.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(response.data)
    links = {link.rel: link.href for link in feed.feed.links}
    assert feed.feed.id == links["self"] == SITE_URL + path    # jekyll-feed's <id> and self
    assert links["alternate"] == SITE_URL + "/"
    assert feed.feed.title == title
    ours = feedparser.parse(web.get(own).data)
    assert ours.feed.id == SITE_URL + own                     # unchanged for its subscribers
    assert [e.id for e in ours.entries] == [e.id for e in feed.entries] != []


@pytest.mark.parametrize("name", AWKWARD)
def test_awkward_names_resolve_to_their_own_feed(site, web, name):
    kind = "tag" if name in ("<b>&", "with space", "东方网新闻") else "category"
    for fmt in ("rss", "atom"):
        response = web.get(feed_path(kind, name, fmt))
        assert response.status_code == 200, (name, fmt)
        parsed = feedparser.parse(response.data)
        assert parsed.bozo == 0
        assert parsed.feed.title.endswith(" · " + name)
    page = web.get(page_path(kind, name))
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"


def test_percent_encoded_names_are_decoded_exactly_once(web):
    # "50%25off" is the name as written; its URL segment is 50%2525off.
    assert encode_name("50%25off") == "50%2525off"
    assert web.get("/feeds/categories/50%2525off.rss").status_code == 200
    assert web.get("/feeds/categories/50%25off.rss").status_code == 404


def test_slash_and_dot_dot_names_never_reach_other_paths(web):
    # a/b is one name: its %2F is decoded to "/" and looked up as one key.
    assert web.get("/feeds/categories/a%2Fb.json").status_code == 200
    assert web.get("/feeds/categories/a.json").status_code == 404
    assert web.get("/feeds/categories/%2E%2E.json").status_code == 200
    assert web.get("/feeds/categories/../../etc/passwd").status_code == 404
    assert web.get("/feeds/categories/%2E%2E%2F%2E%2E%2Fsite.py").status_code == 404


def test_served_feeds_parse_cleanly(site, web):
    for key in site.current.feeds.feeds:
        response = web.get(feed_path(key.kind, key.name, key.fmt))
        assert response.status_code == 200
        if key.fmt == "json":
            data = json.loads(response.data)
            assert data["version"] == "https://jsonfeed.org/version/1.1"
            assert data["feed_url"] == "https://news.example.com" + feed_path(
                key.kind, key.name, "json")
            continue
        parsed = feedparser.parse(response.data)
        assert parsed.bozo == 0, (key, parsed.get("bozo_exception"))
        assert parsed.version == ("rss20" if key.fmt == "rss" else "atom10")


def test_chinese_post_dates_keep_their_instant_and_offset(web):
    parsed = feedparser.parse(web.get("/feeds/tags/%E4%B8%9C%E6%96%B9%E7%BD%91%E6%96%B0%E9%97%BB"
                                      ".atom").data)
    titles = [entry.title for entry in parsed.entries]
    assert titles == ["Names & break things", "政策解读答疑、防疫知识科普……市工经联线上搭平台"]   # strip_html
    published = dt.datetime.fromisoformat(parsed.entries[1].published)
    assert published == dt.datetime(2022, 5, 11, 17, 16, 4, tzinfo=CST)
    assert published.utcoffset() == dt.timedelta(hours=8)


# --- pages and OPML -----------------------------------------------------------------------

def test_index_page_headers_and_content(site, web):
    response = web.get("/")
    document = doc(site, "/")
    assert response.status_code == 200
    assert dict(response.headers) == {
        **feed_headers(document),
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                   "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"}
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert ('<link rel="alternate" type="application/rss+xml" title="东方网 Test News (RSS 2.0)" '
            'href="https://news.example.com/feeds/all.rss">') in html
    assert 'href="https://news.example.com/feeds/categories/a%2Fb"' in html
    assert 'href="https://news.example.com/feeds/tags/%3Cb%3E%26.json"' in html
    assert ">&lt;b&gt;&amp;</a>" in html


def test_feed_page_lists_entries_with_site_zone_dates(web):
    response = web.get("/feeds/categories/dongfangwang")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<time datetime="2022-05-11T17:16:04+08:00">2022-05-11 17:16</time>' in html
    assert "政策解读答疑、防疫知识科普……市工经联线上搭平台" in html
    assert ('<input type="text" readonly value="https://news.example.com/feeds/categories/'
            'dongfangwang.atom"') in html
    assert ('<link rel="alternate" type="application/feed+json" '
            'title="东方网 Test News · dongfangwang (JSON Feed 1.1)" '
            'href="https://news.example.com/feeds/categories/dongfangwang.json">') in html


def test_opml_lists_every_category_and_tag_feed(site, web):
    response = web.get("/feeds.opml")
    assert response.status_code == 200
    assert dict(response.headers) == feed_headers(doc(site, "/feeds.opml"))
    assert response.headers["Content-Type"] == "text/x-opml; charset=utf-8"
    root = etree.fromstring(response.data)
    assert root.get("version") == "2.0"
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    expected = ["https://news.example.com/feeds/all.rss"]
    expected += ["https://news.example.com" + feed_path("category", n, "rss")
                 for n in sorted(CATEGORIES)]
    expected += ["https://news.example.com" + feed_path("tag", n, "rss")
                 for n in sorted(TAGS)]
    assert urls == expected
    for url in urls:   # every listed feed is really there
        assert web.get(url.removeprefix("https://news.example.com")).status_code == 200


# --- forged Host and absolute-form targets ---------------------------------------------------

@pytest.mark.parametrize("forged", [FORGED, FORGED_WITH_PORT], ids=["every-header", "port"])
def test_forged_host_changes_no_byte_of_any_document(site, web, forged):
    for path, document in site.current.documents.items():
        target = quote(path, safe="/")
        honest = web.get(target)
        answer = web.get(target, headers=forged)
        assert (honest.status_code, honest.data) == (200, document.body), path
        assert (answer.status_code, answer.data) == (200, document.body), path
        elsewhere = web.get(target, base_url="http://evil.example:8443")
        assert elsewhere.data == document.body, path
        assert b"evil" not in answer.data
    forged_404 = web.get("/nope", headers=forged)
    assert (forged_404.status_code, forged_404.data) == (404, NOT_FOUND)


def test_absolute_form_target_gets_the_same_document(web, site):
    for target in ("http://evil.example/feeds/all.rss", "https://evil.example:444/feeds/all.rss"):
        response = web.get(target)
        assert (response.status_code, response.data) == (200, doc(site, ALL_FEED).body)


# --- everything else: 404, 405, OPTIONS, HEAD, 414, 500 --------------------------------------

def test_unknown_path_is_a_plain_404_naming_the_index(web):
    for path in ("/nope", "/feeds/categories/nope.rss", "/feeds/tags/", "/feeds/all.xml",
                 "/feeds/categories/dongfangwang.rss/", "/static/app.js"):
        response = web.get(path)
        assert response.status_code == 404, path
        assert dict(response.headers) == {
            "Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(NOT_FOUND)),
            "Cache-Control": "public, max-age=60", "X-Content-Type-Options": "nosniff"}
        assert response.data == NOT_FOUND


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT",
                                    "PROPFIND", "MKCOL", "LOCK", "PURGE", "BREW", "M-SEARCH",
                                    "X" * 200])
@pytest.mark.parametrize("path", [FEED, ALL_FEED, "/", "/healthz", "/metrics", "/nope",
                                  "/no/such/thing",
                                  "/feeds/categories/..%2F..%2Fetc%2Fpasswd.rss"])
def test_wrong_method_is_405_with_allow(web, method, path):
    response = web.open(path, method=method, data=b"x" * 100)
    assert response.status_code == 405
    assert response.headers["Allow"] == ALLOW
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.data == b"Method not allowed: use GET or HEAD.\n"   # nothing else


@pytest.mark.parametrize("path", [FEED, ALL_FEED, "/", "/healthz", "/nope", "/no/such/thing",
                                  "*"])
def test_options_answers_204_with_allow(web, path):
    response = web.options(path)
    assert response.status_code == 204
    assert dict(response.headers) == {"Allow": ALLOW}
    assert response.data == b""


@pytest.mark.parametrize("path", [FEED, ALL_FEED, "/feeds/categories/a%2Fb.atom", "/",
                                  "/feeds.opml", "/feeds/categories/a%2Fb", "/healthz",
                                  "/metrics", "/nope", "/no/such/thing"])
def test_head_has_the_headers_of_get_and_no_body(web, path):
    got = web.get(path)
    head = web.head(path)
    assert head.status_code == got.status_code
    assert head.data == b""
    if path != "/metrics":   # the metrics body counts the GET itself
        assert dict(head.headers) == dict(got.headers)


@pytest.mark.parametrize("path", [
    "/feeds/categories/" + "x" * 3000 + ".rss",
    "/" + "a" * 9000,
    "/feeds/categories/" + "x" * 8200 + ".rss",
    "/feeds/categories/" + "%41" * 3000 + ".rss",       # 9 KB sent, 3 KB decoded
    "/feeds/tags/" + quote("东" * 3000) + ".rss",
])
def test_overlong_path_is_414(web, path):
    response = web.get(path)
    assert response.status_code == 414
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.data == b"URI too long.\n"


@pytest.mark.parametrize("path", ["/feeds/categories/%ff%fe.rss", "/feeds/%zz", "/%00",
                                  "/feeds/categories/%E4%B8.rss", "/feeds/tags/%",
                                  "/feeds/categories/%C0%AE%C0%AE"])
def test_bad_percent_encoding_is_a_404_not_a_500(web, path):
    response = web.get(path)
    assert response.status_code == 404
    assert response.data == NOT_FOUND


def test_query_strings_are_ignored(site, web):
    assert web.get(FEED + "?utm_source=x&a=%ff").data == doc(site, FEED).body


def test_an_unexpected_error_is_a_bare_500(news, monkeypatch):
    def explode(path):
        raise RuntimeError("secret /srv/site/_posts detail")
    monkeypatch.setattr(news.state.site, "document", explode)
    response = news.test_client().get(FEED)
    assert response.status_code == 500
    assert response.data == b"Internal error.\n"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
