"""Archive pages over HTTP: find the page a URL names, render it once, keep it in an LRU.

What each archive URL answers (docs/aggregators.md):

- ``/feeds/archive/<kind>/<name>/<k>-<digest>.<fmt>``, the digest of page *k*'s published
  version: 200, ``Cache-Control: public, max-age=31536000, immutable`` (the URL stands for
  these bytes forever; feeds/archives.py says why). Any other digest: 404 with
  ``Cache-Control: no-store``, since the page changed (walk again from the current feed), or
  another worker has reloaded before this one and the URL is valid here a moment later.
- ``.../<k>.<fmt>``, the page's stable URL (what ``next-archive`` links to): 302 to its
  current version, or to the current document for the page after the newest.
- Anything else under ``/feeds/archive/``: 404, never a 500.

Pages are rendered on request from the post files and kept in a :class:`PageCache` bounded
in bytes; one thread renders a page while others asking for it wait for that rendering. A
kept page of the published version is answered by the fast path (:meth:`ArchivePages.kept`),
everything else here through Flask.
"""
from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Callable

from ..documents import Document
from ..feeds.archives import ArchiveUnavailable, FeedArchive, render_page
from ..site import Site
from ..urls import ARCHIVE_ROOT, ArchiveAddress, feed_path, parse_archive_path
from .http import NOT_FOUND_MAX_AGE

IMMUTABLE = "public, max-age=31536000, immutable"


@dataclasses.dataclass(frozen=True)
class Page:
    """The page a URL names, rendered."""

    document: Document


@dataclasses.dataclass(frozen=True)
class Moved:
    """A stable page URL: where its current version is."""

    location: str


@dataclasses.dataclass(frozen=True)
class Refusal:
    """Why there is no page: a status, a plain message, and how long to cache that."""

    status: int
    text: str
    cache_control: str
    retry_after: int | None = None


Outcome = Page | Moved | Refusal


class PageCache:
    """Rendered archive pages by path, least recently used dropped first past *max_bytes*."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = self.misses = self.evictions = 0
        self._pages: collections.OrderedDict[str, Document] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._rendering: dict[str, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: str, render: Callable[[], Document]) -> Document:
        """Return the page at *key*, rendering it (once, whoever else asks) if not kept."""
        with self._lock:
            found = self._hit(key)
            if found is not None:
                return found
            guard = self._rendering.setdefault(key, threading.Lock())
        with guard:
            with self._lock:
                found = self._hit(key)
                if found is not None:
                    return found
                self.misses += 1
            try:
                document = render()
            finally:
                with self._lock:
                    self._rendering.pop(key, None)
            with self._lock:
                self._keep(key, document)
            return document

    def peek(self, key: str) -> Document | None:
        """Return the page at *key* if it is kept, never rendering it."""
        with self._lock:
            return self._hit(key)

    def _hit(self, key: str) -> Document | None:
        document = self._pages.get(key)
        if document is not None:
            self._pages.move_to_end(key)
            self.hits += 1
        return document

    def _keep(self, key: str, document: Document) -> None:
        size = _size(document)
        if key in self._pages or size > self.max_bytes:
            return
        self._pages[key] = document
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, dropped = self._pages.popitem(last=False)
            self.bytes -= _size(dropped)
            self.evictions += 1


def _size(document: Document) -> int:
    return len(document.body) + len(document.gzip)


class ArchivePages:
    """Answer archive URLs from a site's published archives (one per app)."""

    def __init__(self, site: Site, max_bytes: int) -> None:
        self.site = site
        self.cache = PageCache(max_bytes)
        self.service_url = site.settings.service_url
        self.retry_after = site.settings.reload_interval

    def kept(self, path: str) -> Document | None:
        """Return the page at decoded *path* if it is kept and is the published version."""
        if not path.startswith(ARCHIVE_ROOT):
            return None
        document = self.cache.peek(path)
        if document is None:
            return None
        address, archive = self._archive_of(path)
        if archive is None or address is None or address.page >= archive.pages \
                or address.digest != archive.digests[address.page]:
            return None
        return document

    def _archive_of(self, path: str) -> tuple[ArchiveAddress | None, FeedArchive | None]:
        address = parse_archive_path(path)
        current = self.site.current
        if address is None or current is None:
            return address, None
        return address, current.feeds.archives.get((address.kind, address.name))

    def find(self, path: str) -> Outcome:
        """Return what the decoded *path* answers (see the module's docstring)."""
        address, archive = self._archive_of(path)
        if address is not None and self.site.current is None:   # before the first load
            return Refusal(503, "The feeds are not loaded yet; try again in a moment.\n",
                           "no-store", self.retry_after)
        if address is None or archive is None:
            return _not_found(f"Not found. Every feed is listed at {self.service_url}/\n")
        feed_url = self.service_url + feed_path(address.kind, address.name, address.fmt)
        number = address.page
        if not address.digest:
            if number < archive.pages:
                return Moved(archive.stem(number, self.service_url) + f".{address.fmt}")
            if number == archive.pages:   # next-archive of the newest page
                return Moved(feed_url)
        if number >= archive.pages:
            return _not_found(f"Not found: {feed_url} has {archive.pages} archive pages; "
                              "follow its prev-archive link.\n")
        if address.digest != archive.digests[number]:
            return Refusal(404, f"This version of archive page {number} is gone: a post in "
                           "it or in an older page changed. Walk the archive again from "
                           f"{feed_url} (its prev-archive link).\n", "no-store")
        return self._page(path, archive, number, address.fmt)

    def _page(self, path: str, archive: FeedArchive, number: int, fmt: str) -> Outcome:
        try:
            document = self.cache.get(
                path, lambda: render_page(archive, number, fmt, self.site.store))
        except ArchiveUnavailable:
            return Refusal(503, "This archive page is being updated; try again in a moment.\n",
                           "no-store", self.retry_after)
        return Page(document)


def _not_found(text: str) -> Refusal:
    return Refusal(404, text, f"public, max-age={NOT_FOUND_MAX_AGE}")
