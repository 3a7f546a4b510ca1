"""The URL of every document feedsvc serves, shared by the feeds, the pages and the web.

A category or tag is addressed by its name exactly as written in front matter, UTF-8
percent-encoded (a '/' in a name becomes %2F). Lookups use the decoded path, so a name
never reaches the filesystem.
"""
from __future__ import annotations

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
