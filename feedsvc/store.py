"""The content store: read a Jekyll site's posts into an immutable snapshot.

Jekyll's rules are followed (see README, "Jekyll rules"): posts are ``YYYY-MM-DD-slug.EXT``
files under ``_posts/`` folders, with YAML front matter. :meth:`Store.reload` re-reads only
files whose (mtime, size, inode) changed, keeps the last good version of a post that breaks,
and swaps a new :class:`Snapshot` in with one assignment.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import itertools
import logging
import marshal
import multiprocessing
import operator
import os
import pickle
import re
import sqlite3
import stat
import threading
import time
import types
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import quote

import yaml

from .cache import ParseCache, fingerprint
from .config import Settings
from .dates import UTC, parse_date
from .errors import ContentError
from .watch import FULL_SCAN_EVERY, ChangeWatcher

try:  # libyaml's loader is about 9x faster than the pure-Python one
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

log = logging.getLogger(__name__)

POST_NAME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-(.+)\.(md|markdown|html)$")
# Jekyll's YAML_FRONT_MATTER_REGEXP: "---" line, YAML, then a "---" or "..." line.
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)??(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
PARALLEL_MIN = 4000  # files to parse before a reload spreads parsing over processes
SKIPPED_DIRS = frozenset({"node_modules", "vendor", "_site", "_drafts"})
PERMALINK_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_PLACEHOLDER = re.compile(r":([a-z_]+)")
_URL_SAFE = "/%:@!$&'()*+,;=~-._"

Clock = Callable[[], dt.datetime]
Signature = tuple[int, int, int] | ContentError   # (mtime_ns, size, inode), or why not


def utc_now() -> dt.datetime:
    """Return the current instant, aware, in UTC."""
    return dt.datetime.now(UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class Post:
    """One post, as read from one file. Every datetime is aware."""

    path: str                    # POSIX path relative to the site root
    slug: str                    # from the file name
    title: str
    date: dt.datetime
    updated: dt.datetime         # last_modified_at, else date
    url: str                     # percent-encoded path under the site, starting with /
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    author: str                  # "" when the post names none
    summary: str                 # front matter description or excerpt, else ""
    image: str                   # front matter image, else ""
    id: str                      # front matter id, else ""
    excerpt_only: bool | None    # per-post override of the site setting
    markdown: bool               # body is Markdown (else HTML taken as it is)
    digest: str                  # hash of the file's bytes
    # The date as Unix seconds: comparing aware datetimes costs an utcoffset() call each,
    # which made sorting 100k posts take 0.5 s.
    epoch: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "epoch", int(self.date.timestamp()))

    @property
    def sort_key(self) -> tuple[int, str]:
        """Return the key that orders posts; the path breaks ties so order never flips."""
        return (self.epoch, self.path)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """An immutable view of the store at one instant; a reload builds a new one."""

    posts: tuple[Post, ...]                       # published and due, newest first
    categories: Mapping[str, tuple[Post, ...]]    # name -> posts, newest first
    tags: Mapping[str, tuple[Post, ...]]
    bodies: Mapping[str, str]                     # path -> raw body, for posts in some feed
    errors: tuple[ContentError, ...]
    loaded_at: dt.datetime
    load_seconds: float
    next_due: dt.datetime | None                  # when the next future post is due
    pending: int = 0                              # future posts not yet due

    def posts_in(self, category: str) -> tuple[Post, ...]:
        """Return the posts of one category, newest first (empty if unknown)."""
        return self.categories.get(category, ())

    def posts_tagged(self, tag: str) -> tuple[Post, ...]:
        """Return the posts with one tag, newest first (empty if unknown)."""
        return self.tags.get(tag, ())

    def body_of(self, post: Post) -> str:
        """Return the raw body (Markdown or HTML) of a post that appears in some feed."""
        return self.bodies[post.path]


@dataclasses.dataclass(slots=True)
class _FileState:
    """What the store remembers of one file between reloads."""

    signature: tuple[int, int, int]
    post: Post | None            # last good post; None if the file is not a post
    body: str | None             # kept only while the post is in some feed
    error: ContentError | None   # why the current version could not be read


class Store:
    """Load a site's posts and keep the newest good snapshot."""

    def __init__(self, settings: Settings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.root = settings.site_root
        self.snapshot: Snapshot | None = None
        self._files: dict[str, _FileState] = {}
        self.reads = 0   # files (re)parsed since start; tests and benchmarks read it
        self._found: dict[str, Signature] | None = None   # the last scan's signatures
        self._unreadable: set[str] = set()
        self._recheck: set[str] = set()   # paths whose body read found a newer file
        self._bodied: set[str] = set()    # paths whose state holds the body
        self._watcher: ChangeWatcher | None = None
        self._watch_trusted = False
        self._quick_scans_left = 0
        self._cache: ParseCache | None = None
        if settings.cache_dir:
            self._open_cache()

    def _open_cache(self) -> None:
        """Start from the parse cache, if it can be read (a restart then parses little)."""
        codec = _RecordCodec(self.settings.zone)
        files = {}
        try:
            self._cache = ParseCache(self.settings.cache_dir, fingerprint(self.settings, Post))
            for rel, signature, record in self._cache.load():
                post, error = codec.decode(record)
                files[rel] = _FileState(signature, post, None, error)
        except (OSError, sqlite3.Error, pickle.UnpicklingError, EOFError, AttributeError,
                TypeError, ValueError, IndexError) as exc:
            log.warning("parse cache unusable, carrying on without it: %s", exc)
            self._cache = None
            return
        self._files = files

    def _save_cache(self, files: dict[str, _FileState], touched: list[str]) -> None:
        if self._cache is None or not touched:
            return
        codec = _RecordCodec(self.settings.zone)
        changed = {rel: (files[rel].signature, codec.encode(files[rel].post, files[rel].error))
                   for rel in touched if rel in files}
        removed = [rel for rel in touched if rel not in files]
        try:
            self._cache.save(changed, removed)
        except (OSError, sqlite3.Error) as exc:
            log.warning("could not write the parse cache: %s", exc)

    def reload(self) -> Snapshot:
        """Re-read what changed on disk, build a new snapshot and swap it in."""
        started = time.perf_counter()
        now = self.clock()
        try:
            found, delta = self._find()
        except OSError as exc:
            self._found = None
            raise ContentError(".", f"cannot read the site folder: {exc.strerror or exc}") from None
        files, touched = self._merge(found, delta, self._parse_changed(found, delta))
        errors = [sig for sig in found.values() if isinstance(sig, ContentError)]
        errors += [state.error for state in files.values() if state.error is not None]
        errors.sort(key=lambda e: e.path)
        snapshot = self._publish(files, touched, tuple(errors), now, started)
        self._save_cache(files, touched)
        self._files = files
        self.snapshot = snapshot
        return snapshot

    def _merge(self, found: dict[str, Signature], delta: set[str] | None,
               parsed: Mapping[str, Post | ContentError | None]
               ) -> tuple[dict[str, _FileState], list[str]]:
        """Return the new state of every file, and the paths whose state changed."""
        files = dict(self._files) if delta is not None else {}
        for rel in found if delta is None else delta:
            signature = found.get(rel)
            if signature is None or isinstance(signature, ContentError):
                files.pop(rel, None)
            else:
                files[rel] = self._refresh(rel, signature, self._files.get(rel), parsed)
        # A _posts folder that cannot be listed (permissions, I/O) loses no posts: keep
        # what was read from it before, until it can be listed again.
        unlisted = tuple(rel for rel in self._unreadable if rel.endswith("/"))
        if unlisted:
            files.update((rel, state) for rel, state in self._files.items()
                         if rel not in files and rel.startswith(unlisted))
        candidates = (files.keys() | self._files.keys()) if delta is None else delta
        touched = sorted(rel for rel in candidates if files.get(rel) is not self._files.get(rel))
        return files, touched

    def _find(self) -> tuple[dict[str, Signature], set[str] | None]:
        """Return every candidate file's signature, and which paths may have changed.

        The second item is None after a full scan (any path may have changed).
        """
        watcher = self._watcher
        if (watcher is not None and watcher.usable() and self._watch_trusted
                and self._found is not None and self._quick_scans_left > 0
                and not any(rel.endswith("/") for rel in self._unreadable)):
            changed = watcher.changes()
            recheck, self._recheck = self._recheck, set()
            if changed is not None:
                delta = changed | self._unreadable | recheck
                if self._apply(delta):
                    self._quick_scans_left -= 1
                    return self._found, delta
        return self._full_scan(), None

    def _apply(self, changed: set[str]) -> bool:
        """Update the known signatures from the paths the watch reported; False if unsure."""
        found = dict(self._found or {})
        for rel in changed:
            folder, _, name = rel.rpartition("/")
            if "_posts" not in folder.split("/") or not is_post_name(name):
                continue
            try:
                st = os.lstat(os.path.join(self.root, rel))
            except FileNotFoundError:
                found.pop(rel, None)
                continue
            except OSError as exc:
                found[rel] = ContentError(rel, f"cannot stat: {exc.strerror or exc}")
                continue
            if stat.S_ISLNK(st.st_mode) or stat.S_ISDIR(st.st_mode):
                return False   # the full scan's rules for links and folders decide
            found[rel] = (st.st_mtime_ns, st.st_size, st.st_ino)
        self._remember(found)
        return True

    def _remember(self, found: dict[str, Signature]) -> None:
        """Keep a scan's signatures, and which paths could not be read (to retry them)."""
        self._found = found
        self._unreadable = {rel for rel, sig in found.items() if isinstance(sig, ContentError)}

    def _full_scan(self) -> dict[str, Signature]:
        """Stat every file of the site; (re)start the watch on the folders seen."""
        watcher = self._watcher
        if watcher is not None and watcher.usable():
            watcher.changes()              # this scan sees everything up to now
            self._watch_trusted = True     # the watch predates the scan: nothing slips by
        walk = Walk(os.path.realpath(self.root))
        found = dict(find_post_files(self.root, walk))
        if not walk.posts_folders and any(s.post for s in self._files.values()):
            # An unmounted volume, or a deploy swapping the folder, for a moment: not an
            # edit that deletes every post (an emptied _posts/ is one, and is published).
            self._found = None
            raise ContentError(".", "no _posts folder left in the site folder; "
                                    "keeping the last good posts")
        if watcher is not None and (not watcher.usable() or walk.symlinks
                                    or watcher.folders != walk.folders):
            if watcher.usable():
                watcher.close()
            self._watcher = watcher = None
        if watcher is None and self.settings.watch and not walk.symlinks:
            try:
                self._watcher = ChangeWatcher(walk.real_root, walk.folders)
                self._watch_trusted = False   # started after the scan: scan once more
            except OSError as exc:
                log.info("no inotify watch (%s); every reload scans every file", exc)
        self._quick_scans_left = FULL_SCAN_EVERY
        self._remember(found)
        return found

    def _parse_changed(self, found: Mapping[str, Signature], delta: set[str] | None
                       ) -> dict[str, Post | ContentError | None]:
        """Parse every file whose signature changed; in parallel when there are many."""
        candidates = found if delta is None else (rel for rel in delta if rel in found)
        changed = [rel for rel in candidates
                   if not isinstance(found[rel], ContentError)
                   and (rel not in self._files or self._files[rel].signature != found[rel])]
        self.reads += len(changed)
        workers = min(os.cpu_count() or 1, 4)
        if len(changed) < PARALLEL_MIN or workers < 2 or not can_fork():
            return dict(_parse_files(self.root, changed, self.settings))
        # Small chunks keep both workers busy to the end (2000-file chunks left one idle for
        # a third of a 10k load), large enough that each costs one round trip.
        size = max(250, min(2000, -(-len(changed) // (workers * 8))))
        chunks = [changed[i:i + size] for i in range(0, len(changed), size)]
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = pool.map(_parse_files, itertools.repeat(self.root), chunks,
                               itertools.repeat(self.settings))
            parsed = {rel: result for chunk in results for rel, result in chunk}
        for post in parsed.values():
            if isinstance(post, Post):   # unpickled: share the names again (memory)
                object.__setattr__(post, "categories", _shared(post.categories))
                object.__setattr__(post, "tags", _shared(post.tags))
        return parsed

    def _refresh(self, rel: str, signature: tuple[int, int, int] | ContentError,
                 old: _FileState | None, parsed: Mapping[str, Post | ContentError | None]
                 ) -> _FileState | ContentError:
        if isinstance(signature, ContentError):
            return signature
        if rel not in parsed and old is not None:
            return old
        post = parsed[rel]
        if post is None and old is not None and old.post is not None and signature[1] < 4:
            # Too short to hold front matter: an in-place save caught between truncating
            # the file and writing it, not a post turned into prose.
            post = ContentError(rel, f"file cut short ({signature[1]} bytes); "
                                     "keeping its last good version")
        if isinstance(post, ContentError):
            exc = post
            log.warning("skipped post %s: %s", exc.path, exc.reason)
            if exc.reason.startswith("cannot read"):
                # Permissions or I/O, not the file's content: read it again next time,
                # even if it does not change (its signature may not when access returns).
                signature = (0, 0, 0)
                self._recheck.add(rel)
            if old is not None and old.post is not None:
                # A half-saved edit: keep serving the last good version, report the error.
                return _FileState(signature, old.post, old.body, exc)
            return _FileState(signature, None, None, exc)
        # The body is dropped here and read again only if some feed shows the post: at
        # 100k posts, holding every body until the feeds are known would cost ~400 MB.
        return _FileState(signature, post, None, None)

    def _publish(self, files: dict[str, _FileState], touched: list[str],
                 errors: tuple[ContentError, ...], now: dt.datetime, started: float) -> Snapshot:
        """Return the new snapshot, patching the previous one when few posts changed."""
        previous = self.snapshot
        now_epoch = now.timestamp()
        if previous is None or (previous.next_due is not None and now >= previous.next_due):
            return self._assemble(files, errors, now, started)
        gone = [p for p in (self._old_post(rel) for rel in touched) if p is not None]
        new = [files[rel].post for rel in touched if rel in files and files[rel].post]
        if any(post.epoch > now_epoch for post in gone + new):  # type: ignore[operator]
            return self._assemble(files, errors, now, started)   # the future posts changed
        if not gone and not new:   # nothing changed and nothing fell due: all stands
            return dataclasses.replace(previous, errors=errors, loaded_at=now,
                                       load_seconds=time.perf_counter() - started)
        gone_paths = {post.path for post in gone}
        posts = _patch(previous.posts, gone_paths, new)  # type: ignore[arg-type]
        categories = _patch_index(previous.categories, gone, new, lambda p: p.categories)
        tags = _patch_index(previous.tags, gone, new, lambda p: p.tags)
        return self._snapshot(files, posts, categories, tags, errors, now, started,
                              previous.next_due, previous.pending)

    def _old_post(self, rel: str) -> Post | None:
        state = self._files.get(rel)
        return None if state is None else state.post

    def _assemble(self, files: dict[str, _FileState], errors: tuple[ContentError, ...],
                  now: dt.datetime, started: float) -> Snapshot:
        """Return a snapshot built from every file's state."""
        due, future = [], []
        now_epoch = now.timestamp()
        for state in files.values():
            if state.post is not None:
                (due if state.post.epoch <= now_epoch else future).append(state.post)
        due.sort(key=operator.attrgetter("epoch", "path"), reverse=True)
        return self._snapshot(files, tuple(due), _index(due, lambda p: p.categories),
                              _index(due, lambda p: p.tags), errors, now, started,
                              min((p.date for p in future), default=None), len(future))

    def _snapshot(self, files: dict[str, _FileState], posts: tuple[Post, ...],
                  categories: dict[str, tuple[Post, ...]], tags: dict[str, tuple[Post, ...]],
                  errors: tuple[ContentError, ...], now: dt.datetime, started: float,
                  next_due: dt.datetime | None, pending: int) -> Snapshot:
        paths = featured(posts, categories, tags, self.settings.feed_limit)
        return Snapshot(
            posts=posts,
            categories=types.MappingProxyType(categories),
            tags=types.MappingProxyType(tags),
            bodies=types.MappingProxyType(self._keep_bodies(files, paths)),
            errors=errors,
            loaded_at=now,
            load_seconds=time.perf_counter() - started,
            next_due=next_due,
            pending=pending,
        )

    def _keep_bodies(self, files: dict[str, _FileState], paths: set[str]) -> dict[str, str]:
        """Keep the bodies of posts some feed shows; drop the rest to bound memory."""
        for rel in self._bodied - paths:
            state = files.get(rel)
            if state is not None:
                state.body = None
        bodies = {}
        for rel in sorted(paths):
            state = files[rel]
            if state.body is None:
                state.body = self._read_body(rel, state)
            bodies[rel] = state.body
        self._bodied = paths
        return bodies

    def _read_body(self, rel: str, state: _FileState) -> str:
        """Read the body of a post again; if the file changed meanwhile, re-parse it next time."""
        try:
            post, body = load_post(self.root, rel, self.settings)
        except ContentError as exc:
            log.warning("could not re-read body of %s: %s", exc.path, exc.reason)
            post, body = None, ""
        if post is None or post.digest != state.post.digest:  # type: ignore[union-attr]
            state.signature = (0, 0, 0)   # no file has this: the next reload re-reads it
            self._recheck.add(rel)
        return body or ""


class _RecordCodec:
    """Encode a file's (post, error) for the parse cache, compactly: marshal of primitives.

    Unpickling a Post costs ~50 µs (its two datetimes rebuild their tzinfo each time);
    marshal of a tuple of strings and ints costs a few, and decoding shares one tzinfo per
    offset and one string per category or tag name, as a parse does. A datetime whose zone is
    neither the site's nor a fixed offset falls back to pickle.
    """

    def __init__(self, zone: dt.tzinfo) -> None:
        self.zone = zone
        self._offsets: dict[int, dt.tzinfo] = {}

    def encode(self, post: Post | None, error: ContentError | None) -> bytes:
        """Return the bytes to cache for one file."""
        packed_error = None if error is None else (error.path, error.reason)
        if post is None:
            return b"M" + marshal.dumps((None, packed_error))
        date, updated = self._pack_date(post.date), self._pack_date(post.updated)
        if date is None or updated is None:
            return b"P" + pickle.dumps((post, error), protocol=5)
        fields = tuple(getattr(post, name) for name in _PACKED_FIELDS)
        return b"M" + marshal.dumps(((date, updated, fields), packed_error))

    def decode(self, record: bytes) -> tuple[Post | None, ContentError | None]:
        """Return the (post, error) *record* holds."""
        if record[:1] == b"P":
            post, error = pickle.loads(record[1:])
            return post, error
        packed, packed_error = marshal.loads(record[1:])
        error = None if packed_error is None else ContentError(*packed_error)
        if packed is None:
            return None, error
        packed_date, packed_updated, fields = packed
        (path, slug, title, url, categories, tags, author, summary, image, id_, excerpt_only,
         markdown, digest) = fields
        date = self._unpack_date(packed_date)
        updated = date if packed_updated == packed_date else self._unpack_date(packed_updated)
        return Post(path, slug, title, date, updated, url, _shared(categories), _shared(tags),
                    author, summary, image, id_, excerpt_only, markdown, digest), error

    def _pack_date(self, value: dt.datetime) -> tuple | None:
        zone = value.tzinfo
        if zone is self.zone:
            offset = None
        elif type(zone) is dt.timezone and zone.tzname(None) == dt.timezone(zone.utcoffset(None)).tzname(None):
            offset = int(zone.utcoffset(None).total_seconds())   # type: ignore[union-attr]
        else:
            return None
        return (value.year, value.month, value.day, value.hour, value.minute, value.second,
                value.microsecond, value.fold, offset)

    def _unpack_date(self, packed: tuple) -> dt.datetime:
        *parts, fold, offset = packed
        if offset is None:
            zone = self.zone
        else:
            zone = self._offsets.get(offset)
            if zone is None:
                zone = self._offsets[offset] = dt.timezone(dt.timedelta(seconds=offset))
        return dt.datetime(*parts, tzinfo=zone, fold=fold)


_PACKED_FIELDS = ("path", "slug", "title", "url", "categories", "tags", "author", "summary",
                  "image", "id", "excerpt_only", "markdown", "digest")
# The order decode() passes them to Post(), checked against the record at import.
assert [f.name for f in dataclasses.fields(Post) if f.init] == [
    *_PACKED_FIELDS[:3], "date", "updated", *_PACKED_FIELDS[3:]]


def can_fork() -> bool:
    """Return whether forking worker processes is safe: only while this process has one
    thread (a cold start, before the scheduler or a threaded server runs), since a child
    forked from a threaded process can deadlock on a lock another thread held."""
    return threading.active_count() == 1


def _parse_files(root: Path, rels: list[str], settings: Settings
                 ) -> list[tuple[str, Post | ContentError | None]]:
    """Return (path, post, or None for a non-post, or the error) for each file."""
    results: list[tuple[str, Post | ContentError | None]] = []
    for rel in rels:
        try:
            results.append((rel, load_post(root, rel, settings)[0]))
        except ContentError as exc:
            results.append((rel, exc))
    return results


def _patch(posts: tuple[Post, ...], gone: set[str], new: list[Post]) -> tuple[Post, ...]:
    """Return *posts* (newest first) without the paths *gone*, with *new* put in place."""
    kept = [post for post in posts if post.path not in gone] if gone else list(posts)
    for post in new:
        key, low, high = post.sort_key, 0, len(kept)
        while low < high:   # binary search in a list sorted newest first
            middle = (low + high) // 2
            if kept[middle].sort_key > key:
                low = middle + 1
            else:
                high = middle
        kept.insert(low, post)
    return tuple(kept)


def _patch_index(index: Mapping[str, tuple[Post, ...]], gone: list[Post], new: list[Post],
                 names: Callable[[Post], tuple[str, ...]]) -> dict[str, tuple[Post, ...]]:
    """Return a category or tag index with only the names the changed posts touch redone."""
    result = dict(index)
    gone_paths = {post.path for post in gone}
    for name in {name for post in gone + new for name in names(post)}:
        patched = _patch(index.get(name, ()), gone_paths,
                         [post for post in new if name in names(post)])
        if patched:
            result[name] = patched
        else:
            result.pop(name, None)
    return {name: result[name] for name in sorted(result)}


def _index(posts: list[Post], names: Callable[[Post], tuple[str, ...]]
           ) -> dict[str, tuple[Post, ...]]:
    groups: dict[str, list[Post]] = {}
    for post in posts:
        for name in names(post):
            groups.setdefault(name, []).append(post)
    return {name: tuple(groups[name]) for name in sorted(groups)}


def featured(posts: list[Post] | tuple[Post, ...], categories: Mapping[str, tuple[Post, ...]],
             tags: Mapping[str, tuple[Post, ...]], limit: int) -> set[str]:
    """Return the paths of posts that appear in at least one feed."""
    paths = {p.path for p in posts[:limit]}
    for group in (*categories.values(), *tags.values()):
        paths.update(p.path for p in group[:limit])
    return paths


# --- finding files -------------------------------------------------------------------------

@dataclasses.dataclass
class Walk:
    """What a full scan saw besides the files: the folders it listed, and symlinks."""

    real_root: str
    folders: set[str] = dataclasses.field(default_factory=set)   # real paths
    symlinks: bool = False
    posts_folders: int = 0   # _posts folders found, listable or not


def find_post_files(root: Path, walk: Walk | None = None
                    ) -> Iterator[tuple[str, tuple[int, int, int] | ContentError]]:
    """Yield (relative path, (mtime_ns, size, inode)) for every candidate post file.

    A candidate whose symlink leads outside the site root, or cannot be stat'ed, is
    yielded with a :class:`ContentError` instead of a signature; a ``_posts`` folder that
    cannot be listed is yielded as ``"path/"`` with its error.
    """
    real_root = os.path.realpath(root)
    if not os.path.isdir(real_root):
        raise FileNotFoundError(2, "site folder is missing")
    walk = walk or Walk(real_root)
    walk.real_root = real_root
    yield from _walk_site(real_root, "", walk)


def _listdir(path: str) -> list[os.DirEntry[str]]:
    with os.scandir(path) as entries:
        return sorted(entries, key=lambda e: e.name)


def _inside(real_root: str, path: str) -> str | None:
    real = os.path.realpath(path)
    if real == real_root or real.startswith(real_root + os.sep):
        return real
    return None


def _walk_site(path: str, rel: str, walk: Walk
               ) -> Iterator[tuple[str, tuple[int, int, int] | ContentError]]:
    real = os.path.realpath(path)
    if real in walk.folders:  # a symlinked folder seen already (or a loop)
        return
    walk.folders.add(real)
    for entry in _listdir(path):
        name = entry.name
        child_rel = f"{rel}{name}"
        if name == "_posts":
            if entry.is_dir():
                walk.symlinks |= entry.is_symlink()
                yield from _walk_posts(entry.path, child_rel + "/", walk)
            elif entry.is_symlink():
                os.stat(entry.path)   # a loop or a dangling link: raise its OSError
            continue
        if name.startswith((".", "_", "#")) or name in SKIPPED_DIRS:
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if is_dir and (not entry.is_symlink() or _inside(walk.real_root, entry.path)):
            walk.symlinks |= entry.is_symlink()
            yield from _walk_site(entry.path, child_rel + "/", walk)


def is_post_name(name: str) -> bool:
    """Return whether a file name inside a _posts folder names a post (Jekyll's rules)."""
    return (not name.startswith((".", "_", "#")) and not name.endswith("~")
            and POST_NAME.match(name) is not None)


def _walk_posts(path: str, rel: str, walk: Walk
                ) -> Iterator[tuple[str, tuple[int, int, int] | ContentError]]:
    real = os.path.realpath(path)
    if real in walk.folders:
        return
    walk.folders.add(real)
    walk.posts_folders += 1
    try:
        entries = _listdir(path)
    except OSError as exc:
        yield rel, ContentError(rel.rstrip("/"), f"cannot list folder: {exc.strerror or exc}")
        return
    for entry in entries:
        name = entry.name
        child_rel = f"{rel}{name}"
        if name.startswith((".", "_", "#")) or name.endswith("~"):
            continue
        if entry.is_symlink():
            walk.symlinks = True
            if _inside(walk.real_root, entry.path) is None:
                yield child_rel, ContentError(child_rel,
                                              "symlink leads outside the site; not followed")
                continue
        try:
            if entry.is_dir():
                yield from _walk_posts(entry.path, child_rel + "/", walk)
                continue
            if not POST_NAME.match(name):
                continue
            st = entry.stat()
        except OSError as exc:
            yield child_rel, ContentError(child_rel, f"cannot stat: {exc.strerror or exc}")
            continue
        yield child_rel, (st.st_mtime_ns, st.st_size, st.st_ino)


# --- reading one post ----------------------------------------------------------------------

def read_text(data: bytes, rel: str) -> str:
    """Decode a post's bytes: UTF-8 (BOM or not), else GB18030; CRLF becomes LF."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ContentError(rel, "not text: neither UTF-8 nor GB18030") from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def split_front_matter(text: str, rel: str) -> tuple[dict, str] | None:
    """Return (front matter, body), or ``None`` if the text has no front matter."""
    match = FRONT_MATTER.match(text)
    if match is None:
        if re.match(r"---[ \t]*\n", text):
            # Starts like front matter but never closes: a half-written file, not prose.
            raise ContentError(rel, "front matter has no closing '---' line")
        return None
    try:
        source = match.group(1) or ""
        data = parse_simple_yaml(source)
        if data is None:
            data = yaml.load(source, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ContentError(rel, _yaml_reason(exc)) from None
    except RecursionError:
        raise ContentError(rel, "front matter nests too deeply") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp with month 13
        raise ContentError(rel, f"invalid value in front matter: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ContentError(rel, "front matter is not a mapping of keys to values")
    return data, text[match.end():]


# --- a fast path for the front matter most posts have -------------------------------------
# Most front matter is one "key: scalar" per line. Building PyYAML's node graph for it costs
# ~100 µs a post even with libyaml; this path reads such lines directly and hands anything
# else (lists, blocks, escapes, anchors, non-string scalars, odd characters) to PyYAML, so the
# result is always what PyYAML would give (tests/test_store.py checks both on every shape).
_SIMPLE_LINE = re.compile(r"([A-Za-z_][\w-]*):(?:[ \t]+(.*?))?[ \t]*")
# PyYAML's Reader.NON_PRINTABLE: such a character makes PyYAML raise; let it.
_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD"
                            "\U00010000-\U0010ffff]")
# YAML's other line breaks, a BOM, and tabs (whose rules in YAML are subtle): PyYAML decides.
_YAML_BREAKS = re.compile("[\t\r\x85\u2028\u2029\ufeff]")
_STR_TAG = "tag:yaml.org,2002:str"
_resolver = yaml.resolver.Resolver()
_NOT_SIMPLE = object()
# The first characters for which PyYAML's resolver may give a plain scalar another type than
# str (digits, signs, ".", "~", "n", "t", "y", "o", "<", "="...): any other first character
# makes it a string without running the resolver's regular expressions.
_RESOLVED_FIRST = frozenset(k for k in _resolver.yaml_implicit_resolvers if k)
assert None not in _resolver.yaml_implicit_resolvers and not _resolver.yaml_path_resolvers


def _plain_is_str(raw: str) -> bool:
    """Return whether PyYAML would read the plain scalar *raw* as a string."""
    if raw[0] not in _RESOLVED_FIRST:
        return True
    return _resolver.resolve(yaml.ScalarNode, raw, (True, False)) == _STR_TAG


@functools.lru_cache(maxsize=256)
def _key_is_str(key: str) -> bool:
    return _plain_is_str(key)


def parse_simple_yaml(source: str) -> dict | None:
    """Return the mapping of simple one-line ``key: value`` YAML, or None if not that simple."""
    if _NON_PRINTABLE.search(source) or _YAML_BREAKS.search(source):
        return None
    data: dict = {}
    for line in source.split("\n"):
        if not line.strip():
            continue
        match = _SIMPLE_LINE.fullmatch(line)
        if match is None:
            return None
        key, raw = match.groups()
        if key in data or not _key_is_str(key):
            return None
        value = _simple_scalar(raw)
        if value is _NOT_SIMPLE:
            return None
        data[key] = value
    return data


def _simple_scalar(raw: str | None) -> object:
    if not raw:
        return None
    first = raw[0]
    if first == '"':
        inner = raw[1:-1]
        ok = len(raw) > 1 and raw[-1] == '"' and "\\" not in inner and '"' not in inner
        return inner if ok else _NOT_SIMPLE
    if first == "'":
        inner = raw[1:-1]
        ok = len(raw) > 1 and raw[-1] == "'" and "'" not in inner.replace("''", "")
        return inner.replace("''", "'") if ok else _NOT_SIMPLE
    if first == "[" and raw[-1] == "]":
        return _simple_list(raw[1:-1])
    if (first in "[]{}&*!|>%@`#,?:-'\"" or ": " in raw or " #" in raw or "\t#" in raw
            or raw.endswith(":")):
        return _NOT_SIMPLE
    if not _plain_is_str(raw):
        return _NOT_SIMPLE
    return raw


def _simple_list(inner: str) -> object:
    """Return the items of a one-line flow sequence of plain scalars, ``[a, b]``."""
    if not inner.strip():
        return []
    if any(char in inner for char in "[]{}\"'"):
        return _NOT_SIMPLE
    items = [_simple_scalar(item.strip()) for item in inner.split(",")]
    if any(item is _NOT_SIMPLE or item is None for item in items):
        return _NOT_SIMPLE
    return items


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return f"invalid YAML front matter: {problem}"
    # +2: line 1 of the file is the opening "---"; marks count from 0.
    return f"invalid YAML front matter at line {mark.line + 2}: {problem}"


def _read_limited(path: str, limit: int) -> bytes:
    """Return at most *limit* bytes of a file.

    Sized by the file's length: ``read(limit)`` allocates the whole limit (5 MB by default)
    on every call, which cost more than reading and parsing a post.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size
        chunks = [os.read(fd, min(size + 1, limit))]
        got = len(chunks[0])
        while got > size and got < limit:   # the file grew since fstat: read on, bounded
            chunk = os.read(fd, min(65536, limit - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


def load_post(root: Path, rel: str, settings: Settings) -> tuple[Post | None, str | None]:
    """Read one file; return (post, raw body), or (None, None) when it is not a post.

    Raise :class:`ContentError` with the reason when the file is broken.
    """
    try:
        data = _read_limited(os.path.join(root, rel), settings.max_post_bytes + 1)
    except OSError as exc:
        raise ContentError(rel, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > settings.max_post_bytes:
        raise ContentError(rel, f"larger than max_post_bytes ({settings.max_post_bytes} bytes)")
    parts = split_front_matter(read_text(data, rel), rel)
    if parts is None:
        return None, None  # Jekyll: a file without front matter is not a post
    front, body = parts
    if front.get("published", True) is False:
        return None, None
    try:
        post = make_post(rel, front, settings, hashlib.blake2b(data, digest_size=12).hexdigest())
    except ValueError as exc:
        raise ContentError(rel, str(exc)) from None
    return post, body


def make_post(rel: str, front: Mapping, settings: Settings, digest: str) -> Post:
    """Return the post that front matter *front* of file *rel* describes."""
    name = rel.rsplit("/", 1)[-1]
    match = POST_NAME.match(name)
    if match is None:
        raise ValueError("file name is not YYYY-MM-DD-slug.EXT")
    year, month, day, slug, ext = match.groups()
    zone = settings.zone
    try:
        file_date = dt.datetime(int(year), int(month), int(day), tzinfo=zone)
    except ValueError:
        raise ValueError(f"file name has an invalid date {year}-{month}-{day}") from None
    date = file_date if front.get("date") is None else _date(front["date"], "date", zone)
    modified = front.get("last_modified_at")
    updated = date if modified is None else _date(modified, "last_modified_at", zone)
    parts = rel.split("/")
    dir_categories = parts[:parts.index("_posts")]  # Jekyll: a/b/_posts/ gives categories a, b
    categories = _names(dir_categories + _listed(front, "categories", "category"))
    title = _scalar(front.get("title")).strip() or titleize(slug)
    return Post(
        path=rel, slug=slug, title=title, date=date, updated=max(updated, date),
        url=post_url(front, settings, slug, date, categories, ext),
        categories=categories, tags=_names(_listed(front, "tags", "tag")),
        author=_author(front.get("author")),
        summary=_scalar(front.get("description") or front.get("excerpt")).strip(),
        image=_image(front.get("image")), id=_scalar(front.get("id")).strip(),
        excerpt_only=front["excerpt_only"] if isinstance(front.get("excerpt_only"), bool) else None,
        markdown=ext != "html", digest=digest,
    )


def _date(value: object, key: str, zone: dt.tzinfo) -> dt.datetime:
    try:
        return parse_date(value, zone)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _scalar(value: object) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)


def _listed(front: Mapping, plural: str, singular: str) -> list[str]:
    """Return the names of a Jekyll list key: a string splits on whitespace, a list is as is."""
    value = front.get(plural)
    if value is None:
        value = front.get(singular)
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if item is not None and str(item).strip()]
    return [str(value)]


_interned: dict[str, str] = {}


def _names(names: list[str]) -> tuple[str, ...]:
    """Drop duplicates, keep order; share one string per name across posts (memory)."""
    return _shared(tuple(dict.fromkeys(names)))


_shared_names: dict[tuple[str, ...], tuple[str, ...]] = {}


def _shared(names: tuple[str, ...]) -> tuple[str, ...]:
    """Return one shared tuple for each distinct list of names, of shared strings.

    Most posts repeat a few combinations of categories and tags; at 100k posts, sharing
    them saves tens of MB. The table stops growing at 100k combinations.
    """
    shared = _shared_names.get(names)
    if shared is None:
        shared = tuple(_interned.setdefault(n, n) for n in names)
        if len(_shared_names) < 100_000:
            _shared_names[shared] = shared
    return shared


def _author(value: object) -> str:
    if isinstance(value, dict):
        return _scalar(value.get("name")).strip()
    if isinstance(value, list):
        return ", ".join(_author(item) for item in value if _author(item))
    return _scalar(value).strip()


def _image(value: object) -> str:
    if isinstance(value, dict):  # jekyll-seo-tag style: image: {path: ..., alt: ...}
        value = value.get("path")
    return _scalar(value).strip()


def titleize(slug: str) -> str:
    """Return Jekyll's title for a slug: words split on '-', each capitalized."""
    return " ".join(word.capitalize() for word in slug.split("-") if word)


def slugify(text: str) -> str:
    """Return Jekyll's default slug: runs of non-word characters become '-', lower case."""
    return re.sub(r"[\W_]+", "-", text).strip("-").lower()


_PERMALINK_VALUES: dict[str, Callable[[dt.datetime, str, tuple[str, ...]], str]] = {
    "year": lambda d, t, c: f"{d.year:04d}",
    "short_year": lambda d, t, c: f"{d.year % 100:02d}",
    "month": lambda d, t, c: f"{d.month:02d}",
    "i_month": lambda d, t, c: str(d.month),
    "short_month": lambda d, t, c: _MONTHS[d.month - 1],
    "long_month": lambda d, t, c: _LONG_MONTHS[d.month - 1],
    "day": lambda d, t, c: f"{d.day:02d}",
    "i_day": lambda d, t, c: str(d.day),
    "y_day": lambda d, t, c: f"{d.timetuple().tm_yday:03d}",
    "week": lambda d, t, c: f"{d.isocalendar()[1]:02d}",
    "short_day": lambda d, t, c: _DAYS[d.weekday()],
    "long_day": lambda d, t, c: _LONG_DAYS[d.weekday()],
    "hour": lambda d, t, c: f"{d.hour:02d}",
    "minute": lambda d, t, c: f"{d.minute:02d}",
    "second": lambda d, t, c: f"{d.second:02d}",
    "title": lambda d, t, c: t,
    "slug": lambda d, t, c: slugify(t),
    "categories": lambda d, t, c: "/".join(dict.fromkeys(name.lower() for name in c)),
    "output_ext": lambda d, t, c: ".html",
}


@functools.lru_cache(maxsize=64)
def _permalink_parts(pattern: str) -> tuple[str, ...]:
    """Split a permalink pattern into text and ':placeholder' parts (odd indexes)."""
    pattern = PERMALINK_STYLES.get(pattern, pattern)
    parts = _PLACEHOLDER.split(pattern)
    # An unknown placeholder stays as written, like Jekyll leaves it.
    return tuple(part if i % 2 == 0 or part in _PERMALINK_VALUES else f":{part}"
                 for i, part in enumerate(parts))


def post_url(front: Mapping, settings: Settings, slug: str, date: dt.datetime,
             categories: tuple[str, ...], ext: str) -> str:
    """Return the post's URL path from its permalink, or the site's pattern (Jekyll's rules)."""
    fill = _permalink_filler(_scalar(front.get("permalink")).strip() or settings.permalink)
    title = _scalar(front.get("slug")).strip() or slug
    url = "/" + fill(date.astimezone(settings.zone), title, categories)
    if "//" in url:
        url = _SLASHES.sub("/", url)
    return quote(url, safe=_URL_SAFE)


@functools.lru_cache(maxsize=64)
def _permalink_filler(pattern: str) -> Callable[[dt.datetime, str, tuple[str, ...]], str]:
    """Return a function filling *pattern*'s placeholders (compiled once per pattern)."""
    pieces = [(part, None) if i % 2 == 0 or part not in _PERMALINK_VALUES
              else ("", _PERMALINK_VALUES[part])
              for i, part in enumerate(_permalink_parts(pattern))]

    def fill(local: dt.datetime, title: str, categories: tuple[str, ...]) -> str:
        return "".join(text if value is None else value(local, title, categories)
                       for text, value in pieces)
    return fill


_SLASHES = re.compile(r"/{2,}")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LONG_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LONG_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
