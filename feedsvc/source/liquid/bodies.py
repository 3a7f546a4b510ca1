"""The store's side of Liquid: render a body when a feed asks for it, remember what went
wrong for ``feedsvc check``, and notice when the files Liquid depends on change.

Imports nothing heavy: python-liquid is loaded by the first body that has Liquid.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ...errors import ContentError
from ..model import ParseOptions, Post
from ..posts import read_source
from . import wants_liquid
from .options import LiquidNote, LiquidOptions, liquid_files_signature

if TYPE_CHECKING:
    from .render import LiquidRenderer

log = logging.getLogger(__name__)


class LiquidBodies:
    """Render posts' Liquid for a store; keep each post's notes and render failures."""

    def __init__(self, options: LiquidOptions | None, parse_options: ParseOptions) -> None:
        self.parse_options = parse_options
        self._options = options
        self._renderer: LiquidRenderer | None = None
        self.notes: dict[str, tuple[LiquidNote, ...]] = {}    # path -> notes of its last render
        self.failures: dict[str, ContentError] = {}           # path -> why its render failed
        self._signature: tuple | None = None

    def renderer(self) -> LiquidRenderer:
        """Return the renderer (python-liquid is imported here, the first time)."""
        if self._renderer is None:
            from .render import LiquidRenderer
            options = self._options or LiquidOptions.for_root(
                self.parse_options.root, self.parse_options.timezone, self.parse_options.permalink)
            self._renderer = LiquidRenderer(options, self._other_source)
        return self._renderer

    def _other_source(self, post: Post) -> tuple[Mapping[str, Any], str] | None:
        source = read_source(post.path, self.parse_options)
        return None if source is None else (source[0], source[1])

    def render(self, post: Post, body: str, posts: tuple[Post, ...], now: dt.datetime) -> str:
        """Return *body* of *post* with its Liquid rendered; "" (content left out) on error."""
        source = read_source(post.path, self.parse_options)
        if source is None or source[3] != post.digest:
            return ""   # the file changed since it was read: the next reload reads it again
        front, raw, first_line, _ = source
        if not wants_liquid(front, raw):
            return body
        try:
            rendered = self.renderer().render(post, front, raw, first_line, posts, now)
            text, notes = rendered.text, rendered.notes
        except Exception:  # noqa: BLE001 - a bug of ours must not fail the reload
            log.exception("rendering the Liquid of %s failed unexpectedly", post.path)
            text, notes = None, (LiquidNote(post.path, None, "error",
                                            "internal error rendering Liquid; see the log"),)
        self.notes[post.path] = notes
        if text is None:
            error = next(n for n in notes if n.kind == "error")
            self.failures[post.path] = ContentError(post.path, error.message, error.line)
            log.warning("Liquid of %s; its content is left out", error)
            return ""
        self.failures.pop(post.path, None)
        return text

    def site_changed(self) -> bool:
        """Return whether _includes/, _plugins/, _config.yml or Gemfile changed since asked
        (True the first time: what the parse cache says of them may be from other files)."""
        signature = liquid_files_signature(self.parse_options.root)
        changed = signature != self._signature
        self._signature = signature
        return changed

    def errors(self, paths: Iterable[str]) -> list[ContentError]:
        """Return the render failures of posts still in the store (and forget the others)."""
        present = set(paths)
        for table in (self.notes, self.failures):
            for path in [p for p in table if p not in present]:
                del table[path]
        return list(self.failures.values())

    def report(self) -> list[LiquidNote]:
        """Return every note of the last renders, by path and line."""
        notes = [note for found in self.notes.values() for note in found]
        return sorted(notes, key=lambda n: (n.path, n.line or 0))
