"""Prepared documents: bytes, their gzip copy and HTTP validators, made once per change.

The web layer and the static export only look documents up; nothing on the request path
builds, hashes or compresses.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib

from .dates import format_http_date

CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "opml": "text/x-opml; charset=utf-8",
}

# zlib's default. On the 10k-post benchmark site's 261 documents (26.6 MB) level 9 took
# 0.63-0.70 s per build and level 6 0.50-0.57 s for 0.35 % more bytes (3.59 -> 3.60 MB);
# levels below 6 cost noticeably more bytes. Compressing on the first gzip request would
# save the rest, but nothing on the request path compresses (docs/service.md).
GZIP_LEVEL = 6


@dataclasses.dataclass(frozen=True, slots=True)
class Document:
    """One servable document with everything a response needs."""

    body: bytes
    gzip: bytes
    etag: str              # strong ETag of body, quoted
    gzip_etag: str         # strong ETag of the gzip copy (a different representation)
    content_type: str
    last_modified: dt.datetime | None
    last_modified_http: str | None


def make_document(body: bytes, kind: str, last_modified: dt.datetime | None) -> Document:
    """Return a prepared document of *kind* (a key of CONTENT_TYPES)."""
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    # mtime=0 and no file name: the same body always gives the same gzip bytes.
    packed = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
    return Document(
        body=body,
        gzip=packed,
        etag=f'"{digest}"',
        gzip_etag=f'"{digest}-gz"',
        content_type=CONTENT_TYPES[kind],
        last_modified=last_modified,
        last_modified_http=format_http_date(last_modified) if last_modified else None,
    )
