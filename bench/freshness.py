#!/usr/bin/env python3
"""Measure what the process model costs: memory and CPU of N gunicorn workers, and reloads.

    python bench/make_store.py 10000 /tmp/s10k
    python bench/freshness.py [SITE ...]      # default: the sample site and /tmp/s10k

For each site: the in-process cost of a cold load, an unchanged reload and a one-post change
(wall and CPU seconds, files parsed, feeds built); then ``feedsvc serve --workers N`` and
``gunicorn --preload -w N`` for N = 1, 2, 4: RSS and PSS (proportional set size: shared pages
split between the processes that share them, from /proc/PID/smaps_rollup) of the master and
of each worker once they are idle, and the CPU the workers spend on reloads every second
(FEEDSVC_RELOAD_INTERVAL=1, nothing changing) over a 10 s window. Linux only (/proc).
Results go to stdout as Markdown tables (docs/freshness.md quotes them).
"""
from __future__ import annotations

import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feedsvc.config import SAMPLE_SITE, load_settings  # noqa: E402
from feedsvc.site import Site  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
WORKERS = (1, 2, 4)
WINDOW = 10.0


def cpu_seconds() -> float:
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
            wall, cpu = time.perf_counter(), cpu_seconds()
            published = site.reload()
            rows[label] = (f"{time.perf_counter() - wall:.3f} s wall, "
                           f"{cpu_seconds() - cpu:.3f} s CPU, "
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(master: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == master:
                pids.append(int(entry))
    return sorted(pids)


def proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        print(f"note: process {pid} exited during the measurement", file=sys.stderr)
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS   # utime, stime: proc(5) fields 14, 15


def memory_mb(pid: int) -> tuple[float, float]:
    """Return RSS and PSS of a process in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            values[name] = int(rest.split()[0]) / 1024
    return values["Rss"], values["Pss"]


def settle(pids: list[int], per_second: float, limit: float = 120.0) -> None:
    """Wait until the processes use less than *per_second* CPU s a second (loads are done)."""
    deadline = time.monotonic() + limit
    previous, calm = None, 0
    while time.monotonic() < deadline and calm < 2:
        total = sum(proc_cpu(pid) for pid in pids)
        calm = calm + 1 if previous is not None and total - previous <= per_second else 0
        previous = total
        time.sleep(1.0)


def serve(site_dir: Path, workers: int, preload: bool, interval: int, log: Path
          ) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(FEEDSVC_SITE_DIR=str(site_dir), FEEDSVC_RELOAD_INTERVAL=str(interval),
               PYTHONPATH=str(ROOT))
    port = free_port()
    if preload:
        command = [sys.executable, "-m", "gunicorn", "--preload", "-w", str(workers),
                   "-k", "gthread", "--threads", "4", "-b", f"127.0.0.1:{port}", "wsgi:app"]
    else:
        command = [sys.executable, "-m", "feedsvc.cli", "serve", "--workers", str(workers),
                   "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)


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
        started = {int(pid) for pid in re.findall(r"reload scheduler started in process (\d+)",
                                                   text)}
        alive = sorted(pid for pid in booted if Path(f"/proc/{pid}").exists())
        # With --preload the master loads the site before forking: a worker is ready at once.
        if len(alive) == workers and (preload or set(alive) <= started):
            return alive
        if time.monotonic() > deadline:
            raise SystemExit(f"workers not ready within 300 s:\n{text[-2000:]}")
        time.sleep(0.2)


def measure_server(site_dir: Path, workers: int, preload: bool) -> str:
    rows = []
    for interval in (3600, 1):
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp, "server.log")
            process = serve(site_dir, workers, preload, interval, log)
            try:
                pids = wait_for_workers(process, workers, preload, log)
                rows.append(_sample(process.pid, pids, interval))
            finally:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    return " | ".join(rows)


def _sample(master: int, pids: list[int], interval: int) -> str:
    everyone = pids + [master]
    if interval > 60:   # idle: memory
        settle(everyone, 0.02)
        if children(master) != pids:
            print(f"note: workers changed from {pids} to {children(master)}", file=sys.stderr)
            pids = children(master)
        worker_mem = [memory_mb(pid) for pid in pids]
        master_rss, master_pss = memory_mb(master)
        return (f"{sum(r for r, _ in worker_mem) / len(pids):.0f} | "
                f"{sum(p for _, p in worker_mem) / len(pids):.0f} | {master_rss:.0f} | "
                f"{sum(p for _, p in worker_mem) + master_pss:.0f}")
    time.sleep(3 * interval)   # past the catch-up reloads
    start = sum(proc_cpu(pid) for pid in everyone)
    time.sleep(WINDOW)
    return f"{100 * (sum(proc_cpu(pid) for pid in everyone) - start) / WINDOW:.1f} %"


def main(argv: list[str]) -> int:
    sites = [Path(a) for a in argv] or [SAMPLE_SITE, Path("/tmp/s10k")]
    for site_dir in sites:
        posts = sum(1 for _ in (site_dir / "_posts").rglob("*.md"))
        print(f"\n### {site_dir.name} ({posts} posts)\n")
        for label, value in in_process(site_dir).items():
            print(f"- {label}: {value}")
        print("\n| model | workers | worker RSS MB | worker PSS MB | master RSS MB | "
              "total PSS MB | CPU, reload every 1 s |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for preload in (False, True):
            for workers in WORKERS:
                name = "gunicorn --preload" if preload else "feedsvc serve"
                print(f"| {name} | {workers} | {measure_server(site_dir, workers, preload)} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
