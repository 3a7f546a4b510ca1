"""A real WebSub hub (Flask-WebSub 0.4.1, tests/support/websub.py) and a real subscriber.

feedsvc runs in this process behind a real HTTP server (Werkzeug's, threaded) on
127.0.0.1, with ``websub_hubs`` naming the hub. A subscriber subscribes to a category feed
through the hub, a post is added to the store, a reload finds it and feedsvc pings the hub,
which fetches the topic from feedsvc and delivers it. The hub runs its Celery tasks eagerly,
so once the notifier is idle, every delivery it caused has arrived.
"""
from __future__ import annotations

import threading

import feedparser
import pytest
from werkzeug.serving import make_server

from feedsvc import create_app
from tests.support.net import free_port
from tests.support.websub import LOOPBACK, Subscriber, running_hub

POLL = 0.02


@pytest.fixture
def hub_url(tmp_path):
    pytest.importorskip("celery")
    pytest.importorskip("flask_websub.hub")
    with running_hub(tmp_path / "hub") as url:
        yield url


@pytest.fixture
def served(site_dir, clock, hub_url, write_post):
    """feedsvc serving site_dir on a real port, its public URL that port, WebSub on."""
    port = free_port()
    write_post("first", date="2024-05-01 08:00:00 +0800", title="First 第一",
               categories=["metro"], tags=["早高峰"])
    app = create_app({"site_dir": str(site_dir), "auto_reload": False,
                      "public_url": f"http://{LOOPBACK}:{port}", "websub_hubs": hub_url},
                     clock=clock)
    server = make_server(LOOPBACK, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(POLL,), daemon=True)
    thread.start()
    try:
        yield app, f"http://{LOOPBACK}:{port}"
    finally:
        app.state.publisher.close(1)
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_subscriber_to_a_category_gets_a_new_post_through_the_real_hub(
        served, hub_url, write_post):
    app, base = served
    app.state.site.reload()             # the process's first reload after its first load
    topic, alias = f"{base}/feeds/categories/metro.atom", f"{base}/feed/metro.xml"
    with Subscriber() as subscriber, Subscriber() as by_alias:
        subscriber.subscribe(hub_url, topic, secret="s3cret")
        by_alias.subscribe(hub_url, alias)
        write_post("second", date="2024-05-02 08:00:00 +0800", title="Second 第二",
                   categories=["metro"], tags=["早高峰"])
        app.state.site.reload()
        assert app.state.publisher.notifier().flush(10)
        [delivery] = subscriber.wait_for_deliveries(1)
        [aliased] = by_alias.wait_for_deliveries(1)
    feed = feedparser.parse(delivery.content)
    assert [entry.title for entry in feed.entries] == ["Second 第二", "First 第一"]
    assert delivery.content == app.state.site.document("/feeds/categories/metro.atom").body
    assert delivery.links == {"hub": hub_url, "self": topic}
    assert delivery.signature_ok("s3cret")
    # The jekyll-feed path names itself (issue 12): its own bytes, same entries.
    assert aliased.content == app.state.site.document("/feed/metro.xml").body
    assert aliased.links["self"] == alias
    snapshot = app.state.publisher.snapshot()
    assert (snapshot["sent"], snapshot["failed"]) == (12, 0)   # 4 feeds: 3 formats + alias


def test_flask_websub_forwards_content_encoding_gzip_with_a_decoded_body(
        served, hub_url, write_post):
    # What docs/aggregators.md says of this hub: it fetches with requests (which asks for
    # gzip and decodes it), then sends the decoded body under the topic's headers, the
    # Content-Encoding included. feedsvc answers the fetch correctly, with gzip.
    app, base = served
    app.state.site.reload()
    topic = f"{base}/feeds/all.rss"
    with Subscriber() as subscriber:
        subscriber.subscribe(hub_url, topic)
        write_post("second", date="2024-05-02 08:00:00 +0800", title="Second",
                   categories=["metro"])
        app.state.site.reload()
        assert app.state.publisher.notifier().flush(10)
        [delivery] = subscriber.wait_for_deliveries(1)
    assert delivery.headers["content-encoding"] == "gzip"
    assert delivery.body[:2] != b"\x1f\x8b"                 # ...but the body is not gzip
    assert delivery.body == app.state.site.document("/feeds/all.rss").body
    assert int(delivery.headers["content-length"]) == len(delivery.body)
