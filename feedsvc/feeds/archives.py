"""RFC 5005 archived feeds: fixed pages counted from the oldest post, each at a URL of its own.

A feed's posts in age order (oldest first, by the store's sort key) are cut into pages of
``archive_page_size``: page *k* holds posts ``k*N .. k*N+N-1``. The current document (the
newest ``feed_limit`` posts, at the feed's usual URL) is not in any page: the archive is
every *older* post, so the newest page may be open (fewer than N posts) and fills up as new
posts push older ones out of the current document. Walking ``prev-archive`` from the current
document therefore meets every published post exactly once.

Every page has a content-addressed URL, ``/feeds/archive/<kind>/<name>/<k>-<digest>.<fmt>``.
The digest chains (like a hash list): it covers the page number, each post version on the
page (path, file digest, URL, entry id), the settings and package versions the writers
depend on (:func:`fingerprint`), and the digest of the page before it. A page's bytes name
the page before it by that digest (``prev-archive``), so a URL always stands for the same
bytes, and a reader who stops walking at the first page it has seen before (RFC 5005 §4)
still reaches an edit: an edit or deletion in page *j* gives page *j* and every newer page
a new URL. A new post changes only the open page (or opens a new one). ``next-archive``
names the newer page by its stable URL ``.../<k+1>.<fmt>``, which the web layer redirects
to the current version (a digest there would make each page's URL depend on its own).

Pages are planned on each reload (:class:`ArchivePlanner`, only the pages past the first
change are hashed again) and rendered on request (:func:`render_page`), never all at once.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import importlib.metadata
import types
from collections.abc import Callable, Iterable, Mapping

from ..documents import Document, make_document
from ..errors import FeedsvcError
from ..source import BodyReader, Post
from ..urls import archive_stem
from .entries import FeedOptions, make_entry
from .formats import RENDERERS, FeedMeta, History, feed_updated

# Part of every page digest: bump it when a change to the writers changes archive bytes
# (the golden-hash tests of the current feeds fail then too), so no URL serves two versions.
ARCHIVE_SCHEME = "1"
# Their versions are part of every digest as well: an upgrade may change the bytes.
RENDERING_PACKAGES = ("feedsvc", "feedgen", "lxml", "cmarkgfm", "nh3")


class ArchiveUnavailable(FeedsvcError):
    """A page cannot be rendered now: a post's file no longer holds the version it names."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} changed since the last reload")
        self.path = path


@functools.cache
def _package_versions() -> tuple[str, ...]:
    versions = []
    for name in RENDERING_PACKAGES:
        try:
            versions.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name}=?")
    return tuple(versions)


def fingerprint(options: FeedOptions) -> bytes:
    """Return the digest of everything besides the posts that an archive page's bytes
    depend on: every feed option (computed from the fields, never listed) and versions."""
    text = repr((ARCHIVE_SCHEME, _package_versions(), dataclasses.astuple(options)))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclasses.dataclass(frozen=True)
class FeedArchive:
    """The archive of one feed as of one snapshot: the posts of each page and its digest."""

    kind: str
    name: str
    posts: tuple[Post, ...]        # the feed's posts, newest first (the snapshot's tuple)
    digests: tuple[str, ...]       # one per page, the oldest page first
    ids: Mapping[str, str]         # post path -> entry id, as of this snapshot
    meta: FeedMeta                 # the feed's metadata (no hubs, no history)
    options: FeedOptions

    @property
    def archived(self) -> int:
        """Return how many posts are in pages (those older than the current document)."""
        return max(0, len(self.posts) - self.options.feed_limit)

    @property
    def pages(self) -> int:
        """Return the number of pages."""
        return len(self.digests)

    def page_posts(self, number: int) -> tuple[Post, ...]:
        """Return the posts of page *number*, newest first (as feeds list them)."""
        size, total = self.options.archive_page_size, len(self.posts)
        low, high = number * size, min(number * size + size, self.archived)
        return self.posts[total - high:total - low]

    def stem(self, number: int, service_url: str, *, stable: bool = False) -> str:
        """Return the public URL of page *number* without ``.<format>``; *stable*: the
        URL without the digest, which redirects to the page's current version."""
        digest = "" if stable else self.digests[number]
        return service_url + archive_stem(self.kind, self.name, number, digest)

    def newest(self, service_url: str) -> str:
        """Return the URL stem of the newest page, the current document's prev-archive."""
        return self.stem(self.pages - 1, service_url) if self.pages else ""


def page_count(archived: int, size: int) -> int:
    """Return how many pages *archived* posts fill, the last one perhaps open."""
    return -(-archived // size)


def _page_digest(seed: bytes, previous: str, number: int, posts: Iterable[Post],
                 ids: Mapping[str, str]) -> str:
    digest = hashlib.blake2b(seed, digest_size=8)
    versions = "".join(f"{p.path}\0{p.digest}\0{p.url}\0{ids[p.path]}\0" for p in posts)
    digest.update(f"{number}\0{previous}\0{versions}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class ArchivePlanner:
    """Plan the archive of every feed on each reload, hashing only pages that changed."""

    def __init__(self, options: FeedOptions) -> None:
        self.options = options
        self._fingerprint = fingerprint(options)
        self._plans: dict[tuple[str, str], FeedArchive] = {}
        self._posts: tuple[Post, ...] | None = None   # the snapshot the ids were copied for
        self._ids: Mapping[str, str] = types.MappingProxyType({})
        self._duplicates: tuple[str, ...] = ()
        self.hashed = 0   # pages hashed since construction; tests read it

    def plan(self, feeds: Iterable[tuple[str, str, tuple[Post, ...]]], everything: tuple[Post, ...],
             ids: Mapping[str, str], duplicates: tuple[str, ...],
             meta_of: Callable[[str, str], FeedMeta]) -> dict[tuple[str, str], FeedArchive]:
        """Return the archive of each of *feeds* ((kind, name, posts newest first)).

        *everything* is the snapshot's posts and *ids* the builder's entry ids, which it
        changes in place on its next build: they are copied when the posts changed. While
        no id is asked for twice (*duplicates* empty now and before) the id of a post that
        did not change cannot change, so a feed whose posts are the same tuple keeps its plan.
        """
        if everything is not self._posts:
            self._posts, self._ids = everything, types.MappingProxyType(dict(ids))
        stable = not duplicates and not self._duplicates
        self._duplicates = duplicates
        plans = {}
        for kind, name, posts in feeds:
            old = self._plans.get((kind, name))
            if old is not None and old.posts is posts and stable:
                plans[(kind, name)] = dataclasses.replace(old, ids=self._ids)
            else:
                plans[(kind, name)] = self._plan(kind, name, posts, old, stable, meta_of)
        self._plans = plans
        return plans

    def _plan(self, kind: str, name: str, posts: tuple[Post, ...], old: FeedArchive | None,
              stable: bool, meta_of: Callable[[str, str], FeedMeta]) -> FeedArchive:
        options = self.options
        plan = FeedArchive(kind, name, posts, (), self._ids, meta_of(kind, name), options)
        count = page_count(plan.archived, options.archive_page_size)
        kept = 0
        if old is not None:   # the pages before the first that differs keep their digests
            for number in range(min(count, old.pages)):
                mine, theirs = plan.page_posts(number), old.page_posts(number)
                if mine != theirs or not (stable or all(
                        self._ids[p.path] == old.ids[p.path] for p in mine)):
                    break
                kept += 1
        digests = list(old.digests[:kept]) if old is not None else []
        seed = self._fingerprint + f"{kind}\0{name}\0".encode("utf-8", "surrogatepass")
        for number in range(kept, count):
            previous = digests[-1] if digests else ""
            digests.append(_page_digest(seed, previous, number, plan.page_posts(number),
                                        self._ids))
            self.hashed += 1
        return dataclasses.replace(plan, digests=tuple(digests))


def current_history(archive: FeedArchive | None, service_url: str) -> History:
    """Return the RFC 5005 links of a feed's current document: prev-archive, if any."""
    if archive is None or not archive.pages:
        return History()
    return History(prev_archive=archive.newest(service_url))


def render_page(archive: FeedArchive, number: int, fmt: str, bodies: BodyReader) -> Document:
    """Return page *number* of *archive* in *fmt*, rendered now from the post files.

    Raise :class:`ArchiveUnavailable` if a post's file no longer holds the version the page
    names (the next reload publishes the page under a new URL).
    """
    service_url = archive.options.service_url
    history = History(
        archived=True, this=archive.stem(number, service_url),
        prev_archive=archive.stem(number - 1, service_url) if number else "",
        # Always named, even before that page exists, so that the bytes of a full page
        # do not change when the next one opens (the stable URL redirects to the current
        # document until then).
        next_archive=archive.stem(number + 1, service_url, stable=True))
    meta = dataclasses.replace(archive.meta, history=history)
    entries = []
    for post in archive.page_posts(number):
        body = bodies.body_of_version(post)
        if body is None:
            raise ArchiveUnavailable(post.path)
        entries.append(make_entry(post, body, archive.ids[post.path], archive.options))
    zone = archive.options.zone
    updated: dt.datetime | None = feed_updated(entries)
    return make_document(RENDERERS[fmt](meta, entries, zone), fmt, updated)
