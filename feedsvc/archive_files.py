"""The RFC 5005 archive pages of a published state as files: ``feedsvc build --archives``.

Every page of every feed in every format is rendered when it is written, one at a time, so
an export of 100k posts never holds more than one page in memory. A page's path carries its
digest, so a page the previous build holds under the same path has the same bytes: it is
hard-linked without being rendered, and ``build --watch`` renders only new pages. Each
page's stable URL (``.../<k>.<fmt>``, what ``next-archive`` names) becomes a relative symlink
to the page, and the one after the newest page to the current document: a static server
follows it where the service would redirect.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from .documents import CONTENT_TYPES, Document
from .export import GZ, Skipped, document_file, write_document
from .feeds.archives import ArchiveUnavailable, FeedArchive, render_page
from .site import Published
from .source import BodyReader
from .urls import FORMATS, archive_path, feed_path

_PLACEHOLDER = Document(b"", b"", "", "", CONTENT_TYPES["atom"], None, None)


@dataclasses.dataclass(frozen=True)
class ArchiveFiles:
    """Every archive page of one published state, to be rendered as it is written."""

    pages: Mapping[str, tuple[FeedArchive, int, str]]   # decoded path -> (archive, page, fmt)
    stable: Mapping[str, str]   # stable decoded path -> the decoded path it stands for
    bodies: BodyReader

    def names(self) -> Iterator[str]:
        """Yield what decides the files' bytes: each page path (it holds the digest), and
        each stable path with its target."""
        yield from sorted(self.pages)
        for path in sorted(self.stable):
            yield f"{path} -> {self.stable[path]}"

    def write(self, build: Path, previous: Path | None) -> tuple[int, int, list[Skipped]]:
        """Write every page (and .gz) and stable link under *build*; return written,
        linked (from *previous*, unrendered) and skipped."""
        root = os.path.realpath(build)
        written = linked = 0
        skipped: list[Skipped] = []
        for path in sorted(self.pages):
            rel = _file(root, path, skipped)
            if rel is None:
                continue
            old = os.path.join(previous, rel) if previous is not None else None
            target = os.path.join(root, rel)
            if old is not None and _link_both(old, target):
                linked += 2
                continue
            archive, number, fmt = self.pages[path]
            try:
                document = render_page(archive, number, fmt, self.bodies)
            except ArchiveUnavailable as exc:
                skipped.append(Skipped(path, f"not written: {exc}"))
                continue
            written += write_document(target, document, None)[0]
        for path in sorted(self.stable):
            rel, to = _file(root, path, skipped), _file(root, self.stable[path], skipped)
            if rel is not None and to is not None and os.path.exists(os.path.join(root, to)):
                _symlink_both(os.path.join(root, to), os.path.join(root, rel))
        return written, linked, skipped


def archive_files(published: Published, bodies: BodyReader) -> ArchiveFiles:
    """Return the archive pages of *published* and the stable paths that lead to them."""
    pages: dict[str, tuple[FeedArchive, int, str]] = {}
    stable: dict[str, str] = {}
    for (kind, name), archive in published.feeds.archives.items():
        for fmt in FORMATS:
            for number, digest in enumerate(archive.digests):
                path = archive_path(kind, name, number, digest, fmt, encoded=False)
                pages[path] = (archive, number, fmt)
                stable[archive_path(kind, name, number, "", fmt, encoded=False)] = path
            if archive.pages:
                after = archive_path(kind, name, archive.pages, "", fmt, encoded=False)
                stable[after] = feed_path(kind, name, fmt, encoded=False)
    return ArchiveFiles(pages, stable, bodies)


def _file(root: str, path: str, skipped: list[Skipped]) -> str | None:
    rel, reason = document_file(path, _PLACEHOLDER)
    if rel is not None and os.path.commonpath(
            [root, os.path.realpath(os.path.join(root, rel))]) != root:
        rel, reason = None, "unsafe file name: it resolves outside the export"
    if rel is None:
        skipped.append(Skipped(path, reason))
    return rel


def _link_both(old: str, target: str) -> bool:
    """Hard-link a page and its .gz from the previous build; False if it has no such page."""
    if not (os.path.isfile(old) and os.path.isfile(old + GZ)):
        return False
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        for suffix in ("", GZ):
            os.link(old + suffix, target + suffix)
    except OSError:
        for suffix in ("", GZ):
            with contextlib.suppress(OSError):
                os.unlink(target + suffix)
        return False
    return True


def _symlink_both(target: str, link: str) -> None:
    os.makedirs(os.path.dirname(link), exist_ok=True)
    for suffix in ("", GZ):
        with contextlib.suppress(FileExistsError):
            os.symlink(os.path.relpath(target + suffix, os.path.dirname(link)), link + suffix)
