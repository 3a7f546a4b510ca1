"""Titles as jekyll-feed prints them: ``smartify | strip_html | normalize_whitespace``.

Jekyll's ``smartify`` filter (jekyll/filters.rb) runs kramdown's SmartyPants parser
(jekyll/converters/smartypants.rb: span parsers ``smart_quotes``, ``html_entity``,
``typographic_syms``, ``span_html``); this module ports those rules from kramdown 2.4
(``typographic_symbol.rb``); the smart-quote rules (``smart_quotes.rb``) are the ones the
Liquid ``smartify`` filter uses, :func:`feedsvc.source.liquid.smartypants.smart_quote`. Bodies
get the same typography from cmark-gfm's smart option (:mod:`feedsvc.feeds.content`).
"""
from __future__ import annotations

import html
import re

from ..source.liquid.smartypants import smart_quote

# The span parsers' start patterns, in kramdown's order of precedence.
_START = re.compile(r"""(?P<quote>[^\\]?["'])|(?P<entity>&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|"""
                    r"""#[xX][0-9a-fA-F]+);)|(?P<sym>---|--|\.\.\.|\\<<|\\>>|<< | >>|<<|>>)"""
                    r"""|(?P<tag></?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|<!--.*?-->)""", re.S)
_SYMBOLS = {"---": "\u2014", "--": "\u2013", "...": "\u2026", "\\<<": "<<", "\\>>": ">>",
            "<< ": "\u00ab\u00a0", " >>": "\u00a0\u00bb", "<<": "\u00ab", ">>": "\u00bb"}
# Liquid's strip_html (liquid/standardfilters.rb): these blocks, then every <...>.
_STRIP_BLOCKS = re.compile(r"<script.*?</script>|<!--.*?-->|<style.*?</style>", re.S)
_STRIP_TAGS = re.compile(r"<.*?>", re.S)
_SPACE = re.compile(r"[ \t\n\v\f\r]+")   # Ruby's \s: ASCII white space only


def smartify(text: str) -> str:
    """Return *text* with kramdown's smart quotes and typographic symbols, as HTML.

    Tags and entities pass through; a bare ``&``, ``<`` or ``>`` is escaped, as kramdown's
    HTML converter writes text.
    """
    out: list[str] = []
    pos = 0
    while True:
        match = _START.search(text, pos)
        if match is None:
            out.append(html.escape(text[pos:], quote=False))
            return "".join(out)
        start = match.start()
        out.append(html.escape(text[pos:start], quote=False))
        kind = match.lastgroup
        if kind == "quote":
            pos = smart_quote(text, start, out)
        elif kind == "sym":
            out.append(html.escape(_SYMBOLS[match.group()], quote=False))
            pos = match.end()
        else:   # an entity or a tag: kept as it is
            out.append(match.group())
            pos = match.end()


def strip_html(text: str) -> str:
    """Return Liquid's ``strip_html``: scripts, styles and comments gone, then every tag."""
    if "<" not in text:
        return text
    if "<script" in text or "<style" in text or "<!--" in text:
        text = _STRIP_BLOCKS.sub("", text)
    return _STRIP_TAGS.sub("", text)


def normalize_whitespace(text: str) -> str:
    """Return Jekyll's ``normalize_whitespace``: every run of white space one space, trimmed."""
    return _SPACE.sub(" ", text).strip(" \t\n\v\f\r\x00")


def feed_title(title: str) -> str:
    """Return the text a reader sees of jekyll-feed's ``<title type="html">``:
    ``smartify | strip_html | normalize_whitespace``, entities decoded."""
    return normalize_whitespace(html.unescape(strip_html(smartify(title))))
