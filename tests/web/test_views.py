"""The HTTP layer through the test client: every route, exact headers, the conditional matrix."""
from __future__ import annotations

import datetime as dt
import gzip
import json
from urllib.parse import quote

import feedparser
import pytest

from tests.conftest import SITE_URL
from feedsvc.dates import format_http_date
from feedsvc.urls import encode_name, feed_path, page_path
from feedsvc.web.http import coding_qualities, wants_gzip

CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=300, stale-if-error=86400"
CST = dt.timezone(dt.timedelta(hours=8))
NOT_FOUND = b"Not found. Every feed is listed at https://news.example.com/\n"
ALLOW = "GET, HEAD, OPTIONS"
AWKWARD = ("a/b", "..", "<b>&", "with space", "50%25off", "东方网新闻")
TYPES = {"rss": "application/rss+xml; charset=utf-8",
         "atom": "application/atom+xml; charset=utf-8",
         "json": "application/feed+json; charset=utf-8"}


@pytest.fixture
def news(write_post, make_app):
    """Return the app of a small news site whose names are as awkward as names get."""
    write_post("shi-gong-jing-lian", title="政策解读答疑、防疫知识科普……市工经联线上搭平台",
               date="2022-05-11 17:16:04 +0800", categories="dongfangwang", tags="东方网新闻",
               body="<p>上海疫情发生以来，市工经联积极发挥枢纽型社会组织的功能。</p>\n\n"
                    "[返回首页](//finews.example.com/)\n")
    write_post("awkward", title="Names <that> & break things", date="2022-05-12 08:00:00 +0800",
               categories=["a/b", ".."], tags=["<b>&", "with space", "东方网新闻"])
    write_post("percent", title="百分之五十", date="2022-05-13 09:30:00 +0800",
               categories=["50%25off", "dongfangwang"], tags=["with space"])
    return make_app()


@pytest.fixture
def site(news):
    return news.state.site


@pytest.fixture
def web(news):
    return news.test_client()


def doc(site, path):
    """Return the published document at decoded *path*."""
    document = site.document(path)
    assert document is not None, path
    return document


def feed_headers(document, etag=None, length=None, encoding=None):
    headers = {
        "Content-Type": document.content_type,
        "Content-Length": str(len(document.body) if length is None else length),
        "ETag": etag or document.etag,
        "Last-Modified": document.last_modified_http,
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if encoding:
        headers["Content-Encoding"] = encoding
    return headers


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
    from lxml import etree
    root = etree.fromstring(response.data)
    assert root.get("version") == "2.0"
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    expected = ["https://news.example.com/feeds/all.rss"]
    expected += ["https://news.example.com" + feed_path("category", n, "rss")
                 for n in sorted(["dongfangwang", "a/b", "..", "50%25off"])]
    expected += ["https://news.example.com" + feed_path("tag", n, "rss")
                 for n in sorted(["<b>&", "with space", "东方网新闻"])]
    assert urls == expected
    for url in urls:   # every listed feed is really there
        assert web.get(url.removeprefix("https://news.example.com")).status_code == 200


# --- forged Host --------------------------------------------------------------------------

def test_forged_host_changes_no_byte_of_any_document(site, web):
    for path in site.current.documents:
        url = quote(path, safe="/")
        honest = web.get(url)
        forged = web.get(url, headers={"Host": "evil.example:666",
                                       "X-Forwarded-Host": "evil.example"})
        assert honest.status_code == forged.status_code == 200, path
        assert forged.data == honest.data, path
        assert b"evil.example" not in forged.data
    forged_404 = web.get("/nope", headers={"Host": "evil.example"})
    assert forged_404.data == NOT_FOUND


# --- the conditional-request matrix (RFC 9110 §13) ----------------------------------------

FEED = "/feeds/categories/dongfangwang.rss"
LAST_MODIFIED = dt.datetime(2022, 5, 13, 1, 30, tzinfo=dt.timezone.utc)


def http_date(delta_seconds: int) -> str:
    return format_http_date(LAST_MODIFIED + dt.timedelta(seconds=delta_seconds))


def not_modified_headers(document, etag):
    return {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding",
            "Last-Modified": document.last_modified_http}


@pytest.mark.parametrize("headers, status", [
    ({"If-None-Match": "{etag}"}, 304),
    ({"If-None-Match": '"0123456789abcdef"'}, 200),
    ({"If-None-Match": "W/{etag}"}, 304),                          # weak comparison
    ({"If-None-Match": "*"}, 304),
    ({"If-None-Match": '"x", W/"y", {etag}'}, 304),                # a list
    ({"If-None-Match": '"x",{etag}'}, 304),
    ({"If-None-Match": '"x", "y"'}, 200),
    ({"If-None-Match": ""}, 200),
    ({"If-None-Match": "garbage"}, 200),
    ({"If-Modified-Since": http_date(-1)}, 200),                   # before
    ({"If-Modified-Since": http_date(0)}, 304),                    # equal
    ({"If-Modified-Since": http_date(3600)}, 304),                 # after
    ({"If-Modified-Since": "yesterday-ish"}, 200),                 # garbage: ignored
    ({"If-Modified-Since": ""}, 200),
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2):
    ({"If-None-Match": '"other"', "If-Modified-Since": http_date(3600)}, 200),
    ({"If-None-Match": "{etag}", "If-Modified-Since": http_date(-3600)}, 304),
    ({"If-Match": "{etag}"}, 200),
    ({"If-Match": '"other"'}, 412),
    ({"If-Match": "W/{etag}"}, 412),                               # If-Match is strong
    ({"If-Match": "*"}, 200),
    ({"If-Unmodified-Since": http_date(-1)}, 412),
    ({"If-Unmodified-Since": http_date(0)}, 200),
])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_conditional_matrix_identity(site, web, headers, status, method):
    document = doc(site, FEED)
    sent = {k: v.replace("{etag}", document.etag) for k, v in headers.items()}
    response = web.open(FEED, method=method, headers=sent)
    assert response.status_code == status
    if status == 304:
        assert dict(response.headers) == not_modified_headers(document, document.etag)
        assert response.data == b""
    elif status == 200:
        assert dict(response.headers) == feed_headers(document)
        assert response.data == (document.body if method == "GET" else b"")
    else:
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("headers, status", [
    ({"If-None-Match": "{gzip_etag}"}, 304),
    ({"If-None-Match": "W/{gzip_etag}"}, 304),
    ({"If-None-Match": "*"}, 304),
    ({"If-None-Match": '"nope"'}, 200),
    ({"If-Modified-Since": http_date(0)}, 304),
    ({"If-Modified-Since": http_date(-1)}, 200),
    ({"If-None-Match": '"nope"', "If-Modified-Since": http_date(0)}, 200),
])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_conditional_matrix_gzip(site, web, headers, status, method):
    document = doc(site, FEED)
    sent = {k: v.replace("{gzip_etag}", document.gzip_etag) for k, v in headers.items()}
    sent["Accept-Encoding"] = "gzip, deflate, br"
    response = web.open(FEED, method=method, headers=sent)
    assert response.status_code == status
    if status == 304:
        assert dict(response.headers) == not_modified_headers(document, document.gzip_etag)
        assert response.data == b""
        return
    assert dict(response.headers) == feed_headers(document, document.gzip_etag,
                                                  len(document.gzip), "gzip")
    if method == "GET":
        assert gzip.decompress(response.data) == document.body
    else:
        assert response.data == b""


def test_either_etag_revalidates_and_the_304_names_the_one_matched(site, web):
    # A cache that stored the identity copy revalidates with its ETag even when it now
    # accepts gzip, and the other way round; the 304 names the copy the cache holds.
    document = doc(site, FEED)
    held_identity = web.get(FEED, headers={"If-None-Match": document.etag,
                                           "Accept-Encoding": "gzip"})
    assert held_identity.status_code == 304
    assert held_identity.headers["ETag"] == document.etag
    held_gzip = web.get(FEED, headers={"If-None-Match": document.gzip_etag})
    assert held_gzip.status_code == 304
    assert held_gzip.headers["ETag"] == document.gzip_etag


def test_etags_differ_per_encoding_and_are_strong(site):
    document = doc(site, FEED)
    assert document.etag != document.gzip_etag
    assert document.etag.startswith('"') and document.gzip_etag.startswith('"')


@pytest.mark.parametrize("accept, gzipped", [
    (None, False),
    ("gzip", True),
    ("GZIP", True),
    ("x-gzip", True),
    ("deflate, gzip;q=1.0, *;q=0.5", True),
    ("gzip;q=0", False),
    ("gzip;q=0.000", False),
    ("*", True),
    ("*;q=0", False),
    ("identity", False),
    ("br", False),
    ("gzip;q=0.5, identity;q=1", False),
    ("gzip;q=1, identity;q=0.5", True),
    ("gzip;q=bogus", False),
    ("gzip;q=2", False),
    ("*, gzip;q=0", False),
    (",,;;,", False),
])
def test_gzip_is_sent_when_accept_encoding_allows_it(site, web, accept, gzipped):
    assert wants_gzip(accept) is gzipped
    document = doc(site, FEED)
    response = web.get(FEED, headers={} if accept is None else {"Accept-Encoding": accept})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == ("gzip" if gzipped else None)
    assert response.headers["ETag"] == (document.gzip_etag if gzipped else document.etag)
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.data == (document.gzip if gzipped else document.body)


def test_coding_qualities_keeps_the_first_mention():
    assert coding_qualities("gzip;q=0.3, gzip;q=1, br") == {"gzip": 0.3, "br": 1.0}


def test_page_and_opml_are_conditional_too(site, web):
    for path in ("/", "/feeds.opml", "/feeds/tags/with%20space"):
        document = doc(site, path.replace("%20", " "))
        response = web.get(path, headers={"If-None-Match": document.etag})
        assert response.status_code == 304
        gzipped = web.get(path, headers={"Accept-Encoding": "gzip"})
        assert gzip.decompress(gzipped.data) == document.body


# --- health, metrics, errors --------------------------------------------------------------

def test_healthz_is_200_with_the_counts_when_fresh(web, clock):
    clock.advance(30)
    response = web.get("/healthz")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body.pop("last_reload_seconds") >= 0
    assert body == {
        "status": "ok", "posts": 3, "categories": 4, "tags": 3, "broken_posts": 0,
        "pending_posts": 0, "last_reload": "2025-01-01T12:00:00+00:00",
        "snapshot_age_seconds": 30.0, "last_error": None, "last_failure": None, "failures": 0,
    }


def test_healthz_is_503_degraded_once_stale(web, clock):
    clock.advance(300)
    assert web.get("/healthz").status_code == 200    # stale_after is "older than"
    clock.advance(1)
    response = web.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "degraded"
    assert response.get_json()["snapshot_age_seconds"] == 301.0


def test_broken_posts_are_counted_not_fatal(write_post, site_dir, make_app):
    write_post("good", title="Good")
    (site_dir / "_posts" / "2022-05-12-bad.md").write_text("---\ntitle: [unclosed\n---\n")
    body = make_app().test_client().get("/healthz").get_json()
    assert (body["status"], body["posts"], body["broken_posts"]) == ("ok", 1, 1)


def test_before_the_first_load_everything_is_503(write_post, make_app, monkeypatch):
    write_post("good", title="Good", categories="news")

    def vanished(*args):
        raise FileNotFoundError(2, "No such file or directory")
    monkeypatch.setattr("feedsvc.source.store.find_post_files", vanished)
    app = make_app()
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    body = health.get_json()
    assert body["status"] == "starting"
    assert body["posts"] is None and body["last_reload"] is None
    assert body["failures"] == 1
    assert "site" in body["last_error"] and "/" not in body["last_error"]   # no paths
    feed = client.get("/feeds/all.rss")
    assert feed.status_code == 503
    assert feed.headers["Retry-After"] == "60"
    assert feed.data == b"The feeds are not loaded yet; try again in a moment.\n"
    monkeypatch.undo()
    app.state.site.reload()
    assert client.get("/healthz").status_code == 200
    assert client.get("/feeds/categories/news.rss").status_code == 200


def test_metrics_count_requests_by_route_and_status(web):
    web.get(FEED)
    web.get(FEED)
    web.get("/feeds/categories/dongfangwang")
    web.get("/feeds.opml")
    web.get("/no/such/feed.rss")
    web.post(FEED)
    web.get("/healthz")
    response = web.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    text = response.get_data(as_text=True)
    for line in ('feedsvc_http_requests_total{route="feed",status="200"} 2.0',
                 'feedsvc_http_requests_total{route="page",status="200"} 1.0',
                 'feedsvc_http_requests_total{route="opml",status="200"} 1.0',
                 'feedsvc_http_requests_total{route="not_found",status="404"} 1.0',
                 'feedsvc_http_requests_total{route="other",status="405"} 1.0',
                 'feedsvc_http_requests_total{route="healthz",status="200"} 1.0',
                 "feedsvc_reload_duration_seconds_count 1.0",
                 "feedsvc_reload_failures_total 0.0",
                 "feedsvc_posts 3.0",
                 "feedsvc_broken_posts 0.0",
                 "feedsvc_snapshot_age_seconds 0.0"):
        assert line in text.splitlines(), line
    assert "no/such" not in text   # never a raw path as a label


def test_each_app_has_its_own_metrics(news, make_app):
    news.test_client().get(FEED)
    other = make_app().test_client().get("/metrics").get_data(as_text=True)
    assert 'route="feed"' not in other


def test_reloads_are_observed(news):
    news.state.site.reload()
    text = news.test_client().get("/metrics").get_data(as_text=True)
    assert "feedsvc_reload_duration_seconds_count 2.0" in text
    assert "feedsvc_reloads_total 2.0" in text


def test_unknown_path_is_a_plain_404_naming_the_index(web):
    for path in ("/nope", "/feeds/categories/nope.rss", "/feeds/tags/", "/feeds/all.xml",
                 "/feeds/categories/dongfangwang.rss/", "/static/app.js"):
        response = web.get(path)
        assert response.status_code == 404, path
        assert dict(response.headers) == {
            "Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(NOT_FOUND)),
            "Cache-Control": "public, max-age=60", "X-Content-Type-Options": "nosniff"}
        assert response.data == NOT_FOUND


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE", "BREW"])
@pytest.mark.parametrize("path", [FEED, "/", "/healthz", "/metrics", "/nope"])
def test_wrong_method_is_405_with_allow(web, method, path):
    response = web.open(path, method=method, data=b"x")
    assert response.status_code == 405
    assert response.headers["Allow"] == ALLOW
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.data == b"Method not allowed: use GET or HEAD.\n"


@pytest.mark.parametrize("path", [FEED, "/", "/healthz", "/nope"])
def test_options_answers_204_with_allow(web, path):
    response = web.open(path, method="OPTIONS")
    assert response.status_code == 204
    assert dict(response.headers) == {"Allow": ALLOW}
    assert response.data == b""


@pytest.mark.parametrize("path", [FEED, "/", "/feeds.opml", "/feeds/categories/a%2Fb",
                                  "/healthz", "/metrics", "/nope"])
def test_head_has_the_headers_of_get_and_no_body(web, path):
    got = web.get(path)
    head = web.head(path)
    assert head.status_code == got.status_code
    assert head.data == b""
    if path != "/metrics":   # the metrics body counts the GET itself
        assert dict(head.headers) == dict(got.headers)


def test_overlong_path_is_414(web):
    response = web.get("/feeds/categories/" + "x" * 3000 + ".rss")
    assert response.status_code == 414
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
