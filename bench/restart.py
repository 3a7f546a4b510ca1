#!/usr/bin/env python3
"""Restart-to-ready of ``feedsvc serve`` with a warm cache_dir, with and without saved documents.

    python -m bench.restart SITE [SITE ...] [--repeats 3]

For each site (a folder made by ``bench/make_store.py N OUT``, never inside the checkout):
one priming run fills cache_dir (parse cache and saved documents); then, alternated,
restarts that keep the saved documents and restarts that remove them first (the parse cache
alone: every feed is built before anything is served). Each restart is timed from the
process start until ``/readyz`` answers 200 and ``/feeds/all.atom`` 200, and until
``/healthz`` says ``ok`` (the catch-up reload done). Medians are printed as a Markdown table
with the load average before and after. Bounded: every wait stops after --limit seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    """Return (status, body) of a GET; (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def until(check, limit: float) -> float:
    """Poll *check* every 5 ms until it is true; return when, or raise after *limit* s."""
    began = time.perf_counter()
    while not check():
        if time.perf_counter() - began > limit:
            raise TimeoutError(f"not within {limit} s")
        time.sleep(0.005)
    return time.perf_counter()


def restart(site: Path, cache: Path, limit: float) -> dict[str, float]:
    """Start feedsvc serve once on *site*; return seconds to ready, to a feed, to caught up."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(PYTHONPATH=str(ROOT), FEEDSVC_SITE_DIR=str(site), FEEDSVC_CACHE_DIR=str(cache),
               FEEDSVC_RELOAD_INTERVAL="3600")
    command = [sys.executable, "-m", "feedsvc.cli", "serve", "--port", str(port),
               "--workers", "1", "--no-access-log"]
    began = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        ready = until(lambda: get(base + "/readyz")[0] == 200, limit)
        feed = until(lambda: get(base + "/feeds/all.atom")[0] == 200, limit)
        caught_up = until(
            lambda: json.loads(get(base + "/healthz")[1] or b"{}").get("status") == "ok", limit)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    return {"ready": ready - began, "feed": feed - began, "caught_up": caught_up - began}


def loadavg() -> str:
    """Return the 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sites", nargs="+", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=float, default=300.0)
    args = parser.parse_args()
    rows = []
    for site in args.sites:
        cache = Path(tempfile.mkdtemp(prefix="feedsvc-bench-cache-"))
        try:
            restart(site, cache, args.limit)   # prime: parse cache and saved documents
            before = loadavg()
            runs: dict[str, list[dict[str, float]]] = {"documents": [], "parse cache": []}
            for _ in range(args.repeats):
                runs["documents"].append(restart(site, cache, args.limit))
                saved = [p for p in cache.iterdir() if p.name.startswith("documents.sqlite3")]
                moved = cache.parent / (cache.name + "-saved")
                moved.mkdir(exist_ok=True)
                for path in saved:
                    path.rename(moved / path.name)
                runs["parse cache"].append(restart(site, cache, args.limit))
                for path in cache.iterdir():
                    if path.name.startswith("documents.sqlite3"):
                        path.unlink()
                for path in moved.iterdir():
                    path.rename(cache / path.name)
                moved.rmdir()
            after = loadavg()
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        posts = sum(1 for _ in (site / "_posts").rglob("*.md"))
        for kind, measured in runs.items():
            rows.append((posts, kind, *(statistics.median(m[key] for m in measured)
                                        for key in ("ready", "feed", "caught_up")),
                         before, after))
    print("| posts | restart with | ready (/readyz 200) | first feed | caught up (/healthz ok) "
          "| load before | load after |")
    print("|---|---|---|---|---|---|---|")
    for posts, kind, ready, feed, caught_up, before, after in rows:
        print(f"| {posts:,} | {kind} | {ready:.2f} s | {feed:.2f} s | {caught_up:.2f} s "
              f"| {before} | {after} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
