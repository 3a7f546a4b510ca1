#!/usr/bin/env python3
"""Restart-to-ready of ``feedsvc serve`` with a warm cache_dir, with and without saved documents.

    python -m bench.restart SITE [SITE ...] [--repeats 3]

For each site (a folder made by ``python -m bench.make_store N OUT``, never inside the
checkout): one priming run fills cache_dir (parse cache and saved documents); then,
alternated, restarts that keep the saved documents and restarts that remove them first (the
parse cache alone: every feed is built before anything is served). Each restart is timed from the
process start until ``/readyz`` answers 200 and ``/feeds/all.atom`` 200, and until
``/healthz`` says ``ok`` (the catch-up reload done). Medians are printed as a Markdown table
with the load average before and after. Bounded: every wait stops after --limit seconds.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.net import answers_200, fetch, free_port
from tests.support.serve import child_env, serve_command, started


def until(check: Callable[[], bool], limit: float) -> float:
    """Poll *check* every 5 ms until it is true; return when, or raise after *limit* s.

    Finer than ``tests.support.net.wait_until`` (50 ms): the figures are these moments.
    """
    began = time.perf_counter()
    while not check():
        if time.perf_counter() - began > limit:
            raise TimeoutError(f"not within {limit} s")
        time.sleep(0.005)
    return time.perf_counter()


def healthy(base: str) -> bool:
    """Return whether ``/healthz`` says ``ok`` (the catch-up reload is done)."""
    try:
        body = fetch(base + "/healthz")[2]
    except OSError:   # not listening yet
        return False
    return json.loads(body or b"{}").get("status") == "ok"


def restart(site: Path, cache: Path, limit: float) -> dict[str, float]:
    """Start feedsvc serve once on *site*; return seconds to ready, to a feed, to caught up."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = child_env(FEEDSVC_SITE_DIR=str(site), FEEDSVC_CACHE_DIR=str(cache),
                    FEEDSVC_RELOAD_INTERVAL="3600")
    command = serve_command(port, "--workers", "1", "--no-access-log")
    log = cache.parent / (cache.name + ".log")
    began = time.perf_counter()
    with started(command, log, env, grace=30, start_new_session=True):
        ready = until(lambda: answers_200(base + "/readyz"), limit)
        feed = until(lambda: answers_200(base + "/feeds/all.atom"), limit)
        done = until(lambda: healthy(base), limit)
    return {"ready": ready - began, "feed": feed - began, "caught_up": done - began}


def loadavg() -> str:
    """Return the 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.restart",
                                     description=__doc__.split("\n\n")[0])
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
            Path(cache.parent, cache.name + ".log").unlink(missing_ok=True)
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
