"""/metrics: requests by route and status, reloads, one registry per app."""
from __future__ import annotations

from tests.web.news import FEED


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
                 "feedsvc_posts 4.0",
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
