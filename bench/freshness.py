#!/usr/bin/env python3
"""Measure what the process model costs: memory and CPU of N gunicorn workers, and reloads.

    python -m bench.make_store 10000 /tmp/s10k
    python -m bench.freshness [SITE ...]      # default: the sample site and /tmp/s10k
    python -m bench.freshness --workers 1 --window 2    # the sample site, briefly

For each site: the in-process cost of a cold load, an unchanged reload and a one-post change
(wall and CPU seconds, files parsed, feeds built); then ``feedsvc serve --workers N`` and
``gunicorn --preload -w N`` for N = 1, 2, 4 (``--workers``): RSS and PSS (proportional set
size: shared pages split between the processes that share them, from
/proc/PID/smaps_rollup) of the master and of each worker once they are idle, and the CPU the
workers spend on reloads every second (FEEDSVC_RELOAD_INTERVAL=1, nothing changing) over a
10 s window (``--window``). Linux only (/proc). Results go to stdout as Markdown tables
(docs/freshness.md quotes them).
"""
from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from feedsvc.config import SAMPLE_SITE, load_settings
from feedsvc.site import Site
from tests.support.net import free_port
from tests.support.procs import children, cpu_seconds, memory_mb
from tests.support.serve import PYTHON, child_env, serve_command, started

WORKERS = (1, 2, 4)
WINDOW = 10.0
DEFAULT_SITES = (SAMPLE_SITE, Path("/tmp/s10k"))


def own_cpu_seconds() -> float:
    """Return the user + system CPU seconds this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def in_process(site_dir: Path) -> dict[str, str]:
    """Time a cold load, an unchanged reload and a one-post change of a copy of the site."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp, "site")
        shutil.copytree(site_dir, copy)
        site = Site(load_settings({"site_dir": str(copy)}))
        rows = {}
        for label, change in (("cold load", False), ("unchanged reload", False),
                              ("newest post edited", True)):
            if change:
                _edit(copy / site.current.snapshot.posts[0].path)
            reads, builds = site.store.reads, site.builder.builds
            wall, cpu = time.perf_counter(), own_cpu_seconds()
            published = site.reload()
            rows[label] = (f"{time.perf_counter() - wall:.3f} s wall, "
                           f"{own_cpu_seconds() - cpu:.3f} s CPU, "
                           f"{site.store.reads - reads} files parsed, "
                           f"{site.builder.builds - builds} feeds built")
        documents = published.documents.values()
        rows["documents"] = (f"{len(published.documents)} documents, "
                             f"{sum(len(d.body) + len(d.gzip) for d in documents) / 1e6:.1f} MB "
                             "(bodies + gzip)")
        return rows


def _edit(post: Path) -> None:
    text = post.read_text(encoding="utf-8")
    post.write_text(text.replace("</p>", " (edited)</p>", 1), encoding="utf-8")


def proc_cpu(pid: int) -> float:
    """Return the CPU seconds *pid* has used; 0 (with a note) once it has exited."""
    try:
        return cpu_seconds(pid)
    except OSError:
        print(f"note: process {pid} exited during the measurement", file=sys.stderr)
        return 0.0


def settle(pids: list[int], per_second: float, limit: float = 120.0) -> None:
    """Wait until the processes use less than *per_second* CPU s a second (loads are done)."""
    deadline = time.monotonic() + limit
    previous, calm = None, 0
    while time.monotonic() < deadline and calm < 2:
        total = sum(proc_cpu(pid) for pid in pids)
        calm = calm + 1 if previous is not None and total - previous <= per_second else 0
        previous = total
        time.sleep(1.0)


def serve_command_of(workers: int, preload: bool, port: int) -> list[str]:
    """Return ``feedsvc serve --workers N``, or gunicorn ``--preload -w N`` of wsgi.py."""
    if preload:
        return [PYTHON, "-m", "gunicorn", "--preload", "-w", str(workers), "-k", "gthread",
                "--threads", "4", "-b", f"127.0.0.1:{port}", "wsgi:app"]
    return serve_command(port, "--workers", str(workers))


def wait_for_workers(process: subprocess.Popen, workers: int, preload: bool, log: Path
                     ) -> list[int]:
    """Wait until every worker gunicorn booted has loaded the site (a scheduler started)."""
    deadline = time.monotonic() + 300
    while True:
        text = log.read_text(errors="replace")
        if "WORKER TIMEOUT" in text or process.poll() is not None:
            raise SystemExit(f"the server lost a worker while loading:\n{text[-2000:]}")
        # Not children(): the store forks a short-lived parse pool on a cold load.
        booted = {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", text)}
        loaded = {int(pid) for pid in re.findall(r"reload scheduler started in process (\d+)",
                                                  text)}
        alive = sorted(pid for pid in booted if Path(f"/proc/{pid}").exists())
        # With --preload the master loads the site before forking: a worker is ready at once.
        if len(alive) == workers and (preload or set(alive) <= loaded):
            return alive
        if time.monotonic() > deadline:
            raise SystemExit(f"workers not ready within 300 s:\n{text[-2000:]}")
        time.sleep(0.2)


def measure_server(site_dir: Path, workers: int, preload: bool, window: float) -> str:
    rows = []
    for interval in (3600, 1):
        env = child_env(FEEDSVC_SITE_DIR=str(site_dir), FEEDSVC_RELOAD_INTERVAL=str(interval))
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp, "server.log")
            command = serve_command_of(workers, preload, free_port())
            with started(command, log, env, grace=15) as process:
                pids = wait_for_workers(process, workers, preload, log)
                rows.append(_sample(process.pid, pids, interval, window))
    return " | ".join(rows)


def _sample(master: int, pids: list[int], interval: int, window: float) -> str:
    everyone = pids + [master]
    if interval > 60:   # idle: memory
        settle(everyone, 0.02)
        now = sorted(children(master))
        if now != pids:
            print(f"note: workers changed from {pids} to {now}", file=sys.stderr)
            pids = now
        worker_mem = [memory_mb(pid) for pid in pids]
        master_rss, master_pss = memory_mb(master)
        return (f"{sum(r for r, _ in worker_mem) / len(pids):.0f} | "
                f"{sum(p for _, p in worker_mem) / len(pids):.0f} | {master_rss:.0f} | "
                f"{sum(p for _, p in worker_mem) + master_pss:.0f}")
    time.sleep(3 * interval)   # past the catch-up reloads
    start = sum(proc_cpu(pid) for pid in everyone)
    time.sleep(window)
    return f"{100 * (sum(proc_cpu(pid) for pid in everyone) - start) / window:.1f} %"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line: the sites, the worker counts and the CPU window."""
    counts = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    parser = argparse.ArgumentParser(prog="python -m bench.freshness",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("sites", nargs="*", type=Path, metavar="SITE",
                        help="Jekyll sites to measure (default: the sample site and "
                        "/tmp/s10k, from python -m bench.make_store 10000 /tmp/s10k)")
    parser.add_argument("--workers", type=counts, default=list(WORKERS),
                        help="worker counts, comma-separated (default: 1,2,4)")
    parser.add_argument("--window", type=float, default=WINDOW,
                        help="seconds of the CPU window with a reload every second "
                        "(default: %(default)s)")
    args = parser.parse_args(argv)
    args.sites = args.sites or list(DEFAULT_SITES)
    missing = [str(site) for site in args.sites if not (site / "_posts").is_dir()]
    if missing:
        parser.error(f"not a Jekyll site (no _posts/): {', '.join(missing)}")
    if not args.workers or min(args.workers) < 1 or args.window <= 0:
        parser.error("--workers needs counts of at least 1, --window a positive duration")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every site and print its tables."""
    args = parse_args(argv)
    for site_dir in args.sites:
        posts = sum(1 for _ in (site_dir / "_posts").rglob("*.md"))
        print(f"\n### {site_dir.name} ({posts} posts)\n")
        for label, value in in_process(site_dir).items():
            print(f"- {label}: {value}")
        print("\n| model | workers | worker RSS MB | worker PSS MB | master RSS MB | "
              "total PSS MB | CPU, reload every 1 s |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for preload in (False, True):
            for workers in args.workers:
                name = "gunicorn --preload" if preload else "feedsvc serve"
                row = measure_server(site_dir, workers, preload, args.window)
                print(f"| {name} | {workers} | {row} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
