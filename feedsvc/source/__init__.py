"""The source layer: read a Jekyll site's ``_posts/`` into immutable snapshots.

Owns: the records (``Post``, ``Snapshot``, ``ParseOptions``), finding post files (``scan``),
learning which changed (``inotify``), front matter, building a post (``posts``), permalinks,
Liquid in bodies (``liquid``), the category and tag indexes, the parse cache, the store that
ties them together, and the notices ``feedsvc check`` prints (``notices``). Each reading rule
cites the Jekyll 4.3 Ruby method it follows (docs/jekyll.md).

May import: the standard library, PyYAML, inotify_simple, python-liquid, cmarkgfm and
python-dateutil (Liquid in bodies, ``liquid/``), and the shared nouns of ``feedsvc``
(``config``, ``dates``, ``errors``, ``jekyll_config``). Never ``feedsvc.feeds``,
``feedsvc.pages``, ``feedsvc.site`` or ``feedsvc.web``, and never Flask or Werkzeug.
"""
from __future__ import annotations

from .model import BodyReader, ParseOptions, Post, Snapshot
from .store import Store

__all__ = ["BodyReader", "ParseOptions", "Post", "Snapshot", "Store"]
