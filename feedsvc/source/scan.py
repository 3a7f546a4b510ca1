"""Find the candidate post files of a site by Jekyll's rules, with their signatures.

Jekyll reads posts from ``_posts/`` at the site root and from ``<dir>/_posts/`` in every
folder its walk enters (``Jekyll::Reader#read_directories``, ``PostReader#read_posts``). The
walk skips names starting with ``.``, ``_``, ``#`` or ``~``, backups ending in ``~``
(``EntryFilter#special?``, ``#backup?``) and the default ``exclude`` list
(``Configuration::DEFAULTS``: ``node_modules``, ``vendor/bundle/``... but not ``vendor``).
Inside ``_posts`` the rules differ (``Reader#get_entries``): see :func:`is_post_path`.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import ContentError

# jekyll/document.rb DATE_FILENAME_MATCHER, on the file name:
#   %r!^(?>.+/)*?(\d{2,4}-\d{1,2}-\d{1,2})-([^/]*)(\.[^.]+)$!
# any extension, a 2- to 4-digit year, an empty slug allowed. Ruby's \d is ASCII only.
POST_NAME = re.compile(r"^([0-9]{2,4})-([0-9]{1,2})-([0-9]{1,2})-([^/]*)(\.[^./]+)$")
# Jekyll's default `exclude` (jekyll/configuration.rb), relative to the site root and matched
# as prefixes (EntryFilter#glob_include? uses start_with?); _site and _drafts start with "_".
EXCLUDED = ("node_modules", "vendor/bundle/", "vendor/cache/", "vendor/gems/", "vendor/ruby/",
            "gemfiles", "Gemfile", ".sass-cache", ".jekyll-cache")
_SPECIAL = (".", "_", "#", "~")   # EntryFilter::SPECIAL_LEADING_CHAR_REGEX


@dataclasses.dataclass
class Walk:
    """What a full scan saw besides the files: the folders it listed, and symlinks."""

    real_root: str
    # The site's own `exclude:` (Configuration#add_default_excludes adds Jekyll's defaults).
    exclude: tuple[str, ...] = ()
    folders: set[str] = dataclasses.field(default_factory=set)   # real paths
    symlinks: bool = False
    posts_folders: int = 0   # _posts folders found, listable or not
    # Files (and folders) under _posts that Jekyll does not read, and why; for `feedsvc check`.
    not_posts: list[tuple[str, str]] = dataclasses.field(default_factory=list)


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
        if (name.startswith(_SPECIAL) or name.endswith("~") or _excluded(child_rel + "/")
                or (walk.exclude and _excluded_by(child_rel, walk.exclude))):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if is_dir and (not entry.is_symlink() or _inside(walk.real_root, entry.path)):
            walk.symlinks |= entry.is_symlink()
            yield from _walk_site(entry.path, child_rel + "/", walk)


def _excluded(rel: str) -> bool:
    return rel.startswith(EXCLUDED)


def _excluded_by(rel: str, patterns: tuple[str, ...]) -> bool:
    """Return whether *rel* (a folder under the site root) is in the site's ``exclude:``:
    ``EntryFilter#glob_include?`` matches a pattern with File.fnmatch, or as a prefix."""
    return any(rel.startswith(pattern.rstrip("/")) or fnmatch.fnmatchcase(rel, pattern)
               for pattern in patterns)


def is_post_path(inner: str) -> bool:
    """Return whether *inner*, a path inside a ``_posts`` folder, names a post file.

    ``Reader#get_entries`` lists ``Dir["**/*"]`` there (so no name starting with ``.`` at
    any depth), then ``EntryFilter#filter`` rejects a path ending in ``.`` or ``~``, and one
    whose *first component or base name* starts with ``.``, ``_``, ``#`` or ``~``
    (``special?`` tests the relative path and ``File.basename``): ``sub/_x/2022-01-01-a.md``
    is a post. ``PostReader#read_content`` keeps it if DATE_FILENAME_MATCHER matches.
    """
    name = inner.rpartition("/")[2]
    if inner.startswith(_SPECIAL) or name.startswith(_SPECIAL) or inner.endswith(("~", ".")):
        return False
    if "/." in inner:
        return False
    return POST_NAME.match(name) is not None


def _walk_posts(path: str, rel: str, walk: Walk, depth: int = 0
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
        # Folders: Dir["**/*"] never enters a dot folder; a special name counts only as the
        # first component below _posts (EntryFilter#special? on the relative path).
        if name.startswith(".") or (name.startswith(_SPECIAL) and depth == 0):
            walk.not_posts.append((child_rel, f"starts with {name[0]!r}: Jekyll skips it"))
            continue
        if entry.is_symlink():
            walk.symlinks = True
            if _inside(walk.real_root, entry.path) is None:
                yield child_rel, ContentError(child_rel,
                                              "symlink leads outside the site; not followed")
                continue
        try:
            if entry.is_dir():
                yield from _walk_posts(entry.path, child_rel + "/", walk, depth + 1)
                continue
            if name.startswith(_SPECIAL) or name.endswith(("~", ".")):
                walk.not_posts.append((child_rel, "starts with '_', '#' or '~', or ends in '~' "
                                                  "or '.': Jekyll skips it"))
                continue
            if not POST_NAME.match(name):
                walk.not_posts.append((child_rel, "no date in the name: Jekyll reads only "
                                                  "YYYY-MM-DD-slug.EXT files as posts"))
                continue
            st = entry.stat()
        except OSError as exc:
            yield child_rel, ContentError(child_rel, f"cannot stat: {exc.strerror or exc}")
            continue
        yield child_rel, (st.st_mtime_ns, st.st_size, st.st_ino)

