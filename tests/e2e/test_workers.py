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
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import pytest

from feedsvc.config import SAMPLE_SITE

ROOT = Path(__file__).resolve().parent.parent
INTERVAL = 1             # FEEDSVC_RELOAD_INTERVAL of the servers under test
START_LIMIT = 15.0       # seconds to wait for a server to answer
FRESH_LIMIT = INTERVAL + 2.0
FEED = "/feeds/all.atom"


def post(title: str, day: int) -> str:
    return (f'---\ntitle: "{title}"\ndate: 2025-07-{day:02d} 08:00:00 +0800\n'
            f"categories: metro\ntags: [早高峰]\n---\n<p>Just written.</p>\n")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(master: int) -> set[int]:
    """Return the pids of the processes whose parent is *master* (gunicorn's workers)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == master:   # proc(5): field 4 is ppid
            pids.add(int(entry))
    return pids


def socket_owner(server_port: int, client_port: int, pids: set[int]) -> int | None:
    """Return which of *pids* holds the server end of the connection from *client_port*."""
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            inode = fields[9]
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


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


def run(command: list[str], site_dir: Path, log: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(FEEDSVC_SITE_DIR=str(site_dir), FEEDSVC_RELOAD_INTERVAL=str(INTERVAL),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    with log.open("wb") as stderr:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=stderr, stderr=stderr)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_listening(process: subprocess.Popen, port: int, log: Path) -> set[int]:
    """Wait for the port and two workers, without an HTTP request (which would wake one)."""
    deadline = time.monotonic() + START_LIMIT
    while True:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            pass
        else:
            if len(pids := children(process.pid)) == 2:
                return pids
        if time.monotonic() > deadline:
            pytest.fail(f"server not listening with 2 workers within {START_LIMIT} s:\n"
                        f"{log.read_text()}")
        time.sleep(0.05)


def poll_workers(port: int, pids: set[int], done, limit: float, what: str,
                 expect: str | None = None) -> dict[int, tuple[str, bytes]]:
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


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "site"
    shutil.copytree(SAMPLE_SITE, copy)
    return copy


def test_new_post_reaches_both_workers_of_feedsvc_serve(site_dir, tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    process = run([sys.executable, "-m", "feedsvc.cli", "serve", "--site", str(site_dir),
                   "--workers", "2", "--port", str(port)], site_dir, log)
    try:
        check_fresh_on_both_workers(process, port, site_dir, log)
    finally:
        stop(process)
    assert "Traceback" not in log.read_text()


def test_new_post_reaches_both_workers_with_preload(site_dir, tmp_path):
    # The master makes the app (and starts a scheduler) before forking: a thread does not
    # survive fork(), so each worker must have started its own after the fork.
    port, log = free_port(), tmp_path / "gunicorn.log"
    process = run([sys.executable, "-m", "gunicorn", "--preload", "--workers", "2",
                   "--worker-class", "gthread", "--threads", "2",
                   "--bind", f"127.0.0.1:{port}", "wsgi:app"], site_dir, log)
    try:
        check_fresh_on_both_workers(process, port, site_dir, log)
    finally:
        stop(process)
    assert "Traceback" not in log.read_text()
