"""A persistent parse cache: parsed posts by (path, mtime, size, inode), in SQLite.

A restart with a warm cache stats every file but parses only those that changed since the
cache was written. The cache is an optimisation only: any failure to read or write it is
logged and the store carries on without it. It is keyed by a fingerprint of everything that
changes what a file parses to (the record's fields, the site, its zone and permalink), so a
changed setting or a new version of the record starts it afresh.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from .config import Settings

log = logging.getLogger(__name__)
FORMAT = 2  # bump when the meaning or encoding of a cached record changes


def fingerprint(settings: Settings, record_type: type) -> str:
    """Return the key under which parses for these settings may be reused."""
    parts = [FORMAT, [f.name for f in dataclasses.fields(record_type)],
             os.path.realpath(settings.site_root), settings.timezone, settings.permalink,
             settings.max_post_bytes]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class ParseCache:
    """Remember parsed posts between runs of the service."""

    def __init__(self, folder: str | os.PathLike[str], key: str) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.path = Path(folder) / "parse-cache.sqlite3"
        self.key = key
        self._db = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")  # several gunicorn workers share it
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS posts (path TEXT PRIMARY KEY, "
                         "mtime INTEGER, size INTEGER, ino INTEGER, record BLOB)")
        row = self._db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
        if row is None or row[0] != key:
            with self._db:
                self._db.execute("DELETE FROM posts")
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (key,))

    def load(self) -> Iterable[tuple[str, tuple[int, int, int], bytes]]:
        """Return (path, signature, record bytes) for every cached file.

        The records are opaque here: the store encodes and decodes them. Rows are read as
        they are consumed, so 100k cached posts are never all held twice.
        """
        rows = self._db.execute("SELECT path, mtime, size, ino, record FROM posts")
        return ((path, (mtime, size, ino), record) for path, mtime, size, ino, record in rows)

    def save(self, changed: Mapping[str, tuple[tuple[int, int, int], bytes]],
             removed: Iterable[str]) -> None:
        """Write the changed records and forget the removed paths, in one transaction."""
        with self._db:
            self._db.executemany("DELETE FROM posts WHERE path = ?", ((p,) for p in removed))
            self._db.executemany(
                "INSERT OR REPLACE INTO posts VALUES (?, ?, ?, ?, ?)",
                ((path, *signature, record) for path, (signature, record) in changed.items()))

    def close(self) -> None:
        """Close the database."""
        self._db.close()
