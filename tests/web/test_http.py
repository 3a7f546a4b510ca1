"""Conditional requests (RFC 9110 §13) and content codings, through the test client.

feedsvc/web/http.py: the full matrix of validators against the identity and the gzip copy,
malformed validators (which get the status the RFC gives, never an error), long entity-tag
lists, and Accept-Encoding.
"""
from __future__ import annotations

import datetime as dt
import gzip

import pytest

from feedsvc.dates import format_http_date
from feedsvc.web.http import coding_qualities, wants_gzip
from tests.web.news import ALL_FEED, CACHE_CONTROL, FEED, doc, feed_headers

# --- the conditional-request matrix (RFC 9110 §13) ----------------------------------------

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


# Malformed validators, by header, and the status each gets: a date that does not parse is
# ignored (RFC 9110 §13.1.3, §13.1.4); an entity-tag list that does not parse matches
# nothing, so If-None-Match gives 200 and If-Match 412 (§13.1.2, §13.1.1); codings and
# ranges the service cannot use are ignored.
MALFORMED = [
    ("If-Modified-Since", 200, [
        "garbage", "", "Mon, 99 Foo 9999 99:99:99 GMT", "Mon, 01 Jan 99999 00:00:00 GMT",
        "Mon, 01 Jan 0001 00:00:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT", "-1", "9" * 400,
        "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT", "\x00\x01"]),
    ("If-Unmodified-Since", 200, ["garbage", "Mon, 01 Jan 99999 00:00:00 GMT"]),
    ("If-None-Match", 200, ['"unterminated', "W/", "", "," * 5000, '"' * 5001, "W/" * 3000,
                            "no-quotes", "*, garbage"]),
    ("If-None-Match", 304, ["*"]),
    ("If-Match", 412, ["garbage", ""]),
    ("If-Match", 200, ["*"]),
    ("Accept-Encoding", 200, ["gzip;q=nan", "gzip;q=1e999, identity;q=-1", ";;;,,,q=,"]),
    ("Range", 200, ["bytes=99999999999999999999-", "bytes=-0"]),
]


@pytest.mark.parametrize("headers, status", [({name: value}, status)
                                             for name, status, values in MALFORMED
                                             for value in values])
def test_malformed_validators_get_the_status_the_rfc_gives(web, headers, status):
    response = web.get(ALL_FEED, headers=headers)
    assert response.status_code == status


@pytest.mark.parametrize("header", ["If-None-Match", "If-Match"])
def test_many_entity_tags_are_cheap(web, site, header):
    # 2,000 tags in one header: a linear scan, answered like any other request.
    etag = site.document(ALL_FEED).etag
    listed = ", ".join(f'"{i:032x}"' for i in range(2000)) + ", " + etag
    assert web.get(ALL_FEED, headers={header: listed}).status_code == (
        304 if header == "If-None-Match" else 200)


def test_coding_qualities_keeps_the_first_mention():
    assert coding_qualities("gzip;q=0.3, gzip;q=1, br") == {"gzip": 0.3, "br": 1.0}


def test_page_and_opml_are_conditional_too(site, web):
    for path in ("/", "/feeds.opml", "/feeds/tags/with%20space"):
        document = doc(site, path.replace("%20", " "))
        response = web.get(path, headers={"If-None-Match": document.etag})
        assert response.status_code == 304
        gzipped = web.get(path, headers={"Accept-Encoding": "gzip"})
        assert gzip.decompress(gzipped.data) == document.body

