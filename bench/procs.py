"""Time child processes for the benchmarks: wall time, peak RSS, bounded durations.

Servers are started, waited for and stopped with ``tests.support`` (the tests' own helpers);
what is here is the benchmarks' own: a timed run to completion, a median, and a wait for a
server that fails as a :class:`BenchError` quoting the server's log.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Sequence

from tests.support.net import NotAnswering, wait_for
from tests.support.serve import PYTHON, ROOT, child_env

__all__ = ["PYTHON", "ROOT", "BenchError", "Finished", "median", "run", "wait_up"]


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


def wait_up(url: str, limit: float, process: subprocess.Popen, log: Path) -> float:
    """Wait until *url* answers 200 while *process* runs; return the seconds it took.

    Raise :class:`BenchError` with the end of *log* when it exits or *limit* passes.
    """
    try:
        return wait_for(url, limit, lambda: process.poll() is None,
                        lambda: "; log: " + log.read_text(errors="replace")[-800:])
    except NotAnswering as exc:
        raise BenchError(str(exc)) from None


def median(values: Sequence[float]) -> float | None:
    """Return the median, or None for no values."""
    return statistics.median(values) if values else None
