"""Run child processes for the benchmarks: wall time, peak RSS, bounded durations."""
from __future__ import annotations

import dataclasses
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


class BenchError(Exception):
    """A part of the benchmark could not run; the message says why."""


@dataclasses.dataclass(frozen=True)
class Finished:
    """What one child process did."""

    wall_s: float
    peak_rss_mb: float     # ru_maxrss of the child itself, from wait4(2)
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


def child_env(**extra: str) -> dict[str, str]:
    """Return the environment of a child: this checkout first on the path, no FEEDSVC_* leaks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run(cmd: Sequence[str], timeout: float, cwd: Path = ROOT,
        env: dict[str, str] | None = None) -> Finished:
    """Run *cmd* to completion (killed after *timeout* s); return its time and peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env or child_env(), stdout=out,
                                stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            # wait4 gives this child's own rusage; Popen.wait would not.
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Finished(wall, usage.ru_maxrss / 1024, proc.returncode,
                        out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"), killed.is_set())


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, headers: dict[str, str] | None = None,
          timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Return (status, headers, body) of one GET; 304 and errors are answers, not raises."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def wait_for(url: str, timeout: float, proc: subprocess.Popen | None = None) -> float:
    """Poll *url* until it answers 200; return the seconds it took. Raise BenchError."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"server exited with {proc.returncode} before serving {url}")
        try:
            if fetch(url, timeout=2)[0] == 200:
                return time.perf_counter() - began
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.05)
    raise BenchError(f"{url} did not answer 200 within {timeout:.0f} s")


def stop(proc: subprocess.Popen, grace: float = 10) -> None:
    """Stop a server we started (its whole process group): TERM, then KILL."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def median(values: Sequence[float]) -> float | None:
    """Return the median, or None for no values."""
    return statistics.median(values) if values else None
