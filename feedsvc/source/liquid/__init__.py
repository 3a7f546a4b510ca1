"""Liquid in post bodies, rendered as Jekyll 4.3 renders it, before Markdown.

Jekyll renders a post's Liquid unless the post says ``render_with_liquid: false`` or its text
has neither ``{{`` nor ``{%`` (``Document#render_with_liquid?``, ``Utils.has_liquid_construct?``).
Two moments:

* :func:`check_liquid` — at load time (``load_post``), parse the body so a template that does
  not parse (unclosed block, unknown tag, missing include) makes the post broken, with a line;
* :class:`LiquidRenderer` — when a feed asks for the body (``Store.body_of``), render it with
  ``site`` and ``page``, Jekyll's tags and filters, in Jekyll's default lax mode.

This module imports nothing heavy: python-liquid (0.3 s to import) is loaded by the first body
that has Liquid, so a site without Liquid never pays for it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .options import LiquidNote, LiquidOptions

if TYPE_CHECKING:
    from .render import LiquidRenderer

__all__ = ["LiquidNote", "LiquidOptions", "LiquidRenderer", "check_liquid", "has_liquid",
           "wants_liquid"]


def has_liquid(text: str) -> bool:
    """Return whether *text* holds Liquid markup (Jekyll's ``Utils.has_liquid_construct?``)."""
    # One "{" scan first: a one-character search is memchr, 5x faster than the two-character
    # ones on bodies without braces (50 ms over 10k bodies of 5 KB; every post pays it).
    return "{" in text and ("{{" in text or "{%" in text)


def wants_liquid(front: Mapping, body: str) -> bool:
    """Return whether Jekyll renders the Liquid of a post with *front* matter and *body*."""
    return front.get("render_with_liquid") is not False and has_liquid(body)


def check_liquid(rel: str, body: str, first_line: int, root: str) -> None:
    """Parse the Liquid of *body*; raise ContentError(rel, reason, line) if it does not parse.

    *first_line* is the file line the body starts on, so reasons point into the file.
    """
    from .engine import check_syntax   # python-liquid is imported only for Liquid bodies
    check_syntax(rel, body, first_line, root)


def __getattr__(name: str) -> object:
    if name == "LiquidRenderer":   # a lazy import, for the same reason as above
        from .render import LiquidRenderer
        return LiquidRenderer
    raise AttributeError(name)
