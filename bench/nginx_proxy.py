#!/usr/bin/env python3
"""nginx's proxy cache in front of ``feedsvc serve`` against nginx serving the same bytes as a
static file, with wrk, in the same run (docs/deploy.md, "Measured").

    python -m bench.nginx_proxy [--site DIR] [--connections 32] [--seconds 5] [--repeats 3]
                                [--json FILE]

It starts ``feedsvc serve --workers 1 --no-access-log`` on the site (the bundled sample by
default), one nginx with ``feedsvc nginx-config --full`` in front of it, and one nginx
serving the feed's identity bytes from a file, both with the same worker_processes (auto),
sendfile and keep-alive settings and ``access_log off``. Both listen on 127.0.0.1 only.
For /feeds/all.atom it runs ``wrk -t2 -cC -dSs`` alternately against the two, REPEATS
times, for the 200 (wrk sends no Accept-Encoding: the identity variant) and for the 304
(If-None-Match with each server's own ETag), and prints requests/s (median), p99 latency
and the median of the per-pair ratios as JSON. Every run is bounded (wrk -d plus 30 s).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from bench.httpbench import FEED, feedsvc_server, run_nginx, validators, wrk
from bench.procs import BenchError, median
from feedsvc.config import SAMPLE_SITE
from feedsvc.nginx import render_nginx_config
from tests.support.net import fetch, free_port

# The static server gets the http-level settings of the --full config, and nothing else.
STATIC_CONF = """\
worker_processes auto;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    server_tokens off;
    access_log off;
    client_body_temp_path {tmp}/client_body_temp;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;
    types {{ application/atom+xml atom; }}
    charset utf-8;
    charset_types application/atom+xml;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
    }}
}}
"""


@contextmanager
def proxy_nginx(upstream: str) -> Iterator[str]:
    """nginx with ``feedsvc nginx-config --full`` (access log off) in front of *upstream*."""
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        port = free_port()
        conf = render_nginx_config(upstream, f"127.0.0.1:{port}", tmp, "_", True)
        log_line = f"access_log {tmp}/access.log feedsvc;"
        if log_line not in conf:
            raise BenchError("the --full config has no access_log line to turn off")
        with run_nginx(Path(tmp), conf.replace(log_line, "access_log off;"), port) as base:
            yield base


@contextmanager
def static_nginx(body: bytes) -> Iterator[str]:
    """nginx serving *body* as the file behind FEED."""
    with tempfile.TemporaryDirectory(prefix="bench-static-") as tmp:
        target = Path(tmp) / "www" / FEED.lstrip("/")
        target.parent.mkdir(parents=True)
        target.write_bytes(body)
        port = free_port()
        with run_nginx(Path(tmp), STATIC_CONF.format(tmp=tmp, port=port), port) as base:
            yield base


def cache_status(url: str, headers: dict[str, str] | None = None) -> str:
    status, got, _ = fetch(url, headers, timeout=10)
    return got.get("X-Cache-Status", f"none ({status})")


def compare(site: Path, connections: int, seconds: int, repeats: int) -> dict[str, Any]:
    with feedsvc_server(site, 1, 60, ["--no-access-log"]) as (direct, _):
        body, direct_etag = validators(direct + FEED)
        upstream = direct.removeprefix("http://")
        with proxy_nginx(upstream) as proxy, static_nginx(body) as static:
            proxy_body, proxy_etag = validators(proxy + FEED)
            if proxy_body != body or proxy_etag != direct_etag:
                raise BenchError("the proxy does not give feedsvc's bytes and ETag")
            if cache_status(proxy + FEED) != "HIT":
                raise BenchError("the feed is not a cache HIT through the proxy")
            static_body, static_etag = validators(static + FEED)
            if static_body != body:
                raise BenchError("the static file is not feedsvc's bytes")
            rows = []
            for status, tags in ((200, (None, None)), (304, (proxy_etag, static_etag))):
                cached, files = [], []
                for _ in range(repeats):
                    cached.append(wrk(proxy + FEED, connections, seconds, tags[0]))
                    files.append(wrk(static + FEED, connections, seconds, tags[1]))
                rows.append({
                    "status": status,
                    "proxy_cache_rps": median([r["rps"] for r in cached]),
                    "proxy_cache_p99_ms": median([r["p99_ms"] for r in cached]),
                    "static_rps": median([r["rps"] for r in files]),
                    "static_p99_ms": median([r["p99_ms"] for r in files]),
                    "ratio": median([a["rps"] / b["rps"] for a, b in zip(cached, files)]),
                    "errors": sum(r["non_2xx_3xx"] + r["socket_errors"]
                                  for r in cached + files),
                    "runs": {"proxy_cache": cached, "static": files},
                })
            # Still served from the cache after the load (max-age 300 s outlasts the runs).
            after = cache_status(proxy + FEED)
    return {"feed": FEED, "feed_bytes": len(body), "rows": rows,
            "cache_status_after": after}


def machine() -> dict[str, Any]:
    version = subprocess.run(["nginx", "-v"], capture_output=True, text=True, timeout=10)
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True,
                                 timeout=10)
    return {"nproc": os.cpu_count(), "loadavg": Path("/proc/loadavg").read_text().split()[:3],
            "nginx": version.stderr.strip(), "wrk": wrk_version.stdout.split("\n")[0].strip(),
            "python": platform.python_version(), "kernel": platform.release()}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nginx_proxy",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=SAMPLE_SITE)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 60 or not 1 <= args.repeats <= 10 or \
            not 1 <= args.connections <= 1000:
        parser.error("--seconds 1..60, --repeats 1..10, --connections 1..1000")
    before = machine()
    began = time.time()
    try:
        result = compare(args.site, args.connections, args.seconds, args.repeats)
    except BenchError as exc:
        print(f"bench.nginx_proxy: {exc}", file=sys.stderr)
        return 1
    result.update({
        "command": " ".join(["python -m bench.nginx_proxy", *sys.argv[1:]]),
        "wrk": f"wrk -t2 -c{args.connections} -d{args.seconds}s --latency",
        "repeats": args.repeats, "machine": before,
        "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
        "wall_seconds": round(time.time() - began, 1),
    })
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    for row in result["rows"]:
        print(f"{row['status']}: proxy cache {row['proxy_cache_rps']:.0f} req/s, static "
              f"{row['static_rps']:.0f} req/s, ratio {row['ratio']:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
