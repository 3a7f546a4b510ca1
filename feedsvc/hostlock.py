"""One holder per host: an exclusive flock on ``<folder>/<name>``, taken without blocking.

The WebSub notifiers of a server's workers (feedsvc/websub.py) compete for it: the holder
sends, the others stand by and try again now and then. The kernel releases a flock when the
holder's file is closed, which includes the process dying in any way (crash, SIGKILL, OOM).
flock (not ``lockf``/``fcntl`` record locks) is the right kind: two opens of the file
conflict even inside one process, and record locks are dropped when *any* descriptor of the
file closes. The descriptor is opened ``O_CLOEXEC`` (a program the holder execs does not keep
the lock), and a forked child closes its copy at once: it shares the parent's open file and
so its lock, which it would otherwise keep after the parent died, with no one able to take
over. The folder must be on a local filesystem (flock over NFS is not reliable).

This module uses the standard library only and imports nothing from feedsvc.
"""
from __future__ import annotations

import errno
import fcntl
import functools
import logging
import os
import weakref
from pathlib import Path

log = logging.getLogger(__name__)


class HostLock:
    """An exclusive, non-blocking flock on one file; :meth:`try_acquire` until it is held."""

    def __init__(self, folder: str | os.PathLike[str], name: str) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.path = Path(folder) / name
        self.held = False
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        os.register_at_fork(after_in_child=functools.partial(_close_in_child, weakref.ref(self)))

    def try_acquire(self) -> bool:
        """Take the lock if it is free; return whether this process holds it now."""
        if self._fd is None or self.held:
            return self.held
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                log.error("cannot lock %s: %s", self.path, exc)
            return False
        self.held = True
        try:   # for an operator: who holds it (the lock, not this text, decides)
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError:
            pass
        return True

    def close(self) -> None:
        """Let go of the lock (closing the file releases the flock). Safe to call twice."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.held = False


def _close_in_child(ref: weakref.ref[HostLock]) -> None:
    lock = ref()
    if lock is not None and lock._fd is not None:
        try:
            os.close(lock._fd)
        except OSError:
            pass
        lock._fd = None
        lock.held = False
