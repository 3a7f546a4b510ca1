"""The published state of a site: snapshot → feeds → pages, swapped in by one reload().

``Site.reload()`` is the one plain method the scheduler, the CLI and the tests call;
``Site.try_reload()`` is the step every reload loop runs (the scheduler's job and
``feedsvc build --watch``), and ``Site.next_reload_at()`` says when the next future post
falls due. It never imports Flask; the web layer reads ``site.current`` and hooks in with
``on_reload``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
import types
from collections.abc import Callable, Mapping
from urllib.parse import quote

from .config import Settings
from .dates import Clock, utc_now
from . import __version__
from .document_cache import CACHE_ERRORS, DocumentCache, cache_key, open_cache
from .documents import Document
from .errors import FeedsvcError
from .feeds import FeedBuilder, FeedSet
from .pages import PageBuilder
from .source import Snapshot, Store
from .urls import FORMATS, feed_path

log = logging.getLogger(__name__)

# Reload this long after a post's date, so the store's clock is surely past it.
DUE_MARGIN = dt.timedelta(seconds=0.2)


@dataclasses.dataclass(frozen=True)
class Summary:
    """What operators and the scheduler need to know of a published snapshot."""

    posts: int
    categories: int
    tags: int
    broken: int
    pending: int
    next_due: dt.datetime | None     # when the next future post is due

    @classmethod
    def of(cls, snapshot: Snapshot) -> Summary:
        """Return the summary of *snapshot*."""
        return cls(len(snapshot.posts), len(snapshot.categories), len(snapshot.tags),
                   len(snapshot.errors), snapshot.pending, snapshot.next_due)


@dataclasses.dataclass(frozen=True)
class Published:
    """Everything served for one snapshot, keyed by decoded URL path.

    Documents restored from the document cache at start have no snapshot or feeds of this
    process yet (``restored_at`` says when they were restored); the catch-up reload
    replaces them.
    """

    snapshot: Snapshot | None
    feeds: FeedSet | None
    documents: Mapping[str, Document]
    summary: Summary
    restored_at: dt.datetime | None = None
    # Decoded path -> public URL of every feed document: the WebSub topics (docs/aggregators.md)
    topics: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({}))


@dataclasses.dataclass(frozen=True)
class ReloadStatus:
    """What operators see of the reloads (``/healthz``, ``/metrics``)."""

    last_success: dt.datetime | None = None
    last_duration: float | None = None
    last_failure: dt.datetime | None = None
    last_error: str | None = None       # reason only: never a path or a traceback
    failures: int = 0                   # failed reloads since start
    reloads: int = 0                    # successful reloads since start


# Called after every reload: with what it published, or None when it failed.
ReloadHook = Callable[[Published | None, ReloadStatus], None]


def hooks(*each: ReloadHook | None) -> ReloadHook:
    """Return one ``on_reload`` hook that calls each given hook in turn (None: skipped)."""
    chosen = tuple(hook for hook in each if hook is not None)

    def call(published: Published | None, status: ReloadStatus) -> None:
        for hook in chosen:
            hook(published, status)
    return call


def feed_topics(feeds: FeedSet, service_url: str) -> dict[str, str]:
    """Return the public URL of every feed document under each decoded path it is served at
    (the jekyll-feed paths too: a subscriber may use either as its WebSub topic)."""
    topics = {}
    for key in feeds.feeds:
        topics[feed_path(key.kind, key.name, key.fmt, encoded=False)] = \
            service_url + feed_path(key.kind, key.name, key.fmt)
    for path in feeds.jekyll:
        topics[path] = service_url + quote(path, safe="/")
    return topics


def route_documents(feeds: FeedSet, pages: Mapping[str, Document]) -> dict[str, Document]:
    """Return every document under each decoded path it is served at."""
    documents = dict(pages)
    for key, document in feeds.feeds.items():
        documents[feed_path(key.kind, key.name, key.fmt, encoded=False)] = document
    # jekyll-feed's paths: exactly the feeds jekyll-feed writes for the site's feed: block,
    # each naming itself, so a subscriber of either URL keeps it.
    documents.update(feeds.jekyll)
    return documents


class Site:
    """A content store and the documents published from its newest snapshot."""

    def __init__(self, settings: Settings, clock: Clock = utc_now, *,
                 on_reload: ReloadHook | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.store = Store.from_settings(settings, clock)
        self.builder = FeedBuilder.from_settings(settings)
        self.pages = PageBuilder(settings)
        self.current: Published | None = None
        self.status = ReloadStatus()
        self.on_reload = on_reload      # called after each reload, failed ones too
        self._lock = threading.Lock()   # one reload at a time, whoever calls it
        self._documents: DocumentCache | None = None
        if settings.cache_dir:
            self._documents = open_cache(settings.cache_dir,
                                         cache_key(settings.as_dict(), __version__))

    def reload(self) -> Published:
        """Reload the store, rebuild what changed and publish it; keep the old on failure."""
        with self._lock:
            started = time.perf_counter()
            try:
                snapshot = self.store.reload()
                feeds = self.builder.build(snapshot, self.store)
                pages = self.pages.build(snapshot, feeds)
            except FeedsvcError as exc:
                self._failed(getattr(exc, "reason", None) or str(exc))
                raise
            except Exception as exc:   # keep serving the last good state, whatever broke
                log.exception("reload failed unexpectedly")
                self._failed(f"internal error ({type(exc).__name__}); see the service log")
                raise
            published = Published(snapshot, feeds,
                                  types.MappingProxyType(route_documents(feeds, pages)),
                                  Summary.of(snapshot),
                                  topics=types.MappingProxyType(
                                      feed_topics(feeds, self.settings.service_url)))
            self.current = published
            self._save_documents(published)
            self.status = dataclasses.replace(
                self.status, last_success=self.clock(),
                last_duration=time.perf_counter() - started, reloads=self.status.reloads + 1)
        if self.on_reload is not None:
            self.on_reload(published, self.status)
        return published

    def try_reload(self) -> Published | None:
        """Reload as :meth:`reload` does; on failure log why and return None.

        The step of every reload loop: the last good state stays published, and the loop
        goes on, whatever broke.
        """
        try:
            return self.reload()
        except Exception:  # noqa: BLE001 - reload() logged and recorded why; the loop goes on
            return None

    def next_reload_at(self, margin: dt.timedelta = DUE_MARGIN) -> dt.datetime | None:
        """Return when to reload so the next future post is published (its date plus
        *margin*, never in the past), or None when no post is waiting."""
        current = self.current
        due = None if current is None else current.summary.next_due
        return None if due is None else max(due, self.clock()) + margin

    def restore(self) -> bool:
        """Publish the documents the last run saved in ``cache_dir``, if they fit; say if so.

        They fit when the same feedsvc version built them from the same settings. They are
        served until the next reload (which the caller runs at once) replaces them.
        """
        if self._documents is None or self.current is not None:
            return False
        try:
            saved = self._documents.load()
        except CACHE_ERRORS as exc:
            log.warning("could not read the document cache: %s", exc)
            return False
        if saved is None:
            return False
        summary = dict(saved.summary)
        due = summary.get("next_due")
        summary["next_due"] = None if due is None else dt.datetime.fromisoformat(due)
        self.current = Published(None, None, types.MappingProxyType(saved.documents),
                                 Summary(**summary), restored_at=self.clock())
        log.info("serving %d documents saved at %s (built from %s); reloading to catch up",
                 len(saved.documents), saved.saved_at.isoformat(timespec="seconds"),
                 ", ".join(f"{k} {v}" for k, v in saved.built_from.items()))
        return True

    def _save_documents(self, published: Published) -> None:
        """Keep what was just published for the next start (only what changed is written)."""
        if self._documents is None:
            return
        try:
            self._documents.save(published.documents, dataclasses.asdict(published.summary),
                                 self.store.state(), self.clock())
        except CACHE_ERRORS as exc:
            log.warning("could not write the document cache: %s", exc)

    def _failed(self, reason: str) -> None:
        log.error("reload failed: %s", reason)
        self.status = dataclasses.replace(
            self.status, last_failure=self.clock(), last_error=reason,
            failures=self.status.failures + 1)
        if self.on_reload is not None:
            self.on_reload(None, self.status)

    def document(self, path: str) -> Document | None:
        """Return the document served at decoded *path*, or None."""
        current = self.current
        return None if current is None else current.documents.get(path)


__all__ = ["FORMATS", "Published", "ReloadStatus", "Site", "Summary", "feed_topics", "hooks",
           "route_documents"]
