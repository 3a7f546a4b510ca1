"""The URL of every document feedsvc serves, shared by the feeds, the pages and the web.

A category or tag is addressed by its name exactly as written in front matter, UTF-8
percent-encoded (a '/' in a name becomes %2F). Lookups use the decoded path, so a name
never reaches the filesystem.
"""
from __future__ import annotations

import dataclasses
import re
from urllib.parse import quote

FORMATS = ("rss", "atom", "json")
KINDS = ("all", "category", "tag")
_FEED_DIRS = {"category": "categories", "tag": "tags"}


def encode_name(name: str) -> str:
    """Return *name* as one percent-encoded path segment ('.' and '..' included)."""
    if name in (".", ".."):
        return name.replace(".", "%2E")
    return quote(name, safe="")


def feed_path(kind: str, name: str, fmt: str, *, encoded: bool = True) -> str:
    """Return the path of a feed, e.g. ``/feeds/categories/metro.rss``."""
    if kind == "all":
        return f"/feeds/all.{fmt}"
    segment = encode_name(name) if encoded else name
    return f"/feeds/{_FEED_DIRS[kind]}/{segment}.{fmt}"


def page_path(kind: str, name: str, *, encoded: bool = True) -> str:
    """Return the path of the HTML page of a feed, e.g. ``/feeds/categories/metro``."""
    if kind == "all":
        return "/"
    segment = encode_name(name) if encoded else name
    return f"/feeds/{_FEED_DIRS[kind]}/{segment}"


OPML_PATH = "/feeds.opml"
INDEX_PATH = "/"


# --- RFC 5005 archive pages (docs/aggregators.md) -------------------------------------------

ARCHIVE_ROOT = "/feeds/archive"
# "<page>-<digest>.<format>", or "<page>.<format>" for the page's stable (redirecting) URL.
_ARCHIVE_FILE = re.compile(r"(0|[1-9][0-9]{0,8})(?:-([0-9a-f]{16}))?\.(rss|atom|json)\Z")


@dataclasses.dataclass(frozen=True, slots=True)
class ArchiveAddress:
    """What an archive URL names: one page of one feed, in one format."""

    kind: str
    name: str
    page: int
    digest: str    # "" for the page's stable URL
    fmt: str


def archive_path(kind: str, name: str, page: int, digest: str, fmt: str, *,
                 encoded: bool = True) -> str:
    """Return the path of an archive page, e.g. ``/feeds/archive/all/3-<digest>.atom``.

    An empty *digest* gives the page's stable URL (``/feeds/archive/all/3.atom``).
    """
    return f"{archive_stem(kind, name, page, digest, encoded=encoded)}.{fmt}"


def archive_stem(kind: str, name: str, page: int, digest: str, *, encoded: bool = True) -> str:
    """Return :func:`archive_path` without its ``.<format>``."""
    if kind == "all":
        folder = f"{ARCHIVE_ROOT}/all"
    else:
        folder = f"{ARCHIVE_ROOT}/{_FEED_DIRS[kind]}/{encode_name(name) if encoded else name}"
    return f"{folder}/{page}-{digest}" if digest else f"{folder}/{page}"


def parse_archive_path(path: str) -> ArchiveAddress | None:
    """Return what the decoded *path* under ``/feeds/archive/`` names, or None if nothing."""
    if not path.startswith(ARCHIVE_ROOT + "/"):
        return None
    rest = path[len(ARCHIVE_ROOT) + 1:]
    folder, _, rest = rest.partition("/")
    if folder == "all":
        kind, name, file = "all", "", rest
    else:
        kind = {directory: k for k, directory in _FEED_DIRS.items()}.get(folder)
        name, _, file = rest.rpartition("/")   # the name may hold a "/" (%2F)
        if kind is None or not name:
            return None
    match = _ARCHIVE_FILE.match(file)
    if match is None:
        return None
    page, digest, fmt = match.groups()
    return ArchiveAddress(kind, name, int(page), digest or "", fmt)
