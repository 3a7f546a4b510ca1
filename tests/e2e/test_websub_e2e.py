"""End to end: real processes publish to a real WebSub hub (Flask-WebSub, in this process).

1. ``feedsvc serve --workers 2`` with a 1 s reload interval: both workers see a new post,
   yet each changed topic reaches the hub once (one sender per server, feedsvc/hostlock.py),
   and a subscriber to a category gets the new bytes, whichever worker the hub's fetch
   reached (the batch waits until both have reloaded: feedsvc/publisher.py). A WSGI
   middleware in front of the hub records every publish ping.
2. ``feedsvc build --watch``: the hub is told once the new export is in place, and fetches
   it from a static file server (which adds the Link headers, as nginx would be told to).
3. HubNotifier's host lock: a standby in this process takes over once the child process
   holding the lock is killed.
"""
from __future__ import annotations

import collections
import functools
import io
import re
import signal
import subprocess
import textwrap
import threading
import time
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import pytest

from feedsvc.websub import HubNotifier
from tests.support.net import fetch, free_port, listening, wait_until
from tests.support.serve import PYTHON, child_env, log_tail, serve_command, spawn, stop
from tests.support.websub import LOOPBACK, ScriptedServer, Subscriber, make_hub_app

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


def start(command: list[str], log: Path, **env: str) -> subprocess.Popen:
    """Start *command* (a feedsvc one) reloading every INTERVAL s, with FEEDSVC_* *env*."""
    return spawn(command, log, child_env(FEEDSVC_RELOAD_INTERVAL=str(INTERVAL), **env))


def up_or_exited(process: subprocess.Popen, log: Path, ready, what: str) -> None:
    """Wait (bounded) for ``ready()``; fail quoting the log if *process* exits first."""
    wait_until(ready, what, START_LIMIT, alive=lambda: process.poll() is None,
               why=lambda: ":\n" + log_tail(log))


def test_two_workers_tell_the_hub_of_each_changed_topic_once(hub, sample_site, tmp_path):
    port, log, site = free_port(), tmp_path / "serve.log", sample_site
    base = f"http://{LOOPBACK}:{port}"
    process = start(serve_command(port, "--site", str(site), "--workers", "2"), log,
                    FEEDSVC_WEBSUB_HUBS=hub.url, FEEDSVC_PUBLIC_URL=base)
    try:
        up_or_exited(process, log, lambda: listening(port), "feedsvc serve to listen")
        time.sleep(INTERVAL + 1)     # each worker's first scheduled reload makes its notifier
        topic = f"{base}/feeds/categories/metro.atom"
        with Subscriber() as subscriber:
            subscriber.subscribe(hub.url, topic)
            new_post(site, "Pushed 推送")
            expected = changed_topics(base)
            wait_until(lambda: set(hub.counts()) >= expected, "a ping for every topic",
                       INTERVAL * 3 + 10)
            # Both workers have seen the change by now; wait as long again for a second ping.
            time.sleep(2 * INTERVAL + 2)
            assert hub.counts() == collections.Counter(expected)
            deliveries = subscriber.wait_for_deliveries(1)
        assert len(deliveries) == 1
        entries = feedparser.parse(deliveries[0].content).entries
        assert entries[0].title == "Pushed 推送"      # the hub fetched the new bytes
        metrics = fetch(f"{base}/metrics")[2].decode()
        assert re.search(r"^feedsvc_websub_sender 1\.0$", metrics, re.MULTILINE), metrics
        sent = re.search(r'^feedsvc_websub_pings_total\{hub="[^"]+",outcome="sent"\} (\S+)$',
                         metrics, re.MULTILINE)
        assert sent and float(sent.group(1)) == len(expected)
    finally:
        stop(process, grace=15)
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


def test_build_watch_tells_the_hub_once_the_new_export_is_in_place(hub, sample_site,
                                                                   tmp_path):
    out, log, site = tmp_path / "out", tmp_path / "build.log", sample_site
    handler = type("Handler", (LinkingFiles,), {"hub_url": hub.url})
    files = ThreadingHTTPServer((LOOPBACK, 0), functools.partial(handler, directory=str(out)))
    handler.base = f"http://{LOOPBACK}:{files.server_address[1]}"
    thread = threading.Thread(target=files.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    process = start([PYTHON, "-m", "feedsvc.cli", "build", "--site", str(site), "--out",
                     str(out), "--watch", "--interval", str(INTERVAL)], log,
                    FEEDSVC_WEBSUB_HUBS=hub.url, FEEDSVC_PUBLIC_URL=handler.base)
    try:
        up_or_exited(process, log, (out / "feeds" / "all.atom").exists, "the first export")
        topic = f"{handler.base}/feeds/categories/metro.atom"
        with Subscriber() as subscriber:
            subscriber.subscribe(hub.url, topic)
            new_post(site, "Exported 导出")
            [delivery] = subscriber.wait_for_deliveries(1, timeout=INTERVAL * 3 + 10)
        assert feedparser.parse(delivery.content).entries[0].title == "Exported 导出"
        wait_until(lambda: set(hub.counts()) >= changed_topics(handler.base),
                   "a ping for every changed topic", 10)
        assert stop(process, grace=15) == 0
    finally:
        stop(process, grace=15)
        files.shutdown()
        files.server_close()
        thread.join(5)
    assert hub.counts() == collections.Counter(changed_topics(handler.base))
    assert "Traceback" not in log.read_text()


def test_a_standby_takes_over_when_the_holding_process_dies(tmp_path):
    locks = tmp_path / "locks"
    holder = subprocess.Popen([PYTHON, "-c", textwrap.dedent(f"""
        import sys, time
        from feedsvc.websub import HubNotifier
        n = HubNotifier([], lock_dir={str(locks)!r})
        print(n.role, flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        assert holder.stdout.readline().strip() == "sender"
        with ScriptedServer([204]) as hub:
            n = HubNotifier([hub.url], lock_dir=locks, lock_retry_interval=0.05,
                            backoff_base=0.001, backoff_max=0.01, timeout=5.0)
            try:
                n.notify(["https://news.example.com/feeds/all.atom"])
                assert n.role == "standby" and not n.flush(0.2) and hub.requests == []
                holder.send_signal(signal.SIGKILL)
                holder.wait(5)
                wait_until(lambda: n.role == "sender", "n to become the sender", 5)
                assert n.flush(10) and len(hub.requests) == 1
            finally:
                n.close()
    finally:
        stop(holder)
        holder.stdout.close()
