"""The news site the web tests serve, and the answers expected of it.

Its names are as awkward as names get: a ``/``, ``..``, markup, a space, a ``%``, Chinese,
and ``etc``/``passwd``, which look like a path to traversal attempts.
"""
from __future__ import annotations

from collections.abc import Callable

from feedsvc.documents import Document

FEED = "/feeds/categories/dongfangwang.rss"
ALL_FEED = "/feeds/all.rss"
CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=300, stale-if-error=86400"
NOT_FOUND = b"Not found. Every feed is listed at https://news.example.com/\n"
ALLOW = "GET, HEAD, OPTIONS"
CATEGORIES = ["dongfangwang", "a/b", "..", "50%25off", "etc"]
TAGS = ["东方网新闻", "<b>&", "with space", "passwd"]
# Every header a proxy or client might use to name another host, scheme or path.
FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example",
          "X-Forwarded-Proto": "http", "X-Forwarded-Prefix": "/evil",
          "Forwarded": "for=1.2.3.4;host=evil.example;proto=http",
          "X-Original-URL": "/evil", "X-Rewrite-URL": "/evil", "X-Host": "evil.example"}


def write_news(write_post: Callable[..., object]) -> None:
    """Write the four posts of the site (CATEGORIES and TAGS are theirs)."""
    write_post("shi-gong-jing-lian", title="政策解读答疑、防疫知识科普……市工经联线上搭平台",
               date="2022-05-11 17:16:04 +0800", categories="dongfangwang", tags="东方网新闻",
               body="<p>上海疫情发生以来，市工经联积极发挥枢纽型社会组织的功能。</p>\n\n"
                    "[返回首页](//finews.example.com/)\n")
    write_post("awkward", title="Names <that> & break things", date="2022-05-12 08:00:00 +0800",
               categories=["a/b", ".."], tags=["<b>&", "with space", "东方网新闻"])
    write_post("percent", title="百分之五十", date="2022-05-13 09:30:00 +0800",
               categories=["50%25off", "dongfangwang"], tags=["with space"])
    write_post("paths", title="Names that look like a path", date="2022-05-10 08:00:00 +0800",
               categories=["etc"], tags=["passwd"])


def doc(site, path: str) -> Document:
    """Return the published document at decoded *path*."""
    document = site.document(path)
    assert document is not None, path
    return document


def feed_headers(document: Document, etag: str | None = None, length: int | None = None,
                 encoding: str | None = None) -> dict[str, str]:
    """Return the exact headers of a 200 answer with *document* (or its gzip copy)."""
    headers = {
        "Content-Type": document.content_type,
        "Content-Length": str(len(document.body) if length is None else length),
        "ETag": etag or document.etag,
        "Last-Modified": document.last_modified_http,
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if encoding:
        headers["Content-Encoding"] = encoding
    return headers
