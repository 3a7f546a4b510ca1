#!/usr/bin/env python3
"""Figures for aggregators (docs/aggregators.md): WebSub latency, archive pages, memory.

    python -m bench.aggregators                     # every part, the sizes below
    python -m bench.aggregators --parts ping --repeats 9
    python -m bench.aggregators --parts http,memory --memory-posts 100000

- ``ping``: ``feedsvc serve --workers W`` (W = 1 and 2) with ``FEEDSVC_RELOAD_INTERVAL=1``
  and a recording hub (a stdlib HTTP server answering 204 to every publish ping). A new post
  file is written at a random point of the reload interval; the figure is the time from just
  before the write to the hub receiving the ping for ``/feeds/all.atom``, and to the last
  ping of that change. Median of ``--repeats``.
- ``http``: ``feedsvc serve --workers 2`` with ``archives: true`` on a generated store;
  ``wrk -t2 -c32`` (or, without wrk, a bounded Python client loop) against the oldest archive
  page of the global feed (warmed into both workers' caches first) and against
  ``/feeds/all.atom``, alternating, in one run.
- ``memory``: in a child process, ``create_app`` on a generated store of
  ``--memory-posts`` posts, archives on; RSS after the first load, then the global feed's
  archive walked once completely in Atom through the app (prev-archive from the current
  document to the oldest page, every page rendered), RSS after the walk and the peak. The
  same child without archives for comparison.

Stores are generated with ``python -m bench.make_store`` into a temporary folder outside the
repository and removed afterwards. Linux only (/proc). feedsvc runs only in the children it
starts, which are started, waited for and stopped with ``tests.support``.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.net import fetch, free_port, wait_for
from tests.support.serve import PYTHON, ROOT, child_env, serve_command, started

LOOPBACK = "127.0.0.1"


# --- helpers -----------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError):
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f"{kb / 1024 / 1024:.1f} GB"
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        done = subprocess.run([wrk, "-v"], capture_output=True, text=True)
        wrk_version = (done.stdout + done.stderr).split("\n")[0].strip()
    return {"cpus": os.cpu_count(), "cpu": model, "memory": memory,
            "kernel": platform.release(), "python": platform.python_version(),
            "wrk": wrk_version or None}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def generated_store(posts: int) -> Iterator[Path]:
    """A store of *posts* posts from bench.make_store, in /tmp, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="feedsvc-agg-store-"))
    try:
        subprocess.run([PYTHON, "-m", "bench.make_store", str(posts), str(folder / "site")],
                       cwd=ROOT, env=child_env(), check=True, capture_output=True, timeout=1800)
        yield folder / "site"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def serving(site: Path, workers: int, log: Path, **settings: str) -> Iterator[str]:
    """Run ``feedsvc serve`` on a free port until the block ends; yield its base URL."""
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    command = serve_command(port, "--site", str(site), "--workers", str(workers),
                            "--no-access-log")
    env = child_env(FEEDSVC_PUBLIC_URL=base, **settings)
    with started(command, log, env, grace=30) as process:
        wait_for(base + "/readyz", 300, lambda: process.poll() is None,
                 lambda: ":\n" + log.read_text(errors="replace")[-2000:])
        yield base


def write_post(site: Path, n: int) -> None:
    """Write a new post, dated after every generated one (2022-2023) and before now."""
    path = site / "_posts" / f"2024-06-{1 + n % 28:02d}-aggregator-bench-{n}.md"
    path.write_text(f'---\ntitle: "推送测试 {n}"\ndate: 2024-06-{1 + n % 28:02d} '
                    f"{n % 24:02d}:00:00 +0800\ncategories: keji\ntags: [AI]\n---\n"
                    "<p>Written by bench.aggregators.</p>\n", encoding="utf-8")


# --- ping: new file -> the hub's publish request ------------------------------------------

class RecordingHub:
    """A stand-in hub on 127.0.0.1: answers 204 to each publish ping, records when it came."""

    def __init__(self) -> None:
        self.pings: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the base's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                form = dict(urllib.parse.parse_qsl(body.decode("ascii")))
                with hub.lock:
                    hub.pings.append((arrived, form.get("hub.url", "")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}/hub"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def since(self, moment: float) -> list[tuple[float, str]]:
        with self.lock:
            return [ping for ping in self.pings if ping[0] >= moment]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def ping_latency(site: Path, workers: int, repeats: int, log: Path) -> dict[str, Any]:
    hub = RecordingHub()
    rows: list[dict[str, float]] = []
    try:
        with serving(site, workers, log, FEEDSVC_RELOAD_INTERVAL="1",
                     FEEDSVC_WEBSUB_HUBS=hub.url) as base:
            time.sleep(3)   # every worker's first scheduled reload: its notifier exists
            topic = base + "/feeds/all.atom"
            pause = random.Random(workers)   # fixed: the same pauses on every run
            for n in range(repeats):
                # Anywhere in the reload interval: without this the loop below falls into
                # step with the workers' 1 s reloads and always writes just after one.
                time.sleep(pause.uniform(0, 1))
                started = time.time()
                write_post(site, 1000 + n + workers * 100)
                deadline = time.monotonic() + 30
                while not any(url == topic for _, url in hub.since(started)):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no ping for {topic} within 30 s")
                    time.sleep(0.005)
                time.sleep(3)   # the rest of the batch, and a second ping if there were one
                pings = hub.since(started)
                first = min(t for t, url in pings if url == topic)
                rows.append({"first": first - started, "last": max(t for t, _ in pings) - started,
                             "pings": len(pings), "topics": len({url for _, url in pings})})
    finally:
        hub.close()
    firsts = [row["first"] for row in rows]
    return {"workers": workers, "repeats": repeats, "median_s": statistics.median(firsts),
            "min_s": min(firsts), "max_s": max(firsts),
            "median_last_s": statistics.median(row["last"] for row in rows),
            "pings_per_change": sorted({row["pings"] for row in rows}),
            "topics_per_change": sorted({row["topics"] for row in rows}), "samples": rows}


# --- http: archive page from the cache vs the current feed ---------------------------------

def parse_wrk(text: str) -> float:
    match = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not match:
        raise RuntimeError(f"cannot read wrk's output:\n{text}")
    return float(match.group(1))


def requests_per_second(url: str, seconds: int, connections: int) -> float:
    if shutil.which("wrk"):
        done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s",
                               "--timeout", "5s", url], capture_output=True, text=True,
                              timeout=seconds + 60)
        non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", done.stdout)
        if done.returncode != 0 or non2xx:
            raise RuntimeError(f"wrk failed or got errors:\n{done.stdout}{done.stderr}")
        return parse_wrk(done.stdout)
    return python_client(url, seconds, min(connections, 8))


def python_client(url: str, seconds: float, threads: int) -> float:
    """Without wrk: *threads* keep-alive clients in a loop for *seconds*; requests/s."""
    parsed = urllib.parse.urlsplit(url)
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def loop(i: int) -> None:
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        while time.monotonic() < stop:
            connection.request("GET", parsed.path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")
            counts[i] += 1
        connection.close()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


def archive_vs_current(site: Path, page_size: int, seconds: int, rounds: int, log: Path
                       ) -> dict[str, Any]:
    with serving(site, 2, log, FEEDSVC_ARCHIVES="true",
                 FEEDSVC_ARCHIVE_PAGE_SIZE=str(page_size)) as base:
        body = fetch(base + "/feeds/all.atom", timeout=30)[2]
        oldest = base + "/feeds/archive/all/0.atom"     # the stable URL redirects to it
        request = urllib.request.urlopen(oldest, timeout=60)
        page_url, page = request.geturl(), request.read()
        for _ in range(20):    # new connections: both workers render it and keep it
            fetch(page_url, timeout=30)
        figures: dict[str, list[float]] = {"archive": [], "current": []}
        for _ in range(rounds):
            figures["archive"].append(requests_per_second(page_url, seconds, 32))
            figures["current"].append(requests_per_second(base + "/feeds/all.atom", seconds, 32))
    archive, current = (statistics.median(figures[k]) for k in ("archive", "current"))
    return {"page_size": page_size, "archive_page": page_url.replace(base, ""),
            "archive_bytes": len(page),
            "current_bytes": len(body), "archive_rps": archive, "current_rps": current,
            "ratio": archive / current, "samples": figures,
            "client": "wrk -t2 -c32" if shutil.which("wrk") else "python client, 8 threads"}


# --- memory: 100k posts, the global feed's archive walked once ------------------------------

WALK = r"""
import json, re, sys, time
def status():
    text = open("/proc/self/status").read()
    return {k: int(re.search(k + r":\s+(\d+) kB", text).group(1)) // 1024
            for k in ("VmRSS", "VmHWM")}
from feedsvc import create_app
archives = sys.argv[2] == "on"
started = time.perf_counter()
app = create_app({"site_dir": sys.argv[1], "auto_reload": False, "archives": archives})
result = {"archives": archives, "load_s": time.perf_counter() - started, "after_load": status()}
site = app.state.site
result["posts"] = len(site.current.snapshot.posts)
if archives:
    client = app.test_client()
    link = re.compile(rb'<link href="https?://[^/]+(/feeds/archive/[^"]+)" rel="prev-archive"')
    body, pages, entries = client.get("/feeds/all.atom").data, 0, 0
    entries += body.count(b"<entry>")
    started = time.perf_counter()
    while (found := link.search(body)) is not None:
        response = client.get(found.group(1).decode())
        assert response.status_code == 200, response.status_code
        body = response.data
        pages += 1
        entries += body.count(b"<entry>")
    result.update(walk_s=time.perf_counter() - started, pages=pages, entries_walked=entries,
                  after_walk=status(), cache_mb=app.state.archives.cache.bytes / 2**20,
                  cache_pages=len(app.state.archives.cache))
    newest = site.current.snapshot.posts[0]
    path = site.store.root + "/" + newest.path
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n<p>edited</p>\n")
    started = time.perf_counter()
    site.reload()
    result["reload_one_post_changed_s"] = time.perf_counter() - started
print(json.dumps(result))
"""


def memory(site: Path) -> list[dict[str, Any]]:
    results = []
    for archives in ("off", "on"):
        done = subprocess.run([PYTHON, "-c", WALK, str(site), archives], cwd=ROOT,
                              env=child_env(), capture_output=True, text=True, timeout=7200)
        if done.returncode != 0:
            raise RuntimeError(f"memory child failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


# --- the command ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.aggregators",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="ping,http,memory")
    parser.add_argument("--ping-posts", type=int, default=1000)
    parser.add_argument("--http-posts", type=int, default=10000)
    parser.add_argument("--page-sizes", default="50,20",
                        help="archive_page_size of each http run (default: %(default)s)")
    parser.add_argument("--memory-posts", type=int, default=100000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", metavar="FILE", help="also write every figure here")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    report: dict[str, Any] = {"machine": machine(),
                              "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                              "load_before": load_average()}
    print(f"machine: {report['machine']}\nload average before: {report['load_before']}",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="feedsvc-agg-logs-") as logs:
        if "ping" in parts:
            with generated_store(args.ping_posts) as site:
                report["ping"] = [ping_latency(site, workers, args.repeats,
                                               Path(logs, f"ping-{workers}.log"))
                                  for workers in (1, 2)]
            for row in report["ping"]:
                print(f"new file -> hub's ping for /feeds/all.atom, {args.ping_posts} posts, "
                      f"--workers {row['workers']}: median {row['median_s']:.2f} s "
                      f"(min {row['min_s']:.2f}, max {row['max_s']:.2f}; last ping of the "
                      f"batch {row['median_last_s']:.2f} s; pings per change "
                      f"{row['pings_per_change']}) load {load_average()}", flush=True)
        if "http" in parts:
            report["http"] = []
            with generated_store(args.http_posts) as site:
                for size in (int(size) for size in args.page_sizes.split(",")):
                    row = archive_vs_current(site, size, args.seconds, args.rounds,
                                             Path(logs, f"http-{size}.log"))
                    report["http"].append(row)
                    print(f"req/s, {args.http_posts} posts, {row['client']}, archive_page_size "
                          f"{size}: archive page {row['archive_page']} ({row['archive_bytes']} B)"
                          f" {row['archive_rps']:.0f}; /feeds/all.atom ({row['current_bytes']} "
                          f"B) {row['current_rps']:.0f}; ratio {row['ratio']:.2f} "
                          f"load {load_average()}", flush=True)
        if "memory" in parts:
            with generated_store(args.memory_posts) as site:
                report["memory"] = memory(site)
            for row in report["memory"]:
                print(f"memory, {row['posts']} posts, archives {row['archives']}: "
                      f"{json.dumps({k: v for k, v in row.items() if k != 'posts'})} "
                      f"load {load_average()}", flush=True)
    report["load_after"] = load_average()
    print(f"load average after: {report['load_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
