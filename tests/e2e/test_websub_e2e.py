"""End to end: real processes publish to a real WebSub hub (Flask-WebSub, in this process).

1. ``feedsvc serve --workers 2`` with a 1 s reload interval: both workers see a new post,
   yet each changed topic reaches the hub once (one sender per server, feedsvc/hostlock.py),
   and a subscriber to a category gets the new bytes, whichever worker the hub's fetch
   reached (the batch waits until both have reloaded: feedsvc/publisher.py). A WSGI
   middleware in front of the hub records every publish ping.
2. ``feedsvc build --watch``: the hub is told once the new export is in place, and fetches
   it from a static file server (which adds the Link headers, as nginx would be told to).
"""
from __future__ import annotations

import collections
import functools
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import pytest

from feedsvc.config import SAMPLE_SITE
from tests.support.net import free_port, wait_until
from tests.support.websub import LOOPBACK, Subscriber, make_hub_app

ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 1
START_LIMIT = 20.0
TAG = "%E6%97%A9%E9%AB%98%E5%B3%B0"   # 早高峰


def new_post(site: Path, title: str) -> None:
    (site / "_posts" / "2025-07-01-fresh.md").write_text(
        f'---\ntitle: "{title}"\ndate: 2025-07-01 08:00:00 +0800\n'
        "categories: metro\ntags: [早高峰]\n---\n<p>Just written.</p>\n", encoding="utf-8")


def changed_topics(base: str) -> set[str]:
    """The topics a new post in category metro with tag 早高峰 changes."""
    feeds = ("all", "categories/metro", f"tags/{TAG}")
    return ({f"{base}/feeds/{feed}.{fmt}" for feed in feeds for fmt in ("rss", "atom", "json")}
            | {f"{base}/feed.xml", f"{base}/feed/metro.xml", f"{base}/feed/by_tag/{TAG}.xml"})


class PingRecorder:
    """WSGI middleware in front of the hub: records the topic of every publish ping."""

    def __init__(self, app) -> None:
        self.app = app
        self.topics: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            form = dict(urllib.parse.parse_qsl(body.decode("ascii")))
            if form.get("hub.mode") == "publish":
                with self.lock:
                    self.topics.append(form.get("hub.topic", ""))
        return self.app(environ, start_response)

    def counts(self) -> collections.Counter[str]:
        with self.lock:
            return collections.Counter(self.topics)


@pytest.fixture
def hub(tmp_path):
    pytest.importorskip("celery")
    pytest.importorskip("flask_websub.hub")
    from werkzeug.serving import make_server
    recorder = PingRecorder(make_hub_app(tmp_path / "hub.sqlite3"))
    server = make_server(LOOPBACK, 0, recorder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    recorder.url = f"http://{LOOPBACK}:{server.server_port}/hub"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def site(tmp_path) -> Path:
    copy = tmp_path / "site"
    shutil.copytree(SAMPLE_SITE, copy)
    return copy


def start(command: list[str], log: Path, **env: str) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    environment.update(env, FEEDSVC_RELOAD_INTERVAL=str(INTERVAL),
                       PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                                os.environ.get("PYTHONPATH")])))
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "feedsvc.cli", *command], cwd=ROOT,
                                env=environment, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out)


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def listening(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=1).close()
    except OSError:
        return False
    return True


def test_two_workers_tell_the_hub_of_each_changed_topic_once(hub, site, tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    base = f"http://{LOOPBACK}:{port}"
    process = start(["serve", "--site", str(site), "--workers", "2", "--port", str(port)], log,
                    FEEDSVC_WEBSUB_HUBS=hub.url, FEEDSVC_PUBLIC_URL=base)
    try:
        wait_until(lambda: process.poll() is not None or listening(port), "feedsvc serve to listen", START_LIMIT)
        assert process.poll() is None, log.read_text()
        time.sleep(INTERVAL + 1)     # each worker's first scheduled reload makes its notifier
        topic = f"{base}/feeds/categories/metro.atom"
        with Subscriber() as subscriber:
            subscriber.subscribe(hub.url, topic)
            new_post(site, "Pushed 推送")
            expected = changed_topics(base)
            wait_until(lambda: set(hub.counts()) >= expected, "a ping for every topic", INTERVAL * 3 + 10)
            # Both workers have seen the change by now; wait as long again for a second ping.
            time.sleep(2 * INTERVAL + 2)
            assert hub.counts() == collections.Counter(expected)
            deliveries = subscriber.wait_for_deliveries(1)
        assert len(deliveries) == 1
        entries = feedparser.parse(deliveries[0].content).entries
        assert entries[0].title == "Pushed 推送"      # the hub fetched the new bytes
        metrics = get(f"{base}/metrics").decode()
        assert re.search(r"^feedsvc_websub_sender 1\.0$", metrics, re.MULTILINE), metrics
        sent = re.search(r'^feedsvc_websub_pings_total\{hub="[^"]+",outcome="sent"\} (\S+)$',
                         metrics, re.MULTILINE)
        assert sent and float(sent.group(1)) == len(expected)
    finally:
        stop(process)
    assert "Traceback" not in log.read_text()


class LinkingFiles(SimpleHTTPRequestHandler):
    """Serve the export with the Link headers a WebSub hub needs (hub, and self)."""

    hub_url = ""
    base = ""

    def end_headers(self) -> None:
        if self.path.startswith("/feed"):
            self.send_header("Link", f'<{self.hub_url}>; rel="hub"')
            self.send_header("Link", f'<{self.base}{self.path}>; rel="self"')
        super().end_headers()

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base's name
        pass


def test_build_watch_tells_the_hub_once_the_new_export_is_in_place(hub, site, tmp_path):
    out, log = tmp_path / "out", tmp_path / "build.log"
    handler = type("Handler", (LinkingFiles,), {"hub_url": hub.url})
    files = ThreadingHTTPServer((LOOPBACK, 0), functools.partial(handler, directory=str(out)))
    handler.base = f"http://{LOOPBACK}:{files.server_address[1]}"
    thread = threading.Thread(target=files.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    process = start(["build", "--site", str(site), "--out", str(out), "--watch",
                     "--interval", str(INTERVAL)], log,
                    FEEDSVC_WEBSUB_HUBS=hub.url, FEEDSVC_PUBLIC_URL=handler.base)
    try:
        wait_until(lambda: process.poll() is not None or (out / "feeds" / "all.atom").exists(), "the first export", START_LIMIT)
        assert process.poll() is None, log.read_text()
        topic = f"{handler.base}/feeds/categories/metro.atom"
        with Subscriber() as subscriber:
            subscriber.subscribe(hub.url, topic)
            new_post(site, "Exported 导出")
            [delivery] = subscriber.wait_for_deliveries(1, timeout=INTERVAL * 3 + 10)
        assert feedparser.parse(delivery.content).entries[0].title == "Exported 导出"
        wait_until(lambda: set(hub.counts()) >= changed_topics(handler.base), "a ping for every changed topic", 10)
        assert stop(process) == 0
    finally:
        if process.poll() is None:
            stop(process)
        files.shutdown()
        files.server_close()
        thread.join(5)
    assert hub.counts() == collections.Counter(changed_topics(handler.base))
    assert "Traceback" not in log.read_text()
