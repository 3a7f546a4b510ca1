"""Hostile requests over a real ``feedsvc serve`` (gunicorn): raw bytes on a socket.

Malformed HTTP gets a 4xx from gunicorn or the app and the worker keeps serving; an
absolute-form target and forged Host headers get the same bytes; 10,000 distinct unknown
URLs on one keep-alive connection do not grow the worker. The same attacks through the test
client are in tests/web/test_hostile_requests.py (and forged Host in tests/web/test_views.py);
the outcomes are listed in docs/reliability.md.
"""
from __future__ import annotations

import socket

import pytest

from tests.support.net import fetch
from tests.support.procs import children, rss_kib
from tests.support.serve import Server, serving
from tests.support.urls import unknown_urls
from tests.web.news import FORGED

FEED = "/feeds/all.rss"
UNKNOWN_URLS = 10_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Run ``feedsvc serve --workers 1`` on the bundled sample; check its log stays clean."""
    log = tmp_path_factory.mktemp("hostile") / "stderr.log"
    with serving(log, "--workers", "1") as running:
        yield running
        assert "Traceback" not in log.read_text()


def raw(port: int, data: bytes) -> bytes:
    """Send *data* on a new connection; return the status line of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        answer = b""
        while b"\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


HOST = b"Host: 127.0.0.1\r\n"
MALFORMED = {
    "no request line": (b"GARBAGE\r\n\r\n", 400),
    "unknown version": (b"GET /feeds/all.rss HTTP/9.9\r\n" + HOST + b"\r\n", 400),
    "HTTP/0.9": (b"GET /feeds/all.rss\r\n\r\n", 400),
    "huge header": (b"GET /feeds/all.rss HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 20000
                    + b"\r\n\r\n", 431),
    "too many headers": (b"GET /feeds/all.rss HTTP/1.1\r\n" + HOST
                         + b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"\r\n", 431),
    "request line over 4 KB": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414),
    "path over 2 KB": (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414),
    "NUL in target": (b"GET /feeds/all\x00.rss HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    "control in method": (b"G\x01T /feeds/all.rss HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    "lower-case method": (b"get /feeds/all.rss HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    "space in target": (b"GET /feeds/all rss HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    "tab separators": (b"GET\t/feeds/all.rss HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    "bare LF": (b"GET /feeds/all.rss HTTP/1.1\nHost: x\n\n", 400),
    "space in header name": (b"GET /feeds/all.rss HTTP/1.1\r\n" + HOST + b"Bad Name: v\r\n\r\n",
                             400),
    "obs-fold": (b"GET /feeds/all.rss HTTP/1.1\r\n" + HOST + b"X-A: v\r\n  folded\r\n\r\n", 400),
    "two Host headers": (b"GET /feeds/all.rss HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    "CL and TE (smuggling)": (b"POST /feeds/all.rss HTTP/1.1\r\n" + HOST
                              + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"0\r\n\r\n", 400),
    "negative Content-Length": (b"GET /feeds/all.rss HTTP/1.1\r\n" + HOST
                                + b"Content-Length: -1\r\n\r\n", 400),
    "raw UTF-8 target": ("GET /feeds/tags/东方网新闻.rss HTTP/1.1\r\n".encode() + HOST + b"\r\n",
                         400),
    "CONNECT": (b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n", 405),
    "POST with a body": (b"POST /feeds/all.rss HTTP/1.1\r\n" + HOST
                         + b"Content-Length: 3\r\n\r\nabc", 405),
    "traversal": (b"GET /feeds/../../../etc/passwd HTTP/1.1\r\n" + HOST + b"\r\n", 404),
    "encoded traversal": (b"GET /feeds/categories/..%2F..%2Fetc%2Fpasswd.rss HTTP/1.1\r\n"
                          + HOST + b"\r\n", 404),
    "OPTIONS *": (b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n", 204),
    "binary validators": (b"GET /feeds/all.rss HTTP/1.1\r\n" + HOST
                          + b"If-Modified-Since: \xff\xfe\r\nIf-None-Match: \"\xff\"\r\n\r\n", 200),
}


def get(server: Server, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Return the status and body of a GET of *path* from *server*."""
    status, _, body = fetch(server.base + path, headers)
    return status, body


def test_raw_malformed_http_gets_a_4xx_and_the_server_keeps_serving(server: Server):
    workers = children(server.process.pid)
    assert len(workers) == 1
    good = get(server, FEED)
    answers = {name: raw(server.port, data) for name, (data, _) in MALFORMED.items()}
    for name, (_, status) in MALFORMED.items():
        assert answers[name].split(b" ")[1] == str(status).encode(), (name, answers[name])
    assert get(server, FEED) == good
    assert children(server.process.pid) == workers      # no worker died or was replaced


def test_absolute_form_and_forged_host_over_the_real_server(server: Server):
    status, body = get(server, FEED)
    assert status == 200
    assert get(server, FEED, FORGED) == (200, body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(b"GET http://evil.example/feeds/all.rss HTTP/1.1\r\nHost: evil.example\r\n"
                     b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, got = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert got == body


def pipelined(port: int, targets: list[str], batch: int = 100) -> set[bytes]:
    """GET every target on one keep-alive connection, *batch* requests at a time."""
    statuses: set[bytes] = set()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        for first in range(0, len(targets), batch):
            chunk = targets[first:first + batch]
            conn.sendall(b"".join(f"GET {t} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
                                  for t in chunk))
            answer = b""
            while answer.count(b"HTTP/1.1 ") < len(chunk):
                data = conn.recv(65536)
                assert data, "the server closed the connection"
                answer += data
            statuses.update(line.split(b" ")[1] for line in answer.split(b"\r\n")
                            if line.startswith(b"HTTP/1.1 "))
    return statuses


def test_ten_thousand_unknown_urls_do_not_grow_the_worker(server: Server):
    [worker] = children(server.process.pid)
    assert pipelined(server.port, unknown_urls(1000, start=10**6)) == {b"404"}    # warm up
    before = rss_kib(worker)
    assert pipelined(server.port, unknown_urls(UNKNOWN_URLS)) == {b"404"}
    grown = rss_kib(worker) - before
    assert children(server.process.pid) == {worker}
    assert grown < 5 * 1024, f"worker RSS grew by {grown} KiB"
