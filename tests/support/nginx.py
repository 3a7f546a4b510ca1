"""A real nginx (Debian's binary) for tests and benchmarks: find it, write a config, run it.

nginx runs in the foreground on 127.0.0.1 with everything it writes (pid, logs, temp files,
cache) in a work folder of the caller's, and its output in ``WORK/stderr.log``, which errors
quote. Nothing here needs pytest: a missing binary raises :class:`NginxMissing`, a start that
does not come up raises :class:`~tests.support.net.NotAnswering`; every start and stop is
bounded (tests/support/serve.py).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from .net import listening, wait_until
from .serve import ROOT, STOP_LIMIT, log_tail, spawn, stop

EXPORT_CONF = ROOT / "config" / "nginx-export.conf"
START_LIMIT = 10.0     # seconds for nginx to listen
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class NginxMissing(RuntimeError):
    """No nginx binary: the tests that need one fail with this, they are not skipped."""


def find_nginx() -> str:
    """Return the path of the nginx binary; raise :class:`NginxMissing` saying how to get it."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise NginxMissing("nginx is not installed: these tests and benchmarks run a real "
                           "nginx. Install it (Debian: apt-get install nginx; .ci/run does).")
    return found


def global_directives() -> str:
    """Return the main-context directives every run gets on the command line (``-g``).

    As root, nginx's workers would run as nobody, who cannot enter pytest's tmp folders.
    """
    return "daemon off;" + (" user root;" if os.geteuid() == 0 else "")


def temp_paths(work: Path) -> str:
    """Return the ``*_temp_path`` directives that keep nginx's temp files in *work*."""
    return " ".join(f"{name}_temp_path {work / name};" for name in TEMP_PATHS)


def export_config(root: Path, port: int, work: Path) -> str:
    """Return a whole nginx.conf around the shipped config/nginx-export.conf server block,
    serving the folder *root* on 127.0.0.1:*port* (``feedsvc build --out``'s output)."""
    server = EXPORT_CONF.read_text(encoding="utf-8")
    if "listen 80;" not in server or "root /srv/feedsvc/site;" not in server:
        raise ValueError(f"{EXPORT_CONF} no longer has 'listen 80;' and its root to replace")
    server = server.replace("listen 80;", f"listen 127.0.0.1:{port};")
    server = server.replace("root /srv/feedsvc/site;", f"root {root};")
    return (f"worker_processes 1;\npid {work / 'nginx.pid'};\n"
            f"error_log {work / 'error.log'} warn;\nevents {{ worker_connections 64; }}\n"
            f"http {{\n access_log off;\n {temp_paths(work)}\n{server}\n}}\n")


def write_config(work: Path, config: str) -> Path:
    """Write *config* as ``WORK/nginx.conf`` (making *work*); return its path."""
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(config, encoding="utf-8")
    return conf


def check_config(conf: Path, work: Path, timeout: float = START_LIMIT
                 ) -> subprocess.CompletedProcess:
    """Run ``nginx -t`` on *conf* with *work* as its prefix; return the finished process."""
    command = [find_nginx(), "-t", "-p", str(work), "-c", str(conf), "-e", "stderr"]
    if os.geteuid() == 0:
        command += ["-g", "user root;"]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def nginx_command(conf: Path, work: Path) -> list[str]:
    """Return the command running *conf* in the foreground with *work* as its prefix."""
    return [find_nginx(), "-p", str(work), "-c", str(conf), "-e", "stderr",
            "-g", global_directives()]


def start_nginx(conf: Path, work: Path, port: int,
                limit: float = START_LIMIT) -> subprocess.Popen:
    """Start nginx with *conf* and return it once it listens on *port*.

    The caller stops it (:func:`tests.support.serve.stop`); if it does not come up within
    *limit* seconds it is stopped here and :class:`NotAnswering` quotes its output.
    """
    log = work / "stderr.log"
    process = spawn(nginx_command(conf, work), log, cwd=work)
    try:
        wait_until(lambda: listening(port), f"nginx to listen on 127.0.0.1:{port}", limit,
                   alive=lambda: process.poll() is None,
                   why=lambda: f":\n{log_tail(log)}{log_tail(work / 'error.log')}")
    except BaseException:
        stop(process)
        raise
    return process


@contextlib.contextmanager
def nginx_running(conf: Path, work: Path, port: int, limit: float = START_LIMIT,
                  grace: float = STOP_LIMIT) -> Iterator[subprocess.Popen]:
    """Run nginx with *conf* (see :func:`start_nginx`); stop it on leaving."""
    process = start_nginx(conf, work, port, limit)
    try:
        yield process
    finally:
        stop(process, grace)
