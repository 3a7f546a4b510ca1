"""Loopback networking for tests and benchmarks: free ports, plain GETs, waiting for a server."""
from __future__ import annotations

import email.message
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class NotAnswering(Exception):
    """A server did not answer in time, or exited first; the message says which."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, headers: dict[str, str] | None = None,
          timeout: float = 5) -> tuple[int, email.message.Message, bytes]:
    """Return (status, headers, body) of one GET; a 304 or 4xx is an answer, not an error.

    The headers are looked up by name in any case (``headers["etag"]``).
    """
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def listening(port: int) -> bool:
    """Return whether something accepts TCP connections on 127.0.0.1:*port*."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def wait_until(ready: Callable[[], T], what: str, limit: float,
               alive: Callable[[], bool] = lambda: True,
               why: Callable[[], str] = lambda: "") -> T:
    """Call ``ready()`` until it returns something true, and return that.

    *what* names the wait ("nginx to listen on 8080") for the message.

    Raise :class:`NotAnswering` after *limit* seconds, or as soon as ``alive()`` is false
    (the server exited); ``why()`` is added to the message (e.g. the server's log).
    """
    deadline = time.monotonic() + limit
    while True:
        if not alive():
            raise NotAnswering(f"the server exited while waiting for {what}{why()}")
        found = ready()
        if found:
            return found
        if time.monotonic() > deadline:
            raise NotAnswering(f"gave up after {limit:.0f} s waiting for {what}{why()}")
        time.sleep(0.05)


def answers_200(url: str) -> bool:
    """Return whether a GET of *url* answers 200 now (refused while it starts: False)."""
    try:
        return fetch(url, timeout=2)[0] == 200
    except OSError:   # urllib's URLError is an OSError
        return False


def wait_for(url: str, limit: float, alive: Callable[[], bool] = lambda: True,
             why: Callable[[], str] = lambda: "") -> float:
    """Poll *url* until it answers 200; return the seconds it took (see :func:`wait_until`)."""
    began = time.monotonic()
    wait_until(lambda: answers_200(url), f"{url} to answer 200", limit, alive, why)
    return time.monotonic() - began
