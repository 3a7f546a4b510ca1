"""The content store: read a Jekyll site's posts into an immutable snapshot.

:meth:`Store.reload` re-reads only files whose (mtime, size, inode) changed, keeps the last
good version of a post that breaks, and swaps a new :class:`Snapshot` in with one
assignment. Bodies are not kept: :meth:`Store.body_of` reads one when a feed renders it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
import multiprocessing
import operator
import os
import pickle
import sqlite3
import stat
import threading
import time
import types
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor

from ..config import Settings
from ..dates import Clock, utc_now
from ..errors import ContentError
from .cache import ParseCache, RecordCodec, cache_key
from .index import build_index, patch_index, patch_posts
from .inotify import FULL_SCAN_EVERY, ChangeWatcher
from .liquid import LiquidOptions, has_liquid
from .liquid.bodies import LiquidBodies
from .model import ParseOptions, Post, Signature, Snapshot
from .posts import load_post, share_names
from .scan import Walk, find_post_files, is_post_path

log = logging.getLogger(__name__)

PARALLEL_MIN = 4000  # files to parse before a reload spreads parsing over processes


@dataclasses.dataclass(slots=True)
class _FileState:
    """What the store remembers of one file between reloads."""

    signature: tuple[int, int, int]
    post: Post | None            # last good post; None if the file is not a post
    error: ContentError | None   # why the current version could not be read


class Store:
    """Load a site's posts and keep the newest good snapshot."""

    def __init__(self, options: ParseOptions, *, cache_dir: str = "", watch: bool = True,
                 clock: Clock = utc_now, liquid: LiquidOptions | None = None) -> None:
        self.options = options
        self.clock = clock
        self.root = options.root
        self.use_inotify = watch
        self.snapshot: Snapshot | None = None
        self._files: dict[str, _FileState] = {}
        self.reads = 0   # files (re)parsed since start; tests and benchmarks read it
        self._found: dict[str, Signature] | None = None   # the last scan's signatures
        self._unreadable: set[str] = set()
        self._recheck: set[str] = set()   # paths whose body read found a newer file
        self._watcher: ChangeWatcher | None = None
        self._watch_trusted = False
        self._quick_scans_left = 0
        self._cache: ParseCache | None = None
        self._cache_dir = cache_dir   # opened by the first reload: a restart that restores
        # saved documents serves before reading 100k cached parses (document_cache.py)
        self.liquid = LiquidBodies(liquid, options)   # Liquid in bodies: rendered by body_of

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = utc_now) -> Store:
        """Return the store of the site *settings* name."""
        return cls(ParseOptions.from_settings(settings), cache_dir=settings.cache_dir,
                   watch=settings.watch, clock=clock, liquid=LiquidOptions.from_settings(settings))

    def _open_cache(self, cache_dir: str) -> None:
        """Start from the parse cache, if it can be read (a restart then parses little)."""
        codec = RecordCodec(self.options.zone)
        files = {}
        try:
            self._cache = ParseCache(cache_dir, cache_key(self.options))
            for rel, signature, record in self._cache.load():
                post, error = codec.decode(record)
                files[rel] = _FileState(signature, post, error)
        except (OSError, sqlite3.Error, pickle.UnpicklingError, EOFError, AttributeError,
                TypeError, ValueError, IndexError) as exc:
            log.warning("parse cache unusable, carrying on without it: %s", exc)
            self._cache = None
            return
        self._files = files

    def _save_cache(self, files: dict[str, _FileState], touched: list[str]) -> None:
        if self._cache is None or not touched:
            return
        codec = RecordCodec(self.options.zone)
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
        if self._cache_dir:
            cache_dir, self._cache_dir = self._cache_dir, ""
            self._open_cache(cache_dir)
        now = self.clock()
        if self.liquid.site_changed():   # an include or plugin came or went: parse again
            self._recheck_liquid()
        try:
            found, delta = self._find()
        except OSError as exc:
            self._found = None
            raise ContentError(".", f"cannot read the site folder: {exc.strerror or exc}") from None
        files, touched = self._merge(found, delta, self._parse_changed(found, delta))
        errors = [sig for sig in found.values() if isinstance(sig, ContentError)]
        errors += [state.error for state in files.values() if state.error is not None]
        errors += self.liquid.errors(files)   # posts whose Liquid failed to render
        errors.sort(key=lambda e: e.path)
        snapshot = self._publish(files, touched, tuple(errors), now, started)
        self._save_cache(files, touched)
        self._files = files
        self.snapshot = snapshot
        return snapshot

    def _recheck_liquid(self) -> None:
        """Read again, at this reload, every post whose Liquid did not parse."""
        for rel, state in self._files.items():
            if state.error is not None and state.error.reason.startswith("Liquid"):
                state.signature = (0, 0, 0)
                self._recheck.add(rel)

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
            parts = rel.split("/")
            if "_posts" not in parts[:-1]:
                continue
            if not is_post_path("/".join(parts[parts.index("_posts") + 1:])):
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
        walk = Walk(os.path.realpath(self.root), self.options.exclude)
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
        if watcher is None and self.use_inotify and not walk.symlinks:
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
            return dict(_parse_files(self.options, changed))
        # Small chunks keep both workers busy to the end (2000-file chunks left one idle for
        # a third of a 10k load), large enough that each costs one round trip.
        size = max(250, min(2000, -(-len(changed) // (workers * 8))))
        chunks = [changed[i:i + size] for i in range(0, len(changed), size)]
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = pool.map(_parse_files, itertools.repeat(self.options), chunks)
            parsed = {rel: result for chunk in results for rel, result in chunk}
        for post in parsed.values():
            if isinstance(post, Post):   # unpickled: share the names again (memory)
                object.__setattr__(post, "categories", share_names(post.categories))
                object.__setattr__(post, "tags", share_names(post.tags))
        return parsed

    def _refresh(self, rel: str, signature: tuple[int, int, int] | ContentError,
                 old: _FileState | None, parsed: Mapping[str, Post | ContentError | None]
                 ) -> _FileState | ContentError:
        if isinstance(signature, ContentError):
            return signature
        if rel not in parsed and old is not None:
            return old
        post = parsed[rel]
        if (not isinstance(post, ContentError) and old is not None and old.post is not None
                and signature[1] < 4):
            # Too short to hold front matter: an in-place save caught between truncating
            # the file and writing it, not a post turned into prose (which Jekyll would
            # publish, front matter or not).
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
                return _FileState(signature, old.post, exc)
            return _FileState(signature, None, exc)
        # The body is dropped here and read again when a feed renders the post (body_of): at
        # 100k posts, holding every body would cost ~400 MB.
        return _FileState(signature, post, None)

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
        posts = patch_posts(previous.posts, gone_paths, new)  # type: ignore[arg-type]
        categories = patch_index(previous.categories, gone, new, lambda p: p.categories)
        tags = patch_index(previous.tags, gone, new, lambda p: p.tags)
        return self._snapshot(posts, categories, tags, errors, now, started,
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
        return self._snapshot(tuple(due), build_index(due, lambda p: p.categories),
                              build_index(due, lambda p: p.tags), errors, now, started,
                              min((p.date for p in future), default=None), len(future))

    @staticmethod
    def _snapshot(posts: tuple[Post, ...], categories: dict[str, tuple[Post, ...]],
                  tags: dict[str, tuple[Post, ...]], errors: tuple[ContentError, ...],
                  now: dt.datetime, started: float, next_due: dt.datetime | None, pending: int) -> Snapshot:
        return Snapshot(
            posts=posts,
            categories=types.MappingProxyType(categories),
            tags=types.MappingProxyType(tags),
            errors=errors,
            loaded_at=now,
            load_seconds=time.perf_counter() - started,
            next_due=next_due,
            pending=pending,
        )

    def posts(self) -> list[Post]:
        """Return every post the last reload read, published or scheduled, by path."""
        return sorted((state.post for state in self._files.values() if state.post is not None),
                      key=lambda post: post.path)

    def state(self) -> dict[str, object]:
        """Return what the last reload read: how many post files, and the newest change."""
        signatures = [state.signature for state in self._files.values()]
        newest = max((mtime for mtime, _, _ in signatures), default=0)
        return {"files": len(signatures),
                "newest_change": dt.datetime.fromtimestamp(newest / 1e9, dt.timezone.utc)
                .isoformat(timespec="seconds")}

    def body_of(self, post: Post) -> str:
        """Return the raw body of *post*, read from its file now (the feeds render it).

        If the file no longer holds that version (edited or broken since the scan), return
        what it holds now ("" if it is no post); the next reload reads the file again.
        """
        try:
            current, body = load_post(post.path, self.options)
        except ContentError as exc:
            log.warning("could not re-read body of %s: %s", exc.path, exc.reason)
            current, body = None, ""
        if current is None or current.digest != post.digest:
            state = self._files.get(post.path)
            if state is not None:
                state.signature = (0, 0, 0)   # no file has this: the next reload re-reads it
            self._recheck.add(post.path)
        if current is not None and body and has_liquid(body):   # Jekyll renders it first
            snapshot = self.snapshot
            body = self.liquid.render(current, body, snapshot.posts if snapshot else (),
                                      self.clock())
        return body or ""

    def body_of_version(self, post: Post) -> str | None:
        """Return the raw body of exactly this version of *post*, or None if its file now
        holds another version (or is broken, or gone); the next reload will find out.

        Safe to call from any thread: it reads the file and changes nothing in the store.
        """
        try:
            current, body = load_post(post.path, self.options)
        except ContentError:
            return None
        if current is None or current.digest != post.digest:
            return None
        return body or ""


def can_fork() -> bool:
    """Return whether forking worker processes is safe: only while this process has one
    thread (a cold start, before the scheduler or a threaded server runs), since a child
    forked from a threaded process can deadlock on a lock another thread held."""
    return threading.active_count() == 1


def _parse_files(options: ParseOptions, rels: list[str]
                 ) -> list[tuple[str, Post | ContentError | None]]:
    """Return (path, post, or None for a non-post, or the error) for each file."""
    results: list[tuple[str, Post | ContentError | None]] = []
    for rel in rels:
        try:
            results.append((rel, load_post(rel, options)[0]))
        except ContentError as exc:
            results.append((rel, exc))
    return results
