"""The fast path in front of Flask answers documents exactly as the Flask view does.

``DocumentFastPath`` (feedsvc/web/fastpath.py) answers GET and HEAD of published documents without
Flask's request cycle. These tests hold it to the same status line, header list (names,
values, order) and body as Flask's ``document`` view for every kind of request, to the same
metrics, and check that Flask has no hook the fast path would skip.
"""
from __future__ import annotations

from unittest import mock

import pytest
from werkzeug.test import EnvironBuilder

from feedsvc.web import fastpath as web_fastpath
from feedsvc.web import http as web_http
from feedsvc.web import views as web_views
from tests.web.wsgi import call

GMT_PAST = "Sat, 01 Jan 2000 00:00:00 GMT"
GMT_FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"


@pytest.fixture
def fast(news):
    """Return the news app's fast path (tests/web/conftest.py); Flask is its ``fallback``."""
    assert isinstance(news.wsgi_app, web_fastpath.DocumentFastPath)
    return news.wsgi_app


def request_counts(app) -> dict[tuple[str, str], float]:
    """Return feedsvc_http_requests_total by (route, status)."""
    metrics = app.state.metrics
    return {(s.labels["route"], s.labels["status"]): s.value
            for family in metrics.registry.collect() if family.name == "feedsvc_http_requests"
            for s in family.samples if s.name.endswith("_total")}


def requests_of(site) -> list[tuple[str, str, dict[str, str]]]:
    """Return (path, method, headers) of every kind of document request."""
    feed = site.document("/feeds/all.rss")
    requests = []
    for path in ("/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json", "/feed.xml",
                 "/feeds/categories/a%2Fb.atom",
                 "/feeds/tags/%E4%B8%9C%E6%96%B9%E7%BD%91%E6%96%B0%E9%97%BB.rss",
                 "/feeds/tags/with%20space.json", "/", "/feeds/categories/dongfangwang",
                 "/feeds.opml", "/feeds/all.rss?utm_source=x", "//feeds/all.rss"):
        for method in ("GET", "HEAD"):
            for headers in ({}, {"Accept-Encoding": "gzip, deflate"},
                            {"Accept-Encoding": "gzip;q=0.5, identity"}):
                requests.append((path, method, headers))
    for headers in ({"If-None-Match": feed.etag}, {"If-None-Match": feed.gzip_etag},
                    {"If-None-Match": f'W/{feed.etag}', "Accept-Encoding": "gzip"},
                    {"If-None-Match": '"other"'}, {"If-None-Match": "*"},
                    {"If-Modified-Since": GMT_FUTURE}, {"If-Modified-Since": GMT_PAST},
                    {"If-Modified-Since": "garbage"},
                    {"If-None-Match": '"other"', "If-Modified-Since": GMT_FUTURE},
                    {"If-Match": '"other"'}, {"If-Match": feed.etag}, {"If-Match": "*"},
                    {"If-Unmodified-Since": GMT_PAST}, {"If-Unmodified-Since": GMT_FUTURE},
                    {"Range": "bytes=0-10"}, {"Host": "evil.example"}):
        for method in ("GET", "HEAD"):
            requests.append(("/feeds/all.rss", method, headers))
    return requests


def test_fast_path_answers_documents_with_the_bytes_of_the_flask_view(news, fast):
    site = news.state.site
    statuses = set()
    for path, method, headers in requests_of(site):
        with mock.patch.object(fast, "fallback", side_effect=AssertionError("fell back")):
            got = call(fast, path, method, headers)
        assert got == call(fast.fallback, path, method, headers), (path, method, headers)
        statuses.add(got[0])
    assert statuses == {"200 OK", "304 NOT MODIFIED", "412 PRECONDITION FAILED"}


@pytest.mark.parametrize("path, method, status", [
    ("/feeds/categories/no-such.rss", "GET", "404 NOT FOUND"),
    ("/no/such/thing", "HEAD", "404 NOT FOUND"),
    ("/healthz", "GET", "200 OK"),
    ("/feeds/all.rss", "POST", "405 METHOD NOT ALLOWED"),
    ("/feeds/all.rss", "OPTIONS", "204 NO CONTENT"),
    ("/feeds/" + "x" * 3000, "GET", "414 REQUEST URI TOO LONG"),
])
def test_everything_else_goes_to_flask(news, fast, path, method, status):
    with mock.patch.object(fast, "fallback", wraps=fast.fallback) as flask:
        got = call(fast, path, method)
    assert flask.call_count == 1
    assert got[0] == status


def test_fast_path_counts_requests_as_flask_does(news, fast):
    site = news.state.site
    for path, method, headers in requests_of(site):
        before = request_counts(news)
        call(fast, path, method, headers)
        by_fast = {k: v - before.get(k, 0) for k, v in request_counts(news).items()}
        before = request_counts(news)
        call(fast.fallback, path, method, headers)
        by_flask = {k: v - before.get(k, 0) for k, v in request_counts(news).items()}
        assert {k: v for k, v in by_fast.items() if v} == \
            {k: v for k, v in by_flask.items() if v}, (path, method, headers)
    counts = request_counts(news)
    assert {("feed", "200"), ("feed", "304"), ("feed", "412"), ("page", "200"),
            ("opml", "200")} <= set(counts)


def test_an_empty_path_is_the_index_never_a_redirect_built_from_host(news, fast):
    # "GET http://evil.example HTTP/1.1" reaches the app with an empty path; Werkzeug would
    # answer 308 with Location: http://evil.example/ (from the forged Host).
    environ = EnvironBuilder(path="/", headers={"Host": "evil.example"}).get_environ()
    environ["PATH_INFO"] = ""
    started = []
    body = b"".join(fast(environ, lambda status, headers, exc_info=None:
                         started.append((status, dict(headers)))))
    [(status, headers)] = started
    assert status == "200 OK" and "Location" not in headers
    assert body == news.state.site.document("/").body


def test_before_the_first_load_flask_answers_503(unloaded):
    assert call(unloaded, "/feeds/all.rss")[0] == "503 SERVICE UNAVAILABLE"


def test_a_bug_on_the_fast_path_is_a_plain_500_from_flask(news, monkeypatch):
    def broken(*args):
        raise RuntimeError("bug")
    monkeypatch.setattr(web_http, "evaluate_preconditions", broken)
    status, headers, body = call(news, "/feeds/all.rss")
    assert status == "500 INTERNAL SERVER ERROR"
    assert body == b"Internal error.\n"
    assert request_counts(news)[("feed", "500")] == 1   # as the Flask view counts it


def test_fast_path_starts_the_reload_scheduler_lazily(make_app, write_post):
    write_post("one", title="One", categories="news")
    app = make_app(auto_reload=True)
    scheduler = app.state.scheduler
    scheduler.shutdown()
    scheduler.wanted = True          # as in a process that serves but has not started it
    assert not scheduler.running
    assert call(app, "/feeds/all.rss")[0] == "200 OK"
    assert scheduler.running


def test_flask_has_no_hook_the_fast_path_skips(make_app):
    # The fast path runs only _screen_request's checks, the scheduler's lazy start and
    # _count_request. A new hook must be mirrored in DocumentFastPath, then listed here.
    app = make_app(auto_reload=True)
    scheduler = app.state.scheduler
    assert app.before_request_funcs == {None: [web_views._screen_request, scheduler.ensure_started]}
    assert app.after_request_funcs == {None: [web_views._count_request]}
    assert not any(app.url_value_preprocessors.values())
    assert not any(app.teardown_request_funcs.values())
    assert app.blueprints["feedsvc"].before_request_funcs == {}
