"""WebSub publishing: tell hubs which topics (feed URLs) changed, from a background thread.

The publisher's side of WebSub (W3C Recommendation, 2018) is one form-encoded POST per changed
topic to each hub the feeds advertise::

    POST <hub>    Content-Type: application/x-www-form-urlencoded
    hub.mode=publish&hub.url=<topic>

The Recommendation leaves this "publish ping" to each hub; ``hub.url`` is the PubSubHubbub
0.3 name that Google's and Superfeedr's hubs read, newer hubs read ``hub.topic`` (Flask-WebSub
only that), so the field names are a setting (``topic_fields``). Some hubs
accept several ``hub.url`` values in one POST; we always send one topic per request, the form
every hub understands. The hub then fetches the topic itself and delivers it to subscribers.

:class:`HubNotifier` never makes its caller wait: :meth:`HubNotifier.notify` only queues, and
one daemon thread sends. The queue is bounded (the oldest entry is dropped and counted when it
is full) and de-duplicated per hub (a topic already waiting for a hub is not queued twice: the
hub fetches the newest content anyway). A 2xx answer is success; 429, 5xx and network errors
are retried with exponential backoff and jitter, a bounded number of times; any other status
(3xx included: a POST is never redirected) fails at once. :meth:`HubNotifier.snapshot` returns
the counters as a plain dict for ``/healthz`` and ``/metrics``.

One sender per host. Under gunicorn every worker reloads the store and sees the same changes,
so every worker would ping the hubs. With ``lock_dir`` set, the notifiers of a host compete
for an exclusive ``fcntl.flock`` on ``<lock_dir>/websub-sender.lock``: the one holding it is
the *sender*, the others are *standbys* that queue but do not send. The kernel releases a
flock when the holder's file is closed, which includes the process dying in any way (crash,
SIGKILL, OOM). Each standby tries the lock again every ``lock_retry_interval`` seconds, so one
of them takes over within that time, and then sends what it has queued: topics it saw within
the last ``standby_window`` seconds (older ones are dropped and counted as ``expired``), which
covers changes the dead sender may not have got to. A duplicate ping is harmless; the hub
fetches the topic and finds nothing new. The lock itself, and why flock, is
:class:`feedsvc.hostlock.HostLock`; several hosts each have their own sender, which only
duplicates pings.

Create the notifier in the process that uses it, after any ``fork()`` (a thread does not
survive a fork, and a child would share the parent's lock): :meth:`notify` refuses to run in
another process than the one that created the notifier.

This module uses the standard library only and imports nothing from feedsvc but the lock.
"""
from __future__ import annotations

import collections
import http.client
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .hostlock import HostLock

__all__ = ["HubNotifier", "LOCK_NAME"]

log = logging.getLogger(__name__)

LOCK_NAME = "websub-sender.lock"
USER_AGENT = "feedsvc-websub/1"
# How much of an error response's body goes into last_error.
_ERROR_BODY_CHARS = 200


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would turn a redirected POST into a GET without the form."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        return None   # urllib then raises HTTPError with the 3xx status


@dataclass
class _Job:
    topic: str
    seq: int              # global enqueue order; the smallest is the oldest
    queued_at: float      # monotonic
    attempts: int = 0     # requests made so far


@dataclass
class _Outcome:
    kind: str             # "sent", "retry" or "failed"
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass
class _Hub:
    url: str
    pending: collections.OrderedDict[str, _Job] = field(default_factory=collections.OrderedDict)
    inflight: _Job | None = None
    not_before: float = 0.0   # monotonic; the hub is backing off until then
    consecutive_failures: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    dropped: int = 0
    deduplicated: int = 0
    expired: int = 0
    last_success: float | None = None   # Unix time
    last_failure: float | None = None   # Unix time
    last_status: int | None = None
    last_error: str | None = None

    def stats(self) -> dict[str, Any]:
        return {
            "queue_length": len(self.pending) + (self.inflight is not None),
            "sent": self.sent, "failed": self.failed, "retried": self.retried,
            "dropped": self.dropped, "deduplicated": self.deduplicated, "expired": self.expired,
            "last_success": self.last_success, "last_failure": self.last_failure,
            "last_status": self.last_status, "last_error": self.last_error,
        }


class HubNotifier:
    """Queue changed topics and ping every hub about each one from a background thread.

    *hubs*: the hub URLs. *lock_dir*: a folder for the sender lock (None: this notifier always
    sends). *max_queue*: most topics waiting across all hubs. *max_attempts*: requests per topic
    and hub before it counts as failed. Backoff before retry *n* of a hub (its *n*-th failure in
    a row) is ``backoff_base * 2**(n-1)`` capped at *backoff_max*, of which a random half is
    taken off (jitter); a hub's ``Retry-After`` is honoured up to *backoff_max*. *timeout*:
    seconds for one request. *topic_fields*: the form fields that carry the topic
    (``("hub.url", "hub.topic")`` suits hubs of both conventions). *start*: start the sending
    thread now (else call :meth:`start`). *on_outcome*: called by the sending thread, with no
    lock held, after each request's outcome is counted (metrics read :meth:`snapshot` then).
    """

    def __init__(self, hubs: Iterable[str], *, lock_dir: str | os.PathLike[str] | None = None,
                 max_queue: int = 1000, max_attempts: int = 5, timeout: float = 10.0,
                 backoff_base: float = 1.0, backoff_max: float = 300.0,
                 lock_retry_interval: float = 5.0, standby_window: float = 120.0,
                 topic_fields: Iterable[str] = ("hub.url",), user_agent: str = USER_AGENT,
                 opener: urllib.request.OpenerDirector | None = None,
                 rng: Callable[[], float] = random.random, start: bool = True,
                 on_outcome: Callable[[], None] | None = None) -> None:
        urls = list(dict.fromkeys(h.strip() for h in hubs if h and h.strip()))
        if max_queue < 1 or max_attempts < 1:
            raise ValueError("max_queue and max_attempts must be at least 1")
        if lock_retry_interval <= 0 or timeout <= 0:
            raise ValueError("lock_retry_interval and timeout must be positive")
        self.topic_fields = tuple(topic_fields)
        if not self.topic_fields:
            raise ValueError("topic_fields must name at least one form field")
        self.max_queue = max_queue
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.lock_retry_interval = lock_retry_interval
        self.standby_window = standby_window
        self.user_agent = user_agent
        self._opener = opener or urllib.request.build_opener(_NoRedirect)
        self._rng = rng
        self._on_outcome = on_outcome
        self._hubs = {url: _Hub(url) for url in urls}
        self._cond = threading.Condition()
        self._pending = 0          # jobs in all hubs' pending queues (in-flight ones excluded)
        self._seq = 0
        self._closed = False
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._host_lock = None if lock_dir is None else HostLock(lock_dir, LOCK_NAME)
        self._next_lock_try = 0.0
        self._try_lock(time.monotonic())
        if start:
            self.start()

    # -- the caller's side -------------------------------------------------------------------

    def start(self) -> None:
        """Start the sending thread, once (the constructor does, unless ``start=False``)."""
        with self._cond:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name="websub-notifier", daemon=True)
            self._thread.start()

    def notify(self, topics: Iterable[str]) -> int:
        """Queue *topics* for every hub; return how many (topic, hub) entries were added.

        Never waits for the network. A topic already waiting for a hub is not added again
        (counted as ``deduplicated``); one being sent right now is, since the change may have
        come after the hub fetched it. When the queue is full the oldest entry is dropped.
        """
        if os.getpid() != self._pid:
            raise RuntimeError("HubNotifier used in a forked child: create one per process, "
                               "after fork()")
        fresh = list(dict.fromkeys(t.strip() for t in topics if t and t.strip()))
        added = 0
        with self._cond:
            if self._closed or not fresh:
                return 0
            now = time.monotonic()
            for topic in fresh:
                for hub in self._hubs.values():
                    if topic in hub.pending:
                        hub.deduplicated += 1
                        continue
                    self._seq += 1
                    hub.pending[topic] = _Job(topic, self._seq, now)
                    self._pending += 1
                    added += 1
                    self._trim()
            self._cond.notify_all()
        return added

    def flush(self, timeout: float) -> bool:
        """Wait until nothing is queued or being sent; False if *timeout* seconds ran out first.

        A standby never sends, so this returns False for one with topics queued.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or any(h.inflight for h in self._hubs.values()):
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread (waiting up to *timeout* s for a request under way) and let go of the
        lock. What is still queued is dropped. Safe to call twice."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._cond:
            self._release_lock()

    def __enter__(self) -> HubNotifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def role(self) -> str:
        """``sender``, ``standby`` or ``closed``."""
        with self._cond:
            return self._role()

    def snapshot(self) -> dict[str, Any]:
        """Counters as a plain dict (JSON-ready): totals, then one entry per hub.

        Times are Unix seconds or None. ``queue_length`` counts entries waiting or being sent.
        """
        with self._cond:
            hubs = {url: hub.stats() for url, hub in self._hubs.items()}
            out: dict[str, Any] = {
                "role": self._role(),
                "lock_file": str(self._host_lock.path) if self._host_lock else None,
                "queue_length": sum(h["queue_length"] for h in hubs.values()),
                "queue_max": self.max_queue,
            }
            for key in ("sent", "failed", "retried", "dropped", "deduplicated", "expired"):
                out[key] = sum(h[key] for h in hubs.values())
            for key in ("last_success", "last_failure"):
                times = [h[key] for h in hubs.values() if h[key] is not None]
                out[key] = max(times) if times else None
            out["hubs"] = hubs
            return out

    # -- the thread's side -------------------------------------------------------------------

    @property
    def _is_sender(self) -> bool:
        return self._host_lock is None or self._host_lock.held

    def _role(self) -> str:
        return "closed" if self._closed else "sender" if self._is_sender else "standby"

    def _run(self) -> None:
        while True:
            with self._cond:
                picked = self._next_job()
                if picked is None:
                    return   # closed
                hub, job = picked
            try:
                outcome = self._send(hub.url, job.topic)
            except Exception as exc:   # noqa: BLE001 - a bug here must not kill the thread
                log.exception("WebSub: unexpected error telling %s of %s", hub.url, job.topic)
                reason = f"{type(exc).__name__}: {exc}"[:_ERROR_BODY_CHARS]
                outcome = _Outcome("failed", None, reason)
            with self._cond:
                self._record(hub, job, outcome)
                self._cond.notify_all()
            if self._on_outcome is not None:
                try:
                    self._on_outcome()
                except Exception:   # noqa: BLE001 - an observer's bug must not stop sending
                    log.exception("WebSub: on_outcome failed")

    def _next_job(self) -> tuple[_Hub, _Job] | None:
        """Under the lock: wait for a due job and mark it in flight; None once closed."""
        while not self._closed:
            now = time.monotonic()
            if not self._is_sender:
                if now >= self._next_lock_try:
                    self._try_lock(now)
                if not self._is_sender:
                    self._expire(now)
                    self._cond.wait(max(0.0, self._next_lock_try - now))
                    continue
            best: _Hub | None = None
            wake: float | None = None
            for hub in self._hubs.values():
                if not hub.pending or hub.inflight is not None:
                    continue
                if hub.not_before > now:
                    wake = hub.not_before if wake is None else min(wake, hub.not_before)
                    continue
                if best is None or _head(hub).seq < _head(best).seq:
                    best = hub
            if best is not None:
                _, job = best.pending.popitem(last=False)
                self._pending -= 1
                best.inflight = job
                return best, job
            self._cond.notify_all()   # idle: wake flush()
            self._cond.wait(None if wake is None else wake - now)
        return None

    def _send(self, hub_url: str, topic: str) -> _Outcome:
        """POST one publish ping; classify the answer. Runs without the lock held."""
        form = [("hub.mode", "publish")] + [(name, topic) for name in self.topic_fields]
        request = urllib.request.Request(
            hub_url, data=urllib.parse.urlencode(form).encode("ascii"), method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "User-Agent": self.user_agent})
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(65536)
                return _Outcome("sent", status=response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                body = exc.read(_ERROR_BODY_CHARS).decode("utf-8", "replace")
            except Exception:   # noqa: BLE001 - the body is only for the message
                body = ""
            finally:
                exc.close()
            reason = f"HTTP {status}" + (f": {' '.join(body.split())}" if body.strip() else "")
            reason = reason[:_ERROR_BODY_CHARS]
            if status == 429 or status >= 500:
                return _Outcome("retry", status, reason, _retry_after(exc.headers))
            return _Outcome("failed", status, reason)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            return _Outcome("retry", None, f"{type(exc).__name__}: {reason}"[:_ERROR_BODY_CHARS])
        except ValueError as exc:   # e.g. a hub URL without a scheme: retrying will not help
            return _Outcome("failed", None, f"ValueError: {exc}"[:_ERROR_BODY_CHARS])

    def _record(self, hub: _Hub, job: _Job, outcome: _Outcome) -> None:
        """Under the lock: count *outcome* and requeue *job* if it is to be retried."""
        hub.inflight = None
        job.attempts += 1
        hub.last_status = outcome.status
        if outcome.kind == "sent":
            hub.sent += 1
            hub.last_success = time.time()
            hub.consecutive_failures = 0
            hub.not_before = 0.0
            log.debug("WebSub: %s told of %s (%s)", hub.url, job.topic, outcome.status)
            return
        hub.last_error = outcome.error
        if outcome.kind == "retry":
            hub.consecutive_failures += 1
            delay = self._backoff(hub.consecutive_failures, outcome.retry_after)
            hub.not_before = time.monotonic() + delay
            if self._closed:
                return   # abandoned, like everything still queued
            if job.attempts < self.max_attempts:
                if job.topic in hub.pending:
                    hub.deduplicated += 1    # queued again meanwhile: that entry goes instead
                    return
                hub.retried += 1
                hub.pending[job.topic] = job
                hub.pending.move_to_end(job.topic, last=False)   # keep its place: the oldest
                self._pending += 1
                self._trim()
                log.debug("WebSub: %s failed for %s (%s); retry in %.2fs",
                          hub.url, job.topic, outcome.error, delay)
                return
        hub.failed += 1
        hub.last_failure = time.time()
        log.warning("WebSub: gave up telling %s of %s after %d attempt(s): %s",
                    hub.url, job.topic, job.attempts, outcome.error)

    def _backoff(self, failures: int, retry_after: float | None) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** min(failures - 1, 62))
        delay = ceiling / 2 + self._rng() * ceiling / 2   # "equal jitter"
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max))
        return delay

    def _trim(self) -> None:
        """Under the lock: drop the oldest waiting entries while the queue is over its bound."""
        while self._pending > self.max_queue:
            oldest = min((h for h in self._hubs.values() if h.pending), key=lambda h: _head(h).seq)
            _, job = oldest.pending.popitem(last=False)
            self._pending -= 1
            oldest.dropped += 1
            log.debug("WebSub: queue full, dropped %s for %s", job.topic, oldest.url)

    def _expire(self, now: float) -> None:
        """Under the lock, as a standby: forget topics older than ``standby_window``."""
        cutoff = now - self.standby_window
        for hub in self._hubs.values():
            while hub.pending and _head(hub).queued_at < cutoff:
                hub.pending.popitem(last=False)
                self._pending -= 1
                hub.expired += 1

    def _try_lock(self, now: float) -> None:
        """Under the lock (or in __init__): become the sender if the flock is free."""
        self._next_lock_try = now + self.lock_retry_interval
        lock = self._host_lock
        if lock is not None and not lock.held and lock.try_acquire():
            log.info("WebSub: process %d is this host's sender (%s)", os.getpid(), lock.path)

    def _release_lock(self) -> None:
        if self._host_lock is not None:
            self._host_lock.close()


def _head(hub: _Hub) -> _Job:
    return next(iter(hub.pending.values()))


def _retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After: <seconds>`` header; None for a date or anything else."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None
