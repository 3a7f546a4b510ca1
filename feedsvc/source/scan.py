"""Find the candidate post files of a site by Jekyll's rules, with their signatures.

Jekyll reads posts from ``_posts/`` at the site root and from ``<dir>/_posts/`` below it
(``Jekyll::Reader#read_directories``, ``PostReader#read_posts``), ignoring folders and files
whose names start with ``.``, ``_`` or ``#`` or end in ``~`` (``EntryFilter#special?``,
``#backup?``), and the usual exclusions (``node_modules``, ``vendor``, ``_site``).
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import ContentError

# Jekyll's Document::DATE_FILENAME_MATCHER, for the extensions feedsvc renders.
POST_NAME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-(.+)\.(md|markdown|html)$")
SKIPPED_DIRS = frozenset({"node_modules", "vendor", "_site", "_drafts"})


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

