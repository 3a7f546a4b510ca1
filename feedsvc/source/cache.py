"""A persistent parse cache: parsed posts by (path, mtime, size, inode), in SQLite.

A restart with a warm cache stats every file but parses only those that changed since the
cache was written. The cache is an optimisation only: any failure to read or write it is
logged and the store carries on without it. It is keyed by :func:`cache_key`: the record's
fields and every parse option, derived from their dataclasses (never listed by hand), so a
changed setting or a new version of the record starts it afresh.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import marshal
import os
import pickle
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import ContentError
from .model import ParseOptions, Post
from .posts import share_names

log = logging.getLogger(__name__)
FORMAT = 4  # bump when the meaning or encoding of a cached record changes


def cache_key(options: ParseOptions) -> str:
    """Return the key under which parses made with *options* may be reused."""
    parts = [FORMAT, [f.name for f in dataclasses.fields(Post)], dataclasses.asdict(options)]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


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


class RecordCodec:
    """Encode a file's (post, error) for the parse cache, compactly: marshal of primitives.

    Unpickling a Post costs ~50 µs (its two datetimes rebuild their tzinfo each time);
    marshal of a tuple of strings and ints costs a few, and decoding shares one tzinfo per
    offset and one string per category or tag name, as a parse does. A datetime whose zone is
    neither the site's nor a fixed offset falls back to pickle.
    """

    def __init__(self, zone: dt.tzinfo) -> None:
        self.zone = zone
        self._offsets: dict[int, dt.tzinfo] = {}

    def encode(self, post: Post | None, error: ContentError | None) -> bytes:
        """Return the bytes to cache for one file."""
        packed_error = None if error is None else (error.path, error.reason, error.line)
        if post is None:
            return b"M" + marshal.dumps((None, packed_error))
        date, updated = self._pack_date(post.date), self._pack_date(post.updated)
        if date is None or updated is None:
            return b"P" + pickle.dumps((post, error), protocol=5)
        fields = tuple(getattr(post, name) for name in _PACKED_FIELDS)
        fields = (*fields[:_FILE_DATE], post.file_date.toordinal(), *fields[_FILE_DATE + 1:])
        return b"M" + marshal.dumps(((date, updated, fields), packed_error))

    def decode(self, record: bytes) -> tuple[Post | None, ContentError | None]:
        """Return the (post, error) *record* holds."""
        if record[:1] == b"P":
            post, error = pickle.loads(record[1:])
            return post, error
        packed, packed_error = marshal.loads(record[1:])
        error = None if packed_error is None else ContentError(*packed_error)
        if packed is None:
            return None, error
        packed_date, packed_updated, fields = packed
        date = self._unpack_date(packed_date)
        updated = date if packed_updated == packed_date else self._unpack_date(packed_updated)
        values = dict(zip(_PACKED_FIELDS, fields))
        values["file_date"] = _day(values["file_date"])
        values["categories"] = share_names(values["categories"])
        values["tags"] = share_names(values["tags"])
        return Post(date=date, updated=updated, **values), error

    def _pack_date(self, value: dt.datetime) -> tuple | None:
        zone = value.tzinfo
        if zone is self.zone:
            offset = None
        elif type(zone) is dt.timezone and zone.tzname(None) == dt.timezone(zone.utcoffset(None)).tzname(None):
            offset = int(zone.utcoffset(None).total_seconds())   # type: ignore[union-attr]
        else:
            return None
        return (value.year, value.month, value.day, value.hour, value.minute, value.second,
                value.microsecond, value.fold, offset)

    def _unpack_date(self, packed: tuple) -> dt.datetime:
        *parts, fold, offset = packed
        if offset is None:
            zone = self.zone
        else:
            zone = self._offsets.get(offset)
            if zone is None:
                zone = self._offsets[offset] = dt.timezone(dt.timedelta(seconds=offset))
        return dt.datetime(*parts, tzinfo=zone, fold=fold)


# Every field of the record but the two datetimes, packed in this order.
_PACKED_FIELDS = tuple(f.name for f in dataclasses.fields(Post)
                       if f.init and f.name not in ("date", "updated"))
_FILE_DATE = _PACKED_FIELDS.index("file_date")

# One shared date object per day, as a parse shares them (memory, at 100k posts).
_day = functools.lru_cache(maxsize=4096)(dt.date.fromordinal)
