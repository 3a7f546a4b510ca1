"""Titles as jekyll-feed prints them: ``smartify | strip_html | normalize_whitespace``.

Jekyll's ``smartify`` filter (jekyll/filters.rb) runs kramdown's SmartyPants parser
(jekyll/converters/smartypants.rb: span parsers ``smart_quotes``, ``html_entity``,
``typographic_syms``, ``span_html``); this module ports those rules from kramdown 2.4
(``kramdown/parser/kramdown/smart_quotes.rb``, ``typographic_symbol.rb``). Bodies get the
same typography from cmark-gfm's smart option (:mod:`feedsvc.feeds.content`).
"""
from __future__ import annotations

import html
import re

# kramdown's SQ_PUNCT and SQ_CLOSE; Ruby's \s, \w and \b are ASCII-only, hence re.ASCII.
_PUNCT = r"""[!"#$%'()*+,\-./:;<=>?@\[\\\]^_`{|}~]"""
_CLOSE = r"[^ \\\t\r\n\[{(-]"
_FLAGS = re.ASCII | re.MULTILINE
# (rule, substitutions): an int copies that group, a name is a quote (kramdown's SQ_RULES).
_RULES = [(re.compile(rule, _FLAGS), subst) for rule, subst in (
    (r"""("|')(?=[_*]{1,2}\S)""", ("lquote1",)),
    (r"""("|')(?=""" + _PUNCT + r"""(?!\.\.)\B)""", ("rquote1",)),
    (r"""(\s?)"'(?=\w)""", (1, "ldquo", "lsquo")),
    (r"""(\s?)'"(?=\w)""", (1, "lsquo", "ldquo")),
    (r"""(\s?)'(?=\d\ds)""", (1, "rsquo")),
    (r"""(\s)('|")(?=\w)""", (1, "lquote2")),
    (r"(" + _CLOSE + r""")('|")""", (1, "rquote2")),
    (r"""("|')(?=\s|s\b|$)""", ("rquote1",)),
    (r"(.?)'", (1, "lsquo")),
    (r'(.?)"', (1, "ldquo")),
)]
_QUOTES = {"lsquo": "\u2018", "rsquo": "\u2019", "ldquo": "\u201c", "rdquo": "\u201d"}
_SIDES = {"lquote": ("ldquo", "lsquo"), "rquote": ("rdquo", "rsquo")}
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
            pos = _quote(text, start, out)
        elif kind == "sym":
            out.append(html.escape(_SYMBOLS[match.group()], quote=False))
            pos = match.end()
        else:   # an entity or a tag: kept as it is
            out.append(match.group())
            pos = match.end()


def _quote(text: str, start: int, out: list[str]) -> int:
    """Apply the first smart-quote rule that matches at *start*; return where it ended."""
    for rule, substs in _RULES:
        match = rule.match(text, start)
        if match is None:
            continue
        for subst in substs:
            if isinstance(subst, int):
                out.append(html.escape(match.group(subst), quote=False))
                continue
            name = subst
            if subst[-1].isdigit():   # lquote1/rquote2...: " or ' picks the kind
                quote = match.group(int(subst[-1]))
                name = _SIDES[subst[:-1]][0 if quote == '"' else 1]
            out.append(_QUOTES[name])
        return match.end()
    out.append(html.escape(text[start], quote=False))
    return start + 1


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
