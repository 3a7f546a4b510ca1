"""The last published documents, kept in ``cache_dir`` so a restart serves at once.

A restart with a warm parse cache still stats every file and builds every feed before it can
serve (3.3 s at 100k posts). With this cache a new process publishes the documents the last
one served, as they were, in the time it takes to read them, and the catch-up reload that
follows replaces whatever changed while it was down (docs/deploy.md, "Restarts").

They are reused only when built by the same feedsvc version from the same settings (the key);
what they were built from (the store's state: files and their newest change) is kept beside
them and logged when they are restored. Like the parse cache, this is an optimisation: any
failure to read or write it is logged and the service carries on without it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .documents import Document
from .errors import ContentError

log = logging.getLogger(__name__)
FORMAT = 1   # bump when the meaning or layout of a saved document changes
FILE_NAME = "documents.sqlite3"


@dataclasses.dataclass(frozen=True)
class Saved:
    """Documents as a previous process published them, with what they were built from."""

    documents: dict[str, Document]
    summary: dict[str, Any]      # counts and next_due of the snapshot they came from
    built_from: dict[str, Any]   # the store's state then: files, newest change
    saved_at: dt.datetime


def cache_key(settings: Mapping[str, Any], version: str) -> str:
    """Return the key of documents built by feedsvc *version* from *settings*."""
    parts = [FORMAT, version, {k: settings[k] for k in sorted(settings)}]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def documents_digest(documents: Mapping[str, Document]) -> str:
    """Return a digest of every path and its ETags: equal digests, equal documents."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(documents):
        document = documents[path]
        digest.update(f"{path}\0{document.etag}\0{document.gzip_etag}\0".encode(
            "utf-8", "surrogatepass"))
    return digest.hexdigest()


class DocumentCache:
    """Save and restore one site's published documents in SQLite (shared by workers)."""

    def __init__(self, folder: str | os.PathLike[str], key: str) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.path = Path(folder) / FILE_NAME
        self.key = key
        self._db = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")   # several workers read and write it
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS documents (path TEXT PRIMARY KEY, "
                         "body BLOB, gzip BLOB, etag TEXT, gzip_etag TEXT, content_type TEXT, "
                         "last_modified TEXT, last_modified_http TEXT)")

    def load(self) -> Saved | None:
        """Return the documents saved under this cache's key, or None."""
        meta = dict(self._db.execute("SELECT key, value FROM meta"))
        if meta.get("key") != self.key or "digest" not in meta:
            return None
        documents = {}
        for row in self._db.execute("SELECT path, body, gzip, etag, gzip_etag, content_type, "
                                    "last_modified, last_modified_http FROM documents"):
            path, body, packed, etag, gzip_etag, content_type, modified, modified_http = row
            documents[path] = Document(
                bytes(body), bytes(packed), etag, gzip_etag, content_type,
                None if modified is None else dt.datetime.fromisoformat(modified),
                modified_http)
        if documents_digest(documents) != meta["digest"]:   # a save cut short
            return None
        return Saved(documents, json.loads(meta["summary"]), json.loads(meta["built_from"]),
                     dt.datetime.fromisoformat(meta["saved_at"]))

    def save(self, documents: Mapping[str, Document], summary: Mapping[str, Any],
             built_from: Mapping[str, Any], now: dt.datetime) -> bool:
        """Save *documents* unless the cache holds them already; return whether it wrote.

        Only documents whose bytes changed are written, in one transaction.
        """
        digest = documents_digest(documents)
        meta = dict(self._db.execute("SELECT key, value FROM meta"))
        if meta.get("key") == self.key and meta.get("digest") == digest:
            return False
        old = {} if meta.get("key") != self.key else dict(
            self._db.execute("SELECT path, etag FROM documents"))
        changed = [(path, d.body, d.gzip, d.etag, d.gzip_etag, d.content_type,
                    None if d.last_modified is None else d.last_modified.isoformat(),
                    d.last_modified_http)
                   for path, d in documents.items() if old.get(path) != d.etag]
        gone = [(path,) for path in old if path not in documents]
        with self._db:
            if meta.get("key") != self.key:
                self._db.execute("DELETE FROM documents")
            self._db.executemany("DELETE FROM documents WHERE path = ?", gone)
            self._db.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 changed)
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
                ("key", self.key), ("digest", digest),
                ("summary", json.dumps(dict(summary), default=str)),
                ("built_from", json.dumps(dict(built_from))),
                ("saved_at", now.isoformat())])
        return True


def open_cache(folder: str, key: str) -> DocumentCache | None:
    """Return the document cache in *folder*, or None (logged) when it cannot be opened."""
    try:
        return DocumentCache(folder, key)
    except (OSError, sqlite3.Error) as exc:
        log.warning("document cache unusable, carrying on without it: %s", exc)
        return None


# The errors a damaged or unwritable cache gives: logged, never fatal.
CACHE_ERRORS = (OSError, sqlite3.Error, ValueError, TypeError, KeyError, ContentError)
