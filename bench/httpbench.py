"""HTTP: ``feedsvc serve`` against nginx serving the same bytes, with wrk, in the same run.

Both listen on 127.0.0.1 only. nginx gets the same number of worker processes as feedsvc and
its defaults otherwise (keep-alive on, ``access_log off``). wrk sends no Accept-Encoding, so
both send the identity bytes; the 304 runs add ``If-None-Match`` with each server's own ETag.

``feedsvc serve`` can be run in several ways in one comparison, each against nginx in turn:
a server spec is a name of SERVERS, optionally ``-nolog`` (``--no-access-log``) and
``:W`` (W worker processes instead of the run's), e.g. ``gthread,sync:4,granian-nolog``.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from bench.procs import PYTHON, ROOT, BenchError, median, run, wait_up
from tests.support.net import fetch, free_port
from tests.support.nginx import nginx_running, write_config
from tests.support.serve import child_env, serve_command, started

FEED = "/feeds/all.atom"
FRESH_LIMIT = 60   # seconds an edit may take to be served with reload_interval = 1
NGINX_CONF = """\
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ application/atom+xml atom; }}
    default_type application/octet-stream;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
    }}
}}
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
# Server spec name -> flags of ``feedsvc serve`` (docs/service.md).
SERVERS = {
    "gthread": [],                             # the default: gunicorn gthread, 4 threads
    "sync": ["--threads", "1"],                # gunicorn's sync worker (no keep-alive)
    "granian": ["--server", "granian"],        # granian's WSGI server, 4 threads
}


def server_flags(spec: str, workers: int) -> tuple[list[str], int]:
    """Return the extra ``feedsvc serve`` flags and the worker count of a server spec."""
    name, _, count = spec.partition(":")
    base = name.removesuffix("-nolog")
    if base not in SERVERS or (count and not count.isdigit()):
        raise BenchError(f"unknown server spec {spec!r}: NAME[-nolog][:WORKERS], NAME one of "
                         f"{', '.join(SERVERS)}")
    flags = SERVERS[base] + (["--no-access-log"] if name != base else [])
    return flags, int(count) if count else workers


def serve_help() -> str | None:
    """Return ``feedsvc serve --help``, or None when the command does not exist yet."""
    done = subprocess.run([PYTHON, "-m", "feedsvc.cli", "serve", "--help"], cwd=ROOT,
                          env=child_env(), capture_output=True, text=True, timeout=60)
    return done.stdout if done.returncode == 0 else None


@contextmanager
def feedsvc_server(site: Path, workers: int, timeout: float, flags: list[str] | None = None,
                   **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run ``feedsvc serve [flags]`` on a free loopback port; yield (base URL, process)."""
    options = serve_help()
    if options is None:
        raise BenchError("'python -m feedsvc.cli serve' does not exist yet")
    flags = flags or []
    missing = [f for f in flags if f.startswith("--") and f not in options]
    if missing:
        raise BenchError(f"'feedsvc serve' has no {', '.join(missing)} in this checkout")
    port = free_port()
    command = serve_command(port, "--site", str(site), "--workers", str(workers), *flags)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        log = Path(tmp, "serve.log")
        with started(command, log, child_env(**env), start_new_session=True) as proc:
            base = f"http://127.0.0.1:{port}"
            wait_up(base + FEED, timeout, proc, log)
            yield base, proc


@contextmanager
def run_nginx(tmp: Path, conf: str, port: int) -> Iterator[str]:
    """Run nginx with *conf* (written to *tmp*/nginx.conf) on *port*; yield its base URL once
    FEED answers there.

    *conf* is a whole configuration without ``daemon`` or ``user``: tests.support.nginx
    starts it (in the foreground, and as root with root workers) and stops it.
    """
    with nginx_running(write_config(tmp, conf), tmp, port) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_up(base + FEED, 15, proc, tmp / "stderr.log")
        yield base


@contextmanager
def nginx_server(body: bytes, workers: int) -> Iterator[str]:
    """Run nginx serving *body* as a static file at FEED; yield its base URL."""
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        www = Path(tmp) / "www" / "feeds"
        www.mkdir(parents=True)
        (www / "all.atom").write_bytes(body)
        port = free_port()
        conf = NGINX_CONF.format(workers=workers, tmp=tmp, port=port)
        with run_nginx(Path(tmp), conf, port) as base:
            yield base


def parse_wrk(text: str) -> dict[str, Any]:
    """Return requests/s, p99 latency (ms) and error counts from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    if rps is None or p99 is None:
        raise BenchError(f"cannot read wrk's output: {text[-400:]}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       text)
    return {"rps": float(rps.group(1)), "p99_ms": float(p99.group(1)) * _UNITS[p99.group(2)],
            "non_2xx_3xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0}


def wrk(url: str, connections: int, seconds: int, etag: str | None) -> dict[str, Any]:
    """Run wrk against *url* (with If-None-Match: *etag* if given); return parse_wrk's figures."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if etag:  # a Lua long string holds the quotes of the ETag as they are
            script.write(f'wrk.headers["If-None-Match"] = [==[{etag}]==]\n')
    try:
        cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
               "--timeout", "5s", "-s", script.name, url]
        done = run(cmd, seconds + 30)
    finally:
        os.unlink(script.name)
    if done.returncode != 0 or done.timed_out:
        raise BenchError(f"wrk failed: {done.stderr.strip()[-300:]}")
    return parse_wrk(done.stdout)


def validators(url: str) -> tuple[bytes, str]:
    """Return (body, ETag) of *url* and check that If-None-Match gets a 304."""
    status, headers, body = fetch(url, timeout=10)
    etag = headers.get("ETag")
    if status != 200 or not etag:
        raise BenchError(f"{url} answered {status} without an ETag")
    again = fetch(url, {"If-None-Match": etag}, timeout=10)[0]
    if again != 304:
        raise BenchError(f"{url} answered {again}, not 304, to If-None-Match: {etag}")
    return body, etag


def compare(site: Path, workers: int, connections: list[int], seconds: int, repeats: int,
            start_timeout: float, servers: list[str] | None = None) -> dict[str, Any]:
    """Measure each server spec and nginx in turn, same bytes, same run; return the figures.

    ``rows`` are those of the first spec (``gthread``, feedsvc serve's default, unless
    *servers* says otherwise); ``servers`` holds the rows of every spec.
    """
    specs = servers or ["gthread"]
    flags = {spec: server_flags(spec, workers) for spec in specs}   # reject a typo at once
    measured: dict[str, Any] = {}
    for spec in specs:
        extra, count = flags[spec]
        with feedsvc_server(site, count, start_timeout, extra) as (base, _):
            body, etag = validators(base + FEED)
            with nginx_server(body, workers) as nginx_base:
                nginx_etag = validators(nginx_base + FEED)[1]
                rows = []
                for conns in connections:
                    for status, tags in ((200, (None, None)), (304, (etag, nginx_etag))):
                        rows.append(_pair(base, nginx_base, conns, seconds, repeats, status,
                                          tags))
        measured[spec] = {"flags": extra, "workers": count, "rows": rows}
    return {"workers": workers, "seconds": seconds, "repeats": repeats,
            "feed_bytes": len(body), "rows": measured[specs[0]]["rows"], "servers": measured}


def _pair(base: str, nginx_base: str, conns: int, seconds: int, repeats: int, status: int,
          etags: tuple[str | None, str | None]) -> dict[str, Any]:
    """Alternate feedsvc and nginx runs; the ratio is the median of the per-pair ratios."""
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(wrk(base + FEED, conns, seconds, etags[0]))
        theirs.append(wrk(nginx_base + FEED, conns, seconds, etags[1]))
    return {
        "status": status, "connections": conns,
        "feedsvc_rps": median([r["rps"] for r in ours]),
        "feedsvc_p99_ms": median([r["p99_ms"] for r in ours]),
        "nginx_rps": median([r["rps"] for r in theirs]),
        "nginx_p99_ms": median([r["p99_ms"] for r in theirs]),
        "ratio": median([a["rps"] / b["rps"] for a, b in zip(ours, theirs)]),
        "errors": sum(r["non_2xx_3xx"] + r["socket_errors"] for r in ours + theirs),
        "runs": {"feedsvc": ours, "nginx": theirs},
    }


def freshness(site: Path, newest: Path, workers: int, repeats: int,
              start_timeout: float) -> dict[str, Any]:
    """Edit the newest post under a running server (reload_interval=1); time until served."""
    original = newest.read_bytes()
    delays = []
    with feedsvc_server(site, workers, start_timeout, FEEDSVC_RELOAD_INTERVAL="1") as (base, _):
        try:
            for number in range(1, repeats + 1):
                marker = f"（HTTP更新{number}）"
                newest.write_bytes(original.decode().replace(
                    'title: "', f'title: "{marker}', 1).encode())
                began = time.perf_counter()
                while marker.encode() not in fetch(base + FEED)[2]:
                    if time.perf_counter() - began > FRESH_LIMIT:
                        raise BenchError(f"the edit of {newest.name} was never served")
                    time.sleep(0.01)
                delays.append(time.perf_counter() - began)
        finally:
            newest.write_bytes(original)
    return {"reload_interval_s": 1, "delays_s": delays, "median_s": median(delays)}
