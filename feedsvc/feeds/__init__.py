"""The feeds layer: every feed of a snapshot in RSS 2.0, Atom 1.0 and JSON Feed 1.1.

Owns: entry ids (``ids``), entry policy, which posts each feed shows (``entries``), the pure
format writers (``formats``), HTML content rendering and sanitising (``content``), titles as
jekyll-feed prints them (``typography``), the incremental builder (``builder``), and RFC 5005
archive pages: their digests, planned on each build, and rendering one (``archives``).

May import: ``feedsvc.source`` (its records and the ``BodyReader`` interface), the shared
nouns of ``feedsvc`` (``config``, ``dates``, ``documents``, ``errors``, ``urls``), feedgen,
lxml, cmarkgfm and nh3. Never ``feedsvc.pages``, ``feedsvc.site``, ``feedsvc.web``, Flask or
Werkzeug; ``formats`` imports nothing of the store at all.
"""
from __future__ import annotations

from .builder import FeedBuilder, FeedKey, FeedSet
from .entries import FeedOptions
from .formats import Entry, FeedMeta

__all__ = ["Entry", "FeedBuilder", "FeedKey", "FeedMeta", "FeedOptions", "FeedSet"]
