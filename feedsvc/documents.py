"""Prepared documents: bytes, their gzip copy and HTTP validators, made once per change.

The web layer and the static export only look documents up; nothing on the request path
builds, hashes or compresses.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

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
# Batches of at least this many bytes are prepared on several threads: zlib and hashlib let
# go of the GIL on large buffers, so on a cold start compression runs on every core.
PARALLEL_BYTES = 1 << 20


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


def make_documents(items: Sequence[tuple[bytes, str, dt.datetime | None]]) -> list[Document]:
    """Return ``make_document(*item)`` for each item, in order; in parallel for big batches.

    The threads live only for the call, so no thread outlives it (the store forks its
    parsing pool only while the process has a single thread).
    """
    workers = min(os.cpu_count() or 1, 4)
    if workers < 2 or len(items) < 2 or sum(len(body) for body, _, _ in items) < PARALLEL_BYTES:
        return [make_document(*item) for item in items]
    with ThreadPoolExecutor(workers, thread_name_prefix="feedsvc-gzip") as pool:
        return list(pool.map(lambda item: make_document(*item), items))
