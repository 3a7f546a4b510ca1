"""Jekyll's ``smartify``: kramdown's SmartyPants parser (``jekyll/converters/smartypants.rb``).

A port of kramdown 2.4's span parsers that Jekyll enables for it -- smart quotes
(``parser/kramdown/smart_quotes.rb``), HTML entities, typographic symbols and span HTML --
with its HTML output (``entity_output: as_char``): text is escaped (& < >), entities become
characters (except & < > which stay entities), quotes become ‘ ’ “ ”, ``--`` –,
``---`` —, ``...`` …, ``<<`` «, ``>>`` ». Block-level HTML at the start of a line is passed
through.
"""
from __future__ import annotations

import html.entities
import re
from typing import Any

_ASCII = re.ASCII
_SQ_PUNCT = r"""[!"#$%'()*+,\-./:;<=>?@\[\\\]^_`{|}~]"""
_SQ_CLOSE = r"[^ \\\t\r\n\[{(-]"
# kramdown's SQ_RULES (parser/kramdown/smart_quotes.rb), in order: (pattern, substitutions,
# dot-all); an int adds that group as text. Ruby's ^ and $ always match at line ends (re.M);
# only the last two rules are /m, Ruby's dot-all (re.S).
_SQ_RULES = [(re.compile(p, _ASCII | re.M | (re.S if dotall else 0)), s) for p, s, dotall in (
    (r"""("|')(?=[_*]{1,2}\S)""", ("lquote1",), False),
    (rf"""("|')(?={_SQ_PUNCT}(?!\.\.)\B)""", ("rquote1",), False),
    (r"""(\s?)"'(?=\w)""", (1, "ldquo", "lsquo"), False),
    (r"""(\s?)'"(?=\w)""", (1, "lsquo", "ldquo"), False),
    (r"""(\s?)'(?=\d\ds)""", (1, "rsquo"), False),
    (r"""(\s)('|")(?=\w)""", (1, "lquote2"), False),
    (rf"""({_SQ_CLOSE})('|")""", (1, "rquote2"), False),
    (r"""("|')(?=\s|s\b|$)""", ("rquote1",), False),
    (r"""(.?)'""", (1, "lsquo"), True),
    (r"""(.?)\"""", (1, "ldquo"), True),
)]
_QUOTES = {"lsquo": "\u2018", "rsquo": "\u2019", "ldquo": "\u201c", "rdquo": "\u201d"}
_SQ_SUBST = {("rquote1", '"'): "rdquo", ("rquote1", "'"): "rsquo", ("rquote2", '"'): "rdquo",
             ("rquote2", "'"): "rsquo", ("lquote1", '"'): "ldquo", ("lquote1", "'"): "lsquo",
             ("lquote2", '"'): "ldquo", ("lquote2", "'"): "lsquo"}

_NAME = r"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?"
_SPAN_START = re.compile(r"""[^\\]?["']|&|--|\.\.\.|(?:\\| )?(?:<<|>>)|<(?:"""
                         + _NAME + r"|\?|!--|/)")
_SQ_START = re.compile(r"""[^\\]?["']""")
_ENTITY = re.compile(r"&([\w:][\-\w.:]*);|&#(\d+);|&#x([0-9a-fA-F]+);")
_TYPO = re.compile(r"---|--|\.\.\.|\\<<|\\>>|<< | >>|<<|>>")
_TYPO_OUT = {"---": "\u2014", "--": "\u2013", "...": "\u2026", "\\<<": "&lt;&lt;",
             "\\>>": "&gt;&gt;", "<< ": "\u00ab\u00a0", " >>": "\u00a0\u00bb", "<<": "\u00ab",
             ">>": "\u00bb"}
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_INSTRUCTION = re.compile(r"<\?.*?\?>", re.S)
_TAG = re.compile(r"<(" + _NAME + r")\s*((?:\s+" + _NAME +
                  r"""(?:\s*=\s*(?:[\w.\-:]+|"[^"]*"|'[^']*'))?)*)\s*(/)?>""", re.S)
_ATTR = re.compile(r"""(""" + _NAME + r""")(?:\s*=\s*(?:([\w.\-:]+)|"([^"]*)"|'([^']*)'))?""", re.S)
_CLOSE = re.compile(r"</(" + _NAME + r")\s*>", re.S)
_VOID = frozenset("area base br col command embed hr img input keygen link meta param source "
                  "track wbr".split())
_BLOCK_HTML = re.compile(r"^ {0,3}<(?:address|article|aside|blockquote|body|dd|details|div|dl|"
                         r"dt|fieldset|figcaption|figure|footer|form|h[1-6]|header|hr|html|li|"
                         r"main|nav|ol|p|pre|section|table|tbody|td|tfoot|th|thead|tr|ul)\b",
                         re.I | re.M)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _entity(match: re.Match) -> str:
    name, dec, hexa = match.groups()
    if name is not None:
        code = html.entities.name2codepoint.get(name)
        if code is None:   # kramdown: an unknown entity is an escaped & and the rest as text
            return "&amp;" + _escape(match.group()[1:])
    else:
        code = int(dec) if dec is not None else int(hexa, 16)
    char = chr(code) if code < 0x110000 else "\ufffd"
    return match.group() if char in "&<>" else char


def smart_quote(src: str, pos: int, out: list[str]) -> int:
    """Apply the first of kramdown's smart-quote rules that matches at *pos* (a quote, or the
    character before one); add the HTML to *out* and return where the match ended."""
    for pattern, substs in _SQ_RULES:
        match = pattern.match(src, pos)
        if match is None:
            continue
        for subst in substs:
            if isinstance(subst, int):
                out.append(_escape(match.group(subst) or ""))
            else:
                name = _SQ_SUBST.get((subst, match.group(int(subst[-1]))), subst) \
                    if subst[-1].isdigit() else subst
                out.append(_QUOTES[name])
        return match.end()
    out.append(_escape(src[pos]))   # unreachable: the last rules match any quote
    return pos + 1


def _attribute(match: re.Match) -> str:
    value = next((g for g in match.groups()[1:] if g is not None), "")
    return _escape(value).replace('"', "&quot;")


def _span_html(src: str, pos: int, out: list[str], open_tags: list[str]) -> int:
    for pattern in (_COMMENT, _INSTRUCTION):
        match = pattern.match(src, pos)
        if match:
            out.append(match.group())
            return match.end()
    match = _TAG.match(src, pos)
    if match:
        name, attrs, closed = match.groups()
        shown = "".join(f' {a.group(1)}="{_attribute(a)}"' for a in _ATTR.finditer(attrs or ""))
        if name.lower() in _VOID:
            out.append(f"<{name}{shown} />")
        elif closed:
            out.append(f"<{name}{shown}></{name}>")
        else:
            out.append(f"<{name}{shown}>")
            open_tags.append(name)
        return match.end()
    match = _CLOSE.match(src, pos)
    if match and open_tags and open_tags[-1].lower() == match.group(1).lower():
        out.append(f"</{open_tags.pop()}>")
        return match.end()
    if match:   # a closing tag nobody opened: kramdown keeps it as text
        out.append(_escape(match.group()))
        return match.end()
    out.append("&lt;")
    return pos + 1


def _spans(src: str) -> str:
    out: list[str] = []
    open_tags: list[str] = []
    pos = 0
    while pos < len(src):
        found = _SPAN_START.search(src, pos)
        if found is None:
            out.append(_escape(src[pos:]))
            break
        out.append(_escape(src[pos:found.start()]))
        pos = found.start()
        if _SQ_START.match(src, pos):
            pos = smart_quote(src, pos, out)
        elif (entity := _ENTITY.match(src, pos)) is not None:
            out.append(_entity(entity))
            pos = entity.end()
        elif (typo := _TYPO.match(src, pos)) is not None:
            out.append(_TYPO_OUT[typo.group()])
            pos = typo.end()
        elif src[pos] == "<":
            pos = _span_html(src, pos, out, open_tags)
        else:
            out.append(_escape(src[pos]))
            pos += 1
    out.extend(f"</{name}>" for name in reversed(open_tags))   # kramdown auto-closes them
    return "".join(out)


def smartify(value: Any) -> str:
    """Return the text with typographic quotes, dashes and ellipses, as Jekyll's smartify."""
    text = "" if value is None else str(value)
    text = re.sub(r"\r\n?", "\n", text).rstrip("\n") + "\n"   # kramdown's adapt_source
    parts, pos = [], 0
    for block in _BLOCK_HTML.finditer(text):   # block HTML lines: kept as they are
        end = text.find("\n", block.start())
        parts.append(_spans(text[pos:block.start()]))
        parts.append(text[block.start():end + 1])
        pos = end + 1
    parts.append(_spans(text[pos:]))
    result = "".join(parts)
    return result[:-1] if result.endswith("\n") else result
