"""WebSub publishing: which topics a reload changed, and telling the hubs of them.

A topic is the public URL of a feed document, every format of every feed and the jekyll-feed
paths (``/feed.xml``...) too, since a subscriber may have subscribed to either
(:func:`feedsvc.site.feed_topics`). After each reload :meth:`HubPublisher.on_reload` (a
``Site`` hook) compares the ETags of the documents just published with those of the last
reload: every topic whose bytes changed, or that is new, goes to the hubs as one batch
(:class:`~feedsvc.websub.HubNotifier`: a background thread, one request per topic per hub,
retries and backoff, a bounded queue, one sender per host). Nothing is sent for a process's
first load: nothing changed for the world.

Several worker processes each reload on their own schedule, and a hub fetches the topic
from whichever worker its request reaches. So with a lock folder (several processes serve)
a batch waits ``settle`` seconds, a reload interval and a little more, before it is queued:
by then every worker has reloaded and serves the new bytes.

``feedsvc build --watch`` calls :meth:`HubPublisher.publish` itself, once the new export is
in place. The notifier is created lazily, on the first reload after the first load, so in
the process that serves, after any fork.
"""
from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
import threading
from pathlib import Path
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .config import Settings
from .site import Published, ReloadStatus
from .websub import HubNotifier

log = logging.getLogger(__name__)

# Flask-WebSub reads hub.topic, Google's and Superfeedr's hubs hub.url (docs/aggregators.md).
TOPIC_FIELDS = ("hub.url", "hub.topic")
# A standby keeps topics this long at least (the notifier's default, 120 s): long enough to
# cover the settle delay and a reload of the sender that died.
STANDBY_WINDOW = 120.0


def host_lock_dir(settings: Settings) -> Path | None:
    """Return the folder of the sender lock of every process of this host that publishes
    these feeds (the same public URL and hubs), whichever server it belongs to; None if
    the user's folder for it in the temporary folder is not safely its own."""
    user = os.getuid()
    base = Path(tempfile.gettempdir()) / f"feedsvc-websub-{user}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(base)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != user:   # a symlink, or not ours
        log.warning("WebSub: %s is not a folder of this user; one sender per server only",
                    base)
        return None
    key = repr((settings.service_url, settings.websub_hubs)).encode("utf-8", "surrogatepass")
    return base / hashlib.blake2b(key, digest_size=8).hexdigest()


def changed_topics(old: Published | None, new: Published) -> list[str]:
    """Return the topic URL of every feed document of *new* that *old* did not have with
    the same bytes (by ETag), in *new*'s order; none when there is no *old*."""
    if old is None:
        return []
    changed = []
    for path, url in new.topics.items():
        before, after = old.documents.get(path), new.documents.get(path)
        if after is not None and (before is None or before.etag != after.etag):
            changed.append(url)
    return changed


class HubPublisher:
    """Tell WebSub hubs of the topics each reload changed (one per process)."""

    def __init__(self, hubs: Iterable[str], *, lock_dir: str | os.PathLike[str] | None = None,
                 settle: float = 0.0, notifier: Callable[..., HubNotifier] = HubNotifier,
                 **options: Any) -> None:
        self.hubs = tuple(hubs)
        self.lock_dir = lock_dir
        self.settle = settle
        self.on_outcome: Callable[[], None] | None = None   # metrics sync (web/metrics.py)
        self._make = notifier
        self._options = {"topic_fields": TOPIC_FIELDS,
                         "standby_window": max(STANDBY_WINDOW, 2 * settle), **options}
        self._notifier: HubNotifier | None = None
        self._pid = os.getpid()
        self._last: Published | None = None
        self._lock = threading.Lock()
        self._settling = 0   # batches waiting out the settle delay

    @classmethod
    def for_server(cls, settings: Settings, lock_dir: str | os.PathLike[str] | None,
                   workers: int | None = None) -> HubPublisher:
        """Return the publisher of a serving process; *lock_dir* is shared by the processes
        of this host that serve these feeds (:func:`host_lock_dir`), None when one process
        serves alone; *workers* is how many serve in this server (None: unknown)."""
        several = lock_dir is not None and (workers is None or workers > 1)
        settle = float(settings.reload_interval) if several else 0.0
        return cls(settings.websub_hubs, lock_dir=lock_dir, settle=settle)

    def on_reload(self, published: Published | None, status: ReloadStatus) -> None:
        """Queue the topics this reload changed (a ``Site`` ``on_reload`` hook; never raises)."""
        if published is None:
            return
        try:
            with self._lock:
                old, self._last = self._last, published
            if old is None:
                return   # the first load: nothing changed for the world
            notifier = self.notifier()
            topics = changed_topics(old, published)
            if topics:
                log.info("WebSub: %d topics changed; telling %d hub(s)%s", len(topics),
                         len(self.hubs), f" in {self.settle:.1f} s" if self.settle else "")
                self._queue(notifier, topics, self.settle + 2 * (status.last_duration or 0)
                            if self.settle else 0.0)
        except Exception:   # noqa: BLE001 - a hub must never affect reloading or serving
            log.exception("WebSub: could not queue the changed topics")
        self._observed()

    def publish(self, topics: list[str]) -> None:
        """Queue *topics* for every hub now (``feedsvc build --watch``, after its export)."""
        if topics:
            self.notifier().notify(topics)
        self._observed()

    def notifier(self) -> HubNotifier:
        """Return this process's notifier, creating it on first use (after any fork)."""
        with self._lock:
            if self._notifier is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._notifier = self._make(self.hubs, lock_dir=self.lock_dir,
                                            on_outcome=self._observed, **self._options)
            return self._notifier

    def snapshot(self) -> Mapping[str, Any]:
        """Return this process's WebSub state for /healthz and /metrics (JSON-ready)."""
        notifier = self._notifier if self._pid == os.getpid() else None
        if notifier is None:
            state: dict[str, Any] = {"role": "idle", "queue_length": 0,
                                     "hubs": {hub: None for hub in self.hubs}}
        else:
            state = notifier.snapshot()
        return {**state, "settle_seconds": self.settle, "settling_batches": self._settling}

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued within *timeout* seconds, then stop."""
        notifier = self._notifier if self._pid == os.getpid() else None
        if notifier is not None:
            notifier.flush(timeout)
            notifier.close(timeout)

    def _queue(self, notifier: HubNotifier, topics: list[str], delay: float) -> None:
        if delay <= 0:
            notifier.notify(topics)
            return

        def later() -> None:
            try:
                notifier.notify(topics)
            finally:
                with self._lock:
                    self._settling -= 1
                self._observed()

        with self._lock:
            self._settling += 1
        timer = threading.Timer(delay, later)
        timer.name, timer.daemon = "websub-settle", True
        timer.start()

    def _observed(self) -> None:
        if self.on_outcome is not None:
            try:
                self.on_outcome()
            except Exception:   # noqa: BLE001 - metrics must not break publishing
                log.exception("WebSub: updating the metrics failed")
