"""Static export: every published document as a file, plus its ``.gz``, swapped in atomically.

``OUT`` is a symlink to ``OUT.d/<build-id>``. A build is written into a new folder beside
the old one, then a temporary symlink to it replaces ``OUT`` with one ``rename(2)``, which is
atomic: a reader resolving ``OUT`` sees the old tree or the new one, each complete. The
previous build is kept (a reader may still be inside it); older ones are removed.

Paths map to files: ``/`` → ``index.html``; an HTML page gets ``.html`` appended
(``/feeds/categories/metro`` → ``feeds/categories/metro.html``); feeds keep their path. Names
are decoded UTF-8, so a '/' in a category or tag name becomes a subfolder. A path with an
empty, ``.`` or ``..`` segment, or one that would resolve outside the build, is skipped and
reported, never written.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .documents import Document
from .errors import FeedsvcError

if TYPE_CHECKING:
    from .archive_files import ArchiveFiles
    from .publisher import HubPublisher
    from .site import Site

log = logging.getLogger(__name__)

GZ = ".gz"
# Errors that concern one document's name (too long, clashing with another document's
# folder): that document is skipped. Any other OSError (ENOSPC, EIO, EROFS, EACCES) fails the
# whole export and leaves OUT as it was.
_NAME_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.EEXIST, errno.ENOTDIR, errno.EISDIR,
                          errno.EINVAL, errno.EILSEQ})
# A hard link may be refused where a copy works (another device, a filesystem without links).
_NO_LINK_ERRNOS = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP})


class ExportError(FeedsvcError):
    """The export failed as a whole; OUT still holds the previous build."""

    def __init__(self, out: Path, reason: str) -> None:
        super().__init__(f"{out}: {reason}")
        self.out = out
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What one export did."""

    out: Path
    build: Path                  # the folder OUT points to now
    changed: bool                # False: OUT already held exactly these documents
    written: int = 0             # files written (a document and its .gz count as two)
    linked: int = 0              # unchanged files hard-linked from the previous build
    skipped: tuple[Skipped, ...] = ()


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A document the export did not write, and why."""

    path: str
    reason: str


def document_file(path: str, document: Document) -> tuple[str | None, str]:
    """Return the file of the document served at decoded *path*, or None and why not."""
    if path == "/":
        return "index.html", ""
    segments = path.strip("/").split("/") if path.startswith("/") else [""]
    for segment in segments:
        if segment in ("", ".", ".."):
            return None, f"unsafe file name: a path segment is {segment!r}"
        if "\0" in segment:
            return None, "unsafe file name: it contains a NUL character"
    rel = "/".join(segments)
    # Pages carry no extension in their URL; .html on every page (even one whose name ends
    # in .html) keeps two paths from sharing a file. nginx: try_files $uri.html $uri.
    if document.content_type.startswith("text/html"):
        rel += ".html"
    return rel, ""


def export_digest(documents: Mapping[str, Document], archives: ArchiveFiles | None = None
                  ) -> str:
    """Return a short digest of every path and its ETag: equal digests, equal exports."""
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(documents):
        digest.update(f"{path}\0{documents[path].etag}\0".encode("utf-8", "surrogatepass"))
    for name in archives.names() if archives is not None else ():
        digest.update(f"{name}\0".encode("utf-8", "surrogatepass"))   # paths hold digests
    return digest.hexdigest()


def current_build(out: Path) -> Path | None:
    """Return the build folder OUT points to, or None; raise if OUT is not feedsvc's."""
    if not os.path.lexists(out):
        return None
    if not out.is_symlink():
        raise ExportError(out, "exists and is not a symlink made by 'feedsvc build'; "
                          "remove it or choose another --out")
    target = Path(os.path.realpath(out))
    if target.parent != Path(os.path.realpath(builds_dir(out))) or not target.is_dir():
        raise ExportError(out, f"is a symlink to {target}, not to a build in "
                          f"{builds_dir(out)}; remove it or choose another --out")
    return target


def builds_dir(out: Path) -> Path:
    """Return the folder that holds the builds OUT points into."""
    return out.with_name(out.name + ".d")


def export(documents: Mapping[str, Document], out: str | os.PathLike[str],
           archives: ArchiveFiles | None = None) -> ExportResult:
    """Write *documents* (and *archives*, the RFC 5005 pages) as a new build and point OUT
    at it; keep OUT as it was on failure."""
    out = Path(os.path.abspath(out))
    builds = builds_dir(out)
    try:
        builds.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(out, f"cannot create {builds}: {exc.strerror or exc}") from None
    with _locked(builds):
        previous = current_build(out)
        digest = export_digest(documents, archives)
        if previous is not None and previous.name.endswith(f"-{digest}"):
            return ExportResult(out, previous, changed=False)
        build: Path | None = None
        try:
            build = _new_build(builds, digest)
            written, linked, skipped = _write_tree(documents, build, previous)
            if archives is not None:
                more = archives.write(build, previous)
                written, linked, skipped = written + more[0], linked + more[1], skipped + more[2]
            _swap(out, build)
        except OSError as exc:
            if build is not None:
                shutil.rmtree(build, ignore_errors=True)
            raise ExportError(out, f"export failed, the previous export is still served: "
                              f"{exc.strerror or exc}") from None
        _prune(out, keep={build.name} | ({previous.name} if previous else set()))
    return ExportResult(out, build, True, written, linked, tuple(skipped))


@contextlib.contextmanager
def _locked(builds: Path) -> Iterator[None]:
    """Hold an exclusive lock on the builds folder: one export at a time."""
    try:
        handle = open(builds / ".lock", "a+b")
    except OSError as exc:
        raise ExportError(builds, f"cannot lock: {exc.strerror or exc}") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _new_build(builds: Path, digest: str) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    build = Path(tempfile.mkdtemp(prefix=f"{stamp}-", suffix=f"-{digest}", dir=builds))
    os.chmod(build, 0o755)   # mkdtemp makes it 0700: the web server must read it
    return build


def _write_tree(documents: Mapping[str, Document], build: Path, previous: Path | None
                ) -> tuple[int, int, list[Skipped]]:
    """Write every document and its .gz under *build*; return written, linked, skipped."""
    written = linked = 0
    skipped: list[Skipped] = []
    root = os.path.realpath(build)
    for path in sorted(documents):
        document = documents[path]
        rel, reason = document_file(path, document)
        target = os.path.join(root, rel) if rel else ""
        if rel and os.path.commonpath([root, os.path.realpath(target)]) != root:
            rel, reason = None, "unsafe file name: it resolves outside the export"
        if rel is None:
            skipped.append(Skipped(path, reason))
            continue
        old = os.path.join(previous, rel) if previous is not None else None
        try:
            counts = write_document(target, document, old)
        except (OSError, ValueError) as exc:
            if isinstance(exc, OSError) and exc.errno not in _NAME_ERRNOS:
                raise
            reason = f"cannot be written as {rel}: {getattr(exc, 'strerror', None) or exc}"
            skipped.append(Skipped(path, reason))
            continue
        written += counts[0]
        linked += counts[1]
    return written, linked, skipped


def write_document(target: str, document: Document, old: str | None) -> tuple[int, int]:
    """Write a document and its .gz; return how many files were written and linked."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    counts = [0, 0]
    created: list[str] = []
    try:
        for suffix, data in (("", document.body), (GZ, document.gzip)):
            linked = _place(target + suffix, data, old + suffix if old else None)
            created.append(target + suffix)
            counts[linked] += 1
    except BaseException:
        for name in created:   # never leave half a document behind
            with contextlib.suppress(OSError):
                os.unlink(name)
        raise
    return counts[0], counts[1]


def _place(target: str, data: bytes, old: str | None) -> bool:
    """Put *data* at *target*; return True if it was hard-linked from an identical *old*."""
    try:
        old_stat = os.stat(old) if old else None
    except OSError:
        old_stat = None
    if old_stat is not None and old_stat.st_size == len(data) and _same_bytes(old, data):
        # An unchanged file keeps its inode, so its mtime, so nginx's ETag and Last-Modified.
        try:
            os.link(old, target)
            return True
        except OSError as exc:
            if exc.errno not in _NO_LINK_ERRNOS:
                raise
        _write_file(target, data)
        os.utime(target, ns=(old_stat.st_atime_ns, old_stat.st_mtime_ns))
        return False
    _write_file(target, data)
    if old_stat is not None:
        # nginx's ETag is mtime (whole seconds) and size: a change must move the mtime.
        mtime = max(int(time.time()), int(old_stat.st_mtime) + 1)
        os.utime(target, (mtime, mtime))
    return False


def _same_bytes(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read() == data
    except OSError:
        return False


def _write_file(path: str, data: bytes) -> None:
    """Create *path* (never overwrite: two documents must not share a file) with *data*."""
    with open(path, "xb") as handle:
        handle.write(data)


def _swap(out: Path, build: Path) -> None:
    """Point OUT at *build* with one atomic rename of a fresh symlink."""
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    os.symlink(os.path.relpath(build, out.parent), temporary)
    try:
        os.replace(temporary, out)   # rename(2): atomic for readers of OUT
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _prune(out: Path, keep: set[str]) -> None:
    """Remove builds other than *keep*, and temporary symlinks left by crashed exports."""
    for entry in builds_dir(out).iterdir():
        if entry.name.startswith(".") or entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
    for entry in out.parent.glob(f".{out.name}.*.tmp"):
        if entry.is_symlink():
            with contextlib.suppress(OSError):
                entry.unlink()


def export_continuously(site: Site, out: str | os.PathLike[str], interval: float,
                        stop: threading.Event, *, archives: bool = False,
                        publisher: HubPublisher | None = None) -> None:
    """Reload every *interval* seconds (and when a future post is due); export what changed.

    With *archives*, the RFC 5005 pages too. With a *publisher*, tell the WebSub hubs of
    every feed whose bytes changed, once the new export is in place (the hubs fetch it).
    """
    from .archive_files import archive_files
    from .publisher import changed_topics
    exported = site.current             # what OUT holds: the export made before the loop
    while not stop.wait(_next_wait(site, interval)):
        published = site.try_reload()
        if published is None:
            continue                    # the site logged why; the last export stays served
        try:
            result = export(published.documents, out,
                            archive_files(published, site.store) if archives else None)
        except ExportError as exc:
            log.error("export failed: %s", exc)
            continue
        if publisher is not None:
            publisher.publish(changed_topics(exported, published))
        exported = published
        for skipped in result.skipped if result.changed else ():
            log.warning("export: skipped %r: %s", skipped.path, skipped.reason)
        if result.changed:
            log.info("exported %d files (%d unchanged, %d skipped) to %s -> %s",
                     result.written, result.linked, len(result.skipped), out, result.build.name)


def _next_wait(site: Site, interval: float) -> float:
    """Return seconds until the next poll: the interval, or sooner if a post falls due."""
    due = site.next_reload_at()
    if due is None:
        return interval
    return max(0.05, min(interval, (due - site.clock()).total_seconds()))
