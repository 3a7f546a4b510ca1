"""WebSub in the service: Link headers on feeds, which topics a reload changed, the pings.

The hub here is a ScriptedServer that records each publish ping (support_websub); the real
hub delivering to a real subscriber is tests/web/test_websub_hub.py and, with two gunicorn
workers, tests/e2e/test_websub_e2e.py.
"""
from __future__ import annotations

import re
import time
from unittest import mock

import pytest

from feedsvc.config import load_settings
from feedsvc.publisher import HubPublisher, changed_topics
from feedsvc.site import Site
from tests.support.net import free_port, wait_until
from tests.support.websub import ScriptedServer
from tests.web.wsgi import call

SITE = "https://news.example.com"
HUBS = ["https://hub.example/", "http://127.0.0.1:9/hub"]


def post(write_post, slug: str, day: int, category: str = "metro", tags=("早高峰",)) -> None:
    write_post(slug, date=f"2024-05-{day:02d} 08:00:00 +0800", title=slug,
               categories=[category], tags=list(tags))


@pytest.fixture
def site_posts(write_post):
    post(write_post, "one", 1, "a/b", ("with space",))
    post(write_post, "two", 2, "weather", ("天气",))


def links(headers) -> list[str]:
    return [value for name, value in headers if name == "Link"]


@pytest.mark.parametrize("path, topic", [
    ("/feeds/all.atom", f"{SITE}/feeds/all.atom"),
    ("/feed.xml", f"{SITE}/feed.xml"),
    ("/feeds/categories/a%2Fb.rss", f"{SITE}/feeds/categories/a%2Fb.rss"),
    ("/feeds/tags/%E5%A4%A9%E6%B0%94.json", f"{SITE}/feeds/tags/%E5%A4%A9%E6%B0%94.json"),
    ("/feed/by_tag/with%20space.xml", f"{SITE}/feed/by_tag/with%20space.xml"),
])
def test_feeds_carry_hub_and_self_link_headers_alike_on_both_paths(site_posts, make_app, path,
                                                                    topic):
    app = make_app(websub_hubs=HUBS)
    fast = app.wsgi_app
    etag = app.state.site.document(path.replace("%2F", "/")
                                   .replace("%E5%A4%A9%E6%B0%94", "天气")
                                   .replace("%20", " ")).etag
    for headers in ({}, {"Accept-Encoding": "gzip"}, {"If-None-Match": etag}):
        with mock.patch.object(fast, "fallback", side_effect=AssertionError("fell back")):
            got = call(fast, path, headers=headers)
        assert got == call(fast.fallback, path, headers=headers)
        assert links(got[1]) == [f'<{hub}>; rel="hub"' for hub in HUBS] + \
            [f'<{topic}>; rel="self"'], headers


def test_no_link_headers_without_hubs_or_on_pages(site_posts, make_app):
    plain = make_app().test_client()
    assert "Link" not in plain.get("/feeds/all.atom").headers
    with_hubs = make_app(websub_hubs=HUBS).test_client()
    for path in ("/", "/feeds/categories/weather", "/feeds.opml", "/healthz"):
        assert "Link" not in with_hubs.get(path).headers, path


def test_a_new_post_changes_every_format_of_its_feeds_and_their_jekyll_feed_paths(
        site_posts, site_dir, clock, write_post):
    site = Site(load_settings({"site_dir": str(site_dir)}, environ={}), clock)
    first = site.reload()
    assert changed_topics(None, first) == []
    assert changed_topics(first, site.reload()) == []
    post(write_post, "three", 3, "metro", ("早高峰",))
    topics = changed_topics(first, site.reload())
    expected = {f"{SITE}/feeds/{feed}.{fmt}" for fmt in ("rss", "atom", "json")
                for feed in ("all", "categories/metro", "tags/%E6%97%A9%E9%AB%98%E5%B3%B0")}
    expected |= {f"{SITE}/feed.xml", f"{SITE}/feed/metro.xml",
                 f"{SITE}/feed/by_tag/%E6%97%A9%E9%AB%98%E5%B3%B0.xml"}
    assert sorted(topics) == sorted(expected)


@pytest.fixture
def hub():
    with ScriptedServer([204]) as server:
        yield server


def test_a_reload_tells_each_hub_of_each_changed_topic_once_in_one_batch(
        site_posts, make_app, write_post, hub):
    app = make_app(websub_hubs=[hub.url])
    site, publisher = app.state.site, app.state.publisher
    assert publisher.snapshot()["role"] == "idle"      # nothing sent on the first load
    site.reload()                                      # no change: nothing to tell
    notifier = publisher.notifier()
    with mock.patch.object(notifier, "notify", wraps=notifier.notify) as notify:
        post(write_post, "three", 3)
        site.reload()
    assert notify.call_count == 1
    assert notifier.flush(10)
    topics = [dict(request.form)["hub.url"] for request in hub.requests]
    assert len(topics) == len(set(topics)) == 12
    assert all(request.form == [("hub.mode", "publish"), ("hub.url", topic),
                                ("hub.topic", topic)]
               for request, topic in zip(hub.requests, topics))
    assert f"{SITE}/feed/metro.xml" in topics and f"{SITE}/feeds/categories/weather.rss" \
        not in topics


def test_healthz_and_metrics_show_what_was_sent(site_posts, make_app, write_post, hub):
    app = make_app(websub_hubs=[hub.url])
    app.state.site.reload()
    post(write_post, "three", 3)
    app.state.site.reload()
    assert app.state.publisher.notifier().flush(10)
    client = app.test_client()
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok"
    assert health["websub"]["role"] == "sender" and health["websub"]["sent"] == 12
    assert health["websub"]["hubs"][hub.url]["last_status"] == 204
    metrics = client.get("/metrics").data.decode()
    assert re.search(rf'^feedsvc_websub_pings_total\{{hub="{re.escape(hub.url)}",'
                     r'outcome="sent"\} 12\.0$', metrics, re.MULTILINE)
    assert re.search(r"^feedsvc_websub_sender 1\.0$", metrics, re.MULTILINE)
    assert re.search(r"^feedsvc_websub_queue_length 0\.0$", metrics, re.MULTILINE)


def test_a_hub_that_is_down_never_holds_up_a_reload_or_changes_health(
        site_posts, make_app, write_post):
    down = f"http://127.0.0.1:{free_port()}/hub"
    app = make_app(websub_hubs=[down])
    app.state.site.reload()
    post(write_post, "three", 3)
    started = time.monotonic()
    app.state.site.reload()
    assert time.monotonic() - started < 2.0
    client = app.test_client()
    assert client.get("/feeds/all.atom").status_code == 200
    wait_until(lambda: app.state.publisher.snapshot()["retried"] >= 1, "a retried publish", 10)
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["status"] == "ok"
    assert "refused" in health.get_json()["websub"]["hubs"][down]["last_error"].lower()
    app.state.publisher.close(0.1)


def test_with_several_workers_a_batch_waits_until_every_worker_has_reloaded(
        site_posts, site_dir, clock, write_post, hub, tmp_path):
    settings = load_settings({"site_dir": str(site_dir), "reload_interval": 1,
                              "websub_hubs": [hub.url]}, environ={})
    publisher = HubPublisher.for_server(settings, str(tmp_path / "locks"))
    assert publisher.settle == 1.0                 # a reload interval
    site = Site(settings, clock, on_reload=publisher.on_reload)
    site.reload()
    site.reload()
    post(write_post, "three", 3)
    site.reload()
    assert publisher.snapshot()["settling_batches"] == 1
    time.sleep(0.5)
    assert hub.requests == []                      # not yet: another worker may lag
    wait_until(lambda: len(hub.requests) == 12, "12 publish pings", 10)
    assert publisher.snapshot()["settling_batches"] == 0
    publisher.close(1)
    assert HubPublisher.for_server(settings, None).settle == 0.0   # one process: at once
    assert HubPublisher.for_server(settings, str(tmp_path), workers=1).settle == 0.0
    assert HubPublisher.for_server(settings, str(tmp_path), workers=2).settle == 1.0


def test_every_server_of_a_host_publishing_the_same_feeds_shares_one_sender_lock(
        site_dir, hub, tmp_path, monkeypatch):
    from feedsvc.publisher import host_lock_dir
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    settings = load_settings({"site_dir": str(site_dir), "websub_hubs": [hub.url]}, environ={})
    other = load_settings({"site_dir": str(site_dir), "websub_hubs": [hub.url],
                           "public_url": "https://elsewhere.example"}, environ={})
    folder = host_lock_dir(settings)
    assert folder == host_lock_dir(settings) != host_lock_dir(other)
    assert folder.parent.stat().st_mode & 0o777 == 0o700
    first, second = (HubPublisher.for_server(settings, folder, workers=1) for _ in range(2))
    try:
        assert (first.notifier().role, second.notifier().role) == ("sender", "standby")
    finally:
        first.close(0.1)
        second.close(0.1)
