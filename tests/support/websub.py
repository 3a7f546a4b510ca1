"""WebSub test support: a real hub, a subscriber, a topic to publish, all on 127.0.0.1.

- :func:`running_hub` runs the hub of the PyPI package Flask-WebSub (0.4.1), a W3C WebSub
  hub, in a thread of the test process, with Celery in eager mode (``task_always_eager``): its
  tasks (verify a subscriber, fetch the topic, deliver to every subscriber, retry) run inside
  the hub's HTTP request, so a subscribe or publish request is answered ``202`` only once that
  work is done. Needs ``pip install Flask-WebSub==0.4.1 celery`` (see docs/aggregators.md).
- :class:`Subscriber` is a WebSub subscriber: it asks a hub for a subscription, answers the
  hub's verification of intent with ``hub.challenge``, and records every content distribution
  (body and headers, ``Link`` and ``X-Hub-Signature`` included).
- :class:`TopicServer` serves an Atom feed (the topic) with the ``Link: rel="hub"`` and
  ``rel="self"`` headers that the hub copies into its distribution.
- :class:`ScriptedServer` answers each request with the next status of a script and records
  the request; it stands in for a hub only where a test needs a status a real hub will not
  give on demand (503, 429, a redirect).

Nothing here imports feedsvc. Every server binds 127.0.0.1 and stops when its block ends.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import hmac
import re
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
# serve_forever's poll: how long shutdown() may wait (the default 0.5 s adds up in a suite).
POLL_INTERVAL = 0.02
# What the hub is told in tests: fail fast, retry a delivery once.
HUB_TEST_CONFIG = {"REQUEST_TIMEOUT": 2, "MAX_ATTEMPTS": 2, "BACKOFF_BASE": 0.0}


def post_form(url: str, fields: list[tuple[str, str]], timeout: float = 10.0) -> tuple[int, str]:
    """POST *fields* form-encoded to *url*; return (status, body text), 4xx/5xx included."""
    data = urllib.parse.urlencode(fields).encode("ascii")
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode("utf-8", "replace")


def parse_links(value: str | None) -> dict[str, str]:
    """``<url>; rel="hub", <url>; rel=self`` → {"hub": url, "self": url}."""
    return {rel: url for url, rel in
            re.findall(r'<([^>]*)>\s*;\s*rel="?([^";,\s]+)"?', value or "")}


# -- the hub -----------------------------------------------------------------------------------

def make_hub_app(db_path: str | Path, **hub_config: Any) -> Any:
    """A Flask app whose ``POST /hub`` is Flask-WebSub's hub endpoint, Celery in eager mode.

    ``PUBLISH_SUPPORTED`` (accept ``hub.mode=publish`` over HTTP) is read from the *app's*
    config, the rest (timeouts, retries) from the Hub's own keyword arguments.
    """
    from celery import Celery
    from flask import Flask
    from flask_websub.hub import Hub, SQLite3HubStorage

    app = Flask("websub_test_hub")
    app.config["PUBLISH_SUPPORTED"] = True
    celery = Celery("websub_test_hub", broker="memory://", set_as_current=False)
    celery.conf.update(task_always_eager=True, task_eager_propagates=False,
                       broker_connection_retry_on_startup=False)
    hub = Hub(SQLite3HubStorage(str(db_path)), celery, **{**HUB_TEST_CONFIG, **hub_config})
    app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))
    app.extensions["websub_hub"] = hub
    return app


@contextlib.contextmanager
def running_hub(db_dir: str | Path | None = None, **hub_config: Any) -> Iterator[str]:
    """Run Flask-WebSub's hub on 127.0.0.1:<free port> in a thread; yield its URL (``.../hub``).

    Subscriptions live in a SQLite file in *db_dir* (a temporary folder when None).
    """
    from werkzeug.serving import make_server

    with contextlib.ExitStack() as stack:
        if db_dir is None:
            db_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="websub-hub-"))
        Path(db_dir).mkdir(parents=True, exist_ok=True)
        app = make_hub_app(Path(db_dir) / "hub.sqlite3", **hub_config)
        server = make_server(LOOPBACK, 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, args=(POLL_INTERVAL,),
                                  name="websub-hub", daemon=True)
        thread.start()
        try:
            yield f"http://{LOOPBACK}:{server.server_port}/hub"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)


# -- small HTTP servers ------------------------------------------------------------------------

class _Server:
    """A ThreadingHTTPServer on 127.0.0.1:0 in a daemon thread; a context manager."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self   # type: ignore[attr-defined]
        self.port: int = self.httpd.server_address[1]
        self.base_url = f"http://{LOOPBACK}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(POLL_INTERVAL,),
                                        daemon=True, name=type(self).__name__)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def __enter__(self):  # noqa: ANN204
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
               extra: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        for name, value in extra or []:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


def atom_feed(topic_url: str, hub_url: str, entries: list[str], updated: str) -> bytes:
    """A minimal valid Atom feed whose entries are titled *entries*."""
    items = "".join(
        f"<entry><id>{topic_url}#{i}</id><title>{title}</title><updated>{updated}</updated>"
        f"<link href=\"{topic_url}#{i}\"/></entry>" for i, title in enumerate(entries))
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>{topic_url}</id><title>WebSub test feed</title><updated>{updated}</updated>"
        f'<link rel="self" href="{topic_url}"/><link rel="hub" href="{hub_url}"/>'
        f"<author><name>test</name></author>{items}</feed>\n").encode("utf-8")


class TopicServer(_Server):
    """Serves one mutable document per path (default ``/feed.atom``), with the Link headers.

    ``Link: <hub>; rel="hub"`` and ``Link: <url>; rel="self"`` go out as two headers, the form
    feedsvc would send; Flask-WebSub refuses to distribute a topic without both (and it looks
    for the quoted ``rel="hub"``).
    """

    def __init__(self, hub_url: str) -> None:
        self.hub_url = hub_url
        self.documents: dict[str, bytes] = {}
        self.fetches: list[str] = []
        self._lock = threading.Lock()

        class Handler(_Quiet):
            def do_GET(handler) -> None:  # noqa: N805
                path = handler.path.split("?", 1)[0]
                with self._lock:
                    body = self.documents.get(path)
                    self.fetches.append(path)
                if body is None:
                    handler._reply(404, b"no such topic\n", {"Content-Type": "text/plain"})
                    return
                handler._reply(200, body, {"Content-Type": "application/atom+xml; charset=utf-8"},
                               [("Link", f'<{self.hub_url}>; rel="hub"'),
                                ("Link", f'<{self.url(path)}>; rel="self"')])

            do_HEAD = do_GET

        super().__init__(Handler)

    def url(self, path: str = "/feed.atom") -> str:
        return self.base_url + path

    def publish(self, body: bytes, path: str = "/feed.atom") -> str:
        """Set the document at *path*; return its URL (the topic)."""
        with self._lock:
            self.documents[path] = body
        return self.url(path)


@dataclass
class Delivery:
    """One content distribution request the hub made to a subscriber."""

    path: str
    headers: dict[str, str]      # header names lower-cased; repeated headers joined by ", "
    body: bytes
    received: float = field(default_factory=time.monotonic)

    @property
    def links(self) -> dict[str, str]:
        return parse_links(self.headers.get("link"))

    @property
    def content(self) -> bytes:
        """The topic's bytes: the body, gunzipped if it really is gzip.

        Flask-WebSub 0.4.1 forwards the topic's ``Content-Encoding: gzip`` with the body its
        HTTP client already decoded (docs/aggregators.md), so a body labelled gzip that does
        not start with gzip's magic number is taken as it is.
        """
        labelled = "gzip" in self.headers.get("content-encoding", "").lower()
        if labelled and self.body[:2] == b"\x1f\x8b":
            return gzip.decompress(self.body)
        return self.body

    def signature_ok(self, secret: str) -> bool:
        """Check ``X-Hub-Signature: <algo>=<hex HMAC of the body>`` against *secret*."""
        algo, _, digest = self.headers.get("x-hub-signature", "").partition("=")
        if algo not in {"sha1", "sha256", "sha384", "sha512"} or not digest:
            return False
        expected = hmac.new(secret.encode("utf-8"), self.body, getattr(hashlib, algo)).hexdigest()
        return hmac.compare_digest(expected, digest)


class Subscriber(_Server):
    """A WebSub subscriber on 127.0.0.1: one callback URL, any number of topics.

    ``GET <callback>?hub.mode=subscribe&hub.topic=T&hub.challenge=C`` is answered ``200 C`` when
    T is a topic this subscriber asked for (``404`` otherwise, as the Recommendation says);
    ``POST <callback>`` (content distribution) is recorded and answered ``delivery_status``.
    """

    def __init__(self, delivery_status: int = 200) -> None:
        self.delivery_status = delivery_status
        self.intents: dict[str, str] = {}          # topic -> mode we asked for
        self.verifications: list[dict[str, str]] = []
        self.deliveries: list[Delivery] = []
        self._cond = threading.Condition()

        class Handler(_Quiet):
            def do_GET(handler) -> None:  # noqa: N805
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(handler.path).query))
                mode, topic = query.get("hub.mode"), query.get("hub.topic", "")
                with self._cond:
                    self.verifications.append(query)
                    wanted = self.intents.get(topic) == mode
                    self._cond.notify_all()
                if mode == "denied":
                    handler._reply(200)
                elif mode in ("subscribe", "unsubscribe") and wanted and "hub.challenge" in query:
                    handler._reply(200, query["hub.challenge"].encode("utf-8"),
                                   {"Content-Type": "text/plain; charset=utf-8"})
                else:
                    handler._reply(404, b"unknown subscription\n")

            def do_POST(handler) -> None:  # noqa: N805
                body = handler._body()
                headers: dict[str, str] = {}
                for name, value in handler.headers.items():
                    key = name.lower()
                    headers[key] = f"{headers[key]}, {value}" if key in headers else value
                with self._cond:
                    self.deliveries.append(Delivery(handler.path, headers, body))
                    self._cond.notify_all()
                handler._reply(self.delivery_status)

        super().__init__(Handler)
        self.callback_url = self.base_url + "/callback"

    def subscribe(self, hub_url: str, topic: str, *, secret: str | None = None,
                  lease_seconds: int | None = None, timeout: float = 10.0) -> None:
        """Ask *hub_url* for *topic*; return once the hub has verified our intent."""
        self._request(hub_url, "subscribe", topic, secret, lease_seconds, timeout)

    def unsubscribe(self, hub_url: str, topic: str, timeout: float = 10.0) -> None:
        self._request(hub_url, "unsubscribe", topic, None, None, timeout)

    def _request(self, hub_url: str, mode: str, topic: str, secret: str | None,
                 lease_seconds: int | None, timeout: float) -> None:
        with self._cond:
            self.intents[topic] = mode
            seen = len(self.verifications)
        fields = [("hub.mode", mode), ("hub.topic", topic), ("hub.callback", self.callback_url)]
        if secret is not None:
            fields.append(("hub.secret", secret))
        if lease_seconds is not None:
            fields.append(("hub.lease_seconds", str(lease_seconds)))
        status, text = post_form(hub_url, fields, timeout)
        if status not in (202, 204):
            raise AssertionError(f"hub answered {mode} with {status}: {text!r}")
        # A hub verifies later (202); Flask-WebSub in eager mode has done it already.
        with self._cond:
            ok = self._cond.wait_for(lambda: any(
                v.get("hub.topic") == topic and v.get("hub.mode") == mode
                for v in self.verifications[seen:]), timeout)
        if not ok:
            raise AssertionError(f"the hub did not verify {mode} of {topic} in {timeout}s")

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """Wait until at least *count* deliveries arrived; return them all."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.deliveries) >= count, timeout):
                raise AssertionError(
                    f"{len(self.deliveries)} deliveries after {timeout}s, wanted {count}")
            return list(self.deliveries)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: list[tuple[str, str]]


class ScriptedServer(_Server):
    """Answers request *n* with ``script[n]`` (the last entry repeats) and records it.

    An entry is a status, or ``(status, {header: value})``. Not a hub: for statuses only.
    """

    def __init__(self, script: list[int | tuple[int, dict[str, str]]]) -> None:
        self.script = list(script)
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

        class Handler(_Quiet):
            def do_POST(handler) -> None:  # noqa: N805
                form = urllib.parse.parse_qsl(handler._body().decode("ascii", "replace"),
                                              keep_blank_values=True)
                with self._lock:
                    n = len(self.requests)
                    self.requests.append(RecordedRequest(
                        "POST", handler.path, {k.lower(): v for k, v in handler.headers.items()},
                        form))
                    entry = self.script[min(n, len(self.script) - 1)]
                status, headers = entry if isinstance(entry, tuple) else (entry, {})
                handler._reply(status, f"scripted {status}\n".encode(), headers)

        super().__init__(Handler)
        self.url = self.base_url + "/hub"


@contextlib.contextmanager
def unresponsive_port() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen(16)
        yield sock.getsockname()[1]
