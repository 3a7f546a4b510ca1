"""End to end: real gunicorn, 2 workers, a 1 s reload interval; a new post reaches both workers.

Each worker holds its own snapshot and runs its own scheduler (docs/freshness.md). The test
checks both workers pick a post up within interval + 2 s (the issue's bound), first while
idle (no request has reached them, so no lazy start can help), then while busy, and that
they serve the same bytes and ETag. Two runs: ``feedsvc serve --workers 2``, and
``gunicorn --preload`` (the app, scheduler included, made in the master before the fork).

Which worker answered is read from Linux's /proc, not from the response: the worker whose
file descriptors hold the server end of the request's TCP connection. So the service needs no
header of its own for this test.
"""
from __future__ import annotations

import http.client
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest

from tests.support.net import free_port, listening, wait_until
from tests.support.procs import children, socket_owner
from tests.support.serve import (PYTHON, START_LIMIT, child_env, log_tail, serve_command,
                                 started)

INTERVAL = 1             # FEEDSVC_RELOAD_INTERVAL of the servers under test
FRESH_LIMIT = INTERVAL + 2.0
FEED = "/feeds/all.atom"


def post(title: str, day: int) -> str:
    return (f'---\ntitle: "{title}"\ndate: 2025-07-{day:02d} 08:00:00 +0800\n'
            f"categories: metro\ntags: [早高峰]\n---\n<p>Just written.</p>\n")


def fetch_from_worker(port: int, pids: set[int]) -> tuple[int | None, str, bytes]:
    """GET the feed on a new connection; return the worker that answered, ETag and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", FEED)
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200
        # Still open (keep-alive): the worker holds its end of the socket.
        worker = socket_owner(port, connection.sock.getsockname()[1], pids)
        return worker, response.getheader("ETag"), body
    finally:
        connection.close()


def first_title(body: bytes) -> str:
    entries = feedparser.parse(body).entries
    return entries[0].title if entries else ""


def wait_until_listening(process: subprocess.Popen, port: int, log: Path) -> set[int]:
    """Wait for the port and two workers, without an HTTP request (which would wake one)."""
    def two_workers() -> set[int] | None:
        pids = children(process.pid)
        return pids if len(pids) == 2 and listening(port) else None
    return wait_until(two_workers, f"port {port} to listen with 2 workers", START_LIMIT,
                      alive=lambda: process.poll() is None, why=lambda: ":\n" + log_tail(log))


def poll_workers(port: int, pids: set[int], done: Callable[[dict], bool], limit: float,
                 what: str, expect: str | None = None) -> dict[int, tuple[str, bytes]]:
    """GET the feed on new connections until *done*(latest answer by worker) or *limit* s.

    With *expect*, every answer must already show that newest title.
    """
    seen: dict[int, tuple[str, bytes]] = {}
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        worker, etag, body = fetch_from_worker(port, pids)
        if expect is not None:
            assert first_title(body) == expect, f"worker {worker} served a stale feed"
        if worker is not None:
            seen[worker] = (etag, body)
        if done(seen):
            return seen
    pytest.fail(f"{what} within {limit} s; workers seen: "
                f"{ {pid: first_title(body) for pid, (_, body) in seen.items()} }")


def write_post(site_dir: Path, title: str, day: int) -> None:
    path = site_dir / "_posts" / f"2025-07-{day:02d}-fresh.md"
    path.write_text(post(title, day), encoding="utf-8")


def all_show(title: str):
    return lambda seen: (len(seen) == 2
                         and all(first_title(body) == title for _, body in seen.values()))


def check_fresh_on_both_workers(process: subprocess.Popen, port: int, site_dir: Path,
                                log: Path) -> None:
    pids = wait_until_listening(process, port, log)
    # 1. Idle workers: nothing has asked them anything. A worker with no scheduler of its
    # own would still hold the snapshot it was forked (or started) with.
    write_post(site_dir, "Idle 闲置", 1)
    time.sleep(FRESH_LIMIT)
    first = poll_workers(port, pids, lambda seen: len(seen) == 2, START_LIMIT,
                         "did not reach both workers", expect="Idle 闲置")
    (etag_a, body_a), (etag_b, body_b) = first.values()
    assert (etag_a, body_a) == (etag_b, body_b)   # the same store, the same bytes and ETag
    # 2. Busy workers: answering requests while the post is written.
    write_post(site_dir, "Fresh post 新鲜出炉", 2)
    after = poll_workers(port, pids, all_show("Fresh post 新鲜出炉"), FRESH_LIMIT,
                         "the new post did not reach both workers")
    (etag_c, body_c), (etag_d, body_d) = after.values()
    assert (etag_c, body_c) == (etag_d, body_d)
    assert etag_c != etag_a


def check_command(command: list[str], site_dir: Path, log: Path, port: int) -> None:
    """Run *command* (serving on *port*) on *site_dir*, reloading every INTERVAL s; check."""
    env = child_env(FEEDSVC_SITE_DIR=str(site_dir), FEEDSVC_RELOAD_INTERVAL=str(INTERVAL))
    with started(command, log, env) as process:
        check_fresh_on_both_workers(process, port, site_dir, log)
    assert "Traceback" not in log.read_text()


def test_new_post_reaches_both_workers_of_feedsvc_serve(sample_site, tmp_path):
    port = free_port()
    check_command(serve_command(port, "--site", str(sample_site), "--workers", "2"),
                  sample_site, tmp_path / "serve.log", port)


def test_new_post_reaches_both_workers_with_preload(sample_site, tmp_path):
    # The master makes the app (and starts a scheduler) before forking: a thread does not
    # survive fork(), so each worker must have started its own after the fork.
    port = free_port()
    check_command([PYTHON, "-m", "gunicorn", "--preload", "--workers", "2",
                   "--worker-class", "gthread", "--threads", "2",
                   "--bind", f"127.0.0.1:{port}", "wsgi:app"], sample_site,
                  tmp_path / "gunicorn.log", port)
