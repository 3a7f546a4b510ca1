"""Start child processes from this checkout — ``feedsvc serve`` above all — and stop them.

Every child gets this checkout first on ``PYTHONPATH`` (so it runs the feedsvc under test,
not an installed copy) and none of the caller's ``FEEDSVC_*`` variables; its output goes to a
log file, which errors quote. Every stop is bounded: SIGTERM, then SIGKILL after a grace.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from .net import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
START_LIMIT = 15.0      # seconds for a server on a small site to answer /healthz
STOP_LIMIT = 10.0       # seconds a child gets to stop on SIGTERM before SIGKILL


def child_env(**extra: str) -> dict[str, str]:
    """Return a child's environment: this checkout first on the path, no FEEDSVC_* leaks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def log_tail(log: Path, chars: int = 3000) -> str:
    """Return the end of a child's *log* for an error message (empty if there is none)."""
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def stop(process: subprocess.Popen, grace: float = STOP_LIMIT) -> int:
    """Stop a child we started: SIGTERM, then SIGKILL after *grace* seconds; return its code.

    A child started in a session of its own (``start_new_session=True``) is signalled with
    its whole process group, so nothing it started outlives it. A child already gone is
    only reaped.
    """
    if process.poll() is not None:
        return process.returncode
    group = _own_group(process.pid)
    _signal(process, group, signal.SIGTERM)
    try:
        return process.wait(grace)
    except subprocess.TimeoutExpired:
        _signal(process, group, signal.SIGKILL)
        return process.wait()


def _own_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def _signal(process: subprocess.Popen, group: bool, signum: int) -> None:
    try:
        if group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except ProcessLookupError:
        pass


def spawn(command: Sequence[str], log: Path, env: dict[str, str] | None = None,
          cwd: Path = ROOT, **popen: object) -> subprocess.Popen:
    """Start *command* in *cwd* with its output in *log*; the caller stops it (:func:`stop`)."""
    with log.open("wb") as out:
        return subprocess.Popen(list(command), cwd=cwd, env=env or child_env(),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, **popen)


@contextlib.contextmanager
def started(command: Sequence[str], log: Path, env: dict[str, str] | None = None,
            grace: float = STOP_LIMIT, cwd: Path = ROOT,
            **popen: object) -> Iterator[subprocess.Popen]:
    """Run *command* in *cwd* (the checkout) with its output in *log*; stop it on leaving."""
    process = spawn(command, log, env, cwd, **popen)
    try:
        yield process
    finally:
        stop(process, grace)


def serve_command(port: int, *flags: str) -> list[str]:
    """Return the command of ``feedsvc serve`` from this checkout on 127.0.0.1:*port*."""
    return [PYTHON, "-m", "feedsvc.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            *flags]


@dataclasses.dataclass(frozen=True)
class Server:
    """A running ``feedsvc serve``: where it answers, its master process and its log."""

    base: str
    port: int
    process: subprocess.Popen
    log: Path


def wait_until_up(server: Server, limit: float = START_LIMIT) -> float:
    """Wait until *server* answers ``/healthz`` with 200; return the seconds it took."""
    def why() -> str:
        return ":\n" + log_tail(server.log)
    return wait_for(server.base + "/healthz", limit, lambda: server.process.poll() is None, why)


@contextlib.contextmanager
def serving(log: Path, *flags: str, env: dict[str, str] | None = None,
            limit: float = START_LIMIT, grace: float = STOP_LIMIT) -> Iterator[Server]:
    """Run ``feedsvc serve FLAGS`` on a free port; yield it once ``/healthz`` is 200.

    Wait at most *limit* seconds for it to answer; give it *grace* seconds to stop.
    """
    port = free_port()
    with answering(serve_command(port, *flags), port, log, env, limit, grace) as server:
        yield server


@contextlib.contextmanager
def answering(command: Sequence[str], port: int, log: Path, env: dict[str, str] | None = None,
              limit: float = START_LIMIT, grace: float = STOP_LIMIT,
              **popen: object) -> Iterator[Server]:
    """Run any *command* that serves feedsvc on 127.0.0.1:*port* (plain ``gunicorn``, an
    installed ``feedsvc``, a script); yield it once ``/healthz`` is 200, stop it on leaving.

    *popen* goes to :func:`started` (``cwd=``, ``start_new_session=True``).
    """
    with started(command, log, env, grace, **popen) as process:
        server = Server(f"http://127.0.0.1:{port}", port, process, log)
        wait_until_up(server, limit)
        yield server
