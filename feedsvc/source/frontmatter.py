"""Decode a post file's text and split off its YAML front matter.

PyYAML's safe loader reads front matter (libyaml's when available); most front matter is
simple enough for a checked fast path that gives exactly what PyYAML would.
"""
from __future__ import annotations

import functools
import re

import yaml

from ..errors import ContentError

try:  # libyaml's loader is about 9x faster than the pure-Python one
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

# Jekyll's Document::YAML_FRONT_MATTER_REGEXP (jekyll/document.rb):
#   %r!\A(---\s*\n.*?\n?)^((---|\.\.\.)\s*$\n?)!m
# a "---" line, YAML, then a "---" or "..." line; a CR before each line end is allowed.
FRONT_MATTER = re.compile(r"\A---[ \t\r]*\n(.*?\n)??(?:---|\.\.\.)[ \t\r]*(?:\n|\Z)", re.S)
# The closing line's `\s*$\n?` also takes every blank line after it: the content (and so
# the excerpt) starts at the first line with text.
_BLANK_LINES = re.compile(r"[ \t\r\n\f\v]*\n")


def read_text(data: bytes, rel: str) -> str:
    """Decode a post's bytes: UTF-8 (BOM or not), else GB18030; a lone CR becomes LF.

    CRLF is kept, as Jekyll keeps it: the default excerpt separator ``"\n\n"`` is not in
    a CRLF file, whose excerpt is then the whole post (``Excerpt#extract_excerpt``).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ContentError(rel, "not text: neither UTF-8 nor GB18030") from None
    if "\r" in text and "\r\n" not in text:   # old Mac line ends: no line would end
        text = text.replace("\r", "\n")
    return text


def scalar_text(value: object) -> str:
    """Return a front-matter scalar as text: "" for none, a list or a mapping."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)


def split_front_matter(text: str, rel: str) -> tuple[dict, str] | None:
    """Return (front matter, body), or ``None`` if the text has no front matter."""
    match = FRONT_MATTER.match(text)
    if match is None:
        if re.match(r"---[ \t\r]*\n", text):
            # Starts like front matter but never closes: a half-written file, not prose.
            raise ContentError(rel, "front matter has no closing '---' line")
        return None
    try:
        source = match.group(1) or ""
        data = parse_simple_yaml(source)
        if data is None:
            data = yaml.load(source, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ContentError(rel, _yaml_reason(exc)) from None
    except RecursionError:
        raise ContentError(rel, "front matter nests too deeply") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp with month 13
        raise ContentError(rel, f"invalid value in front matter: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ContentError(rel, "front matter is not a mapping of keys to values")
    body = text[match.end():]
    if body[:1] in _WHITE:
        blank = _BLANK_LINES.match(body)
        if blank is not None:
            body = body[blank.end():]
    return data, body


_WHITE = frozenset(" \t\r\n\f\v")


# --- a fast path for the front matter most posts have -------------------------------------
# Most front matter is one "key: scalar" per line. Building PyYAML's node graph for it costs
# ~100 µs a post even with libyaml; this path reads such lines directly and hands anything
# else (lists, blocks, escapes, anchors, non-string scalars, odd characters) to PyYAML, so the
# result is always what PyYAML would give (tests/source/test_frontmatter.py checks both on
# every shape).
_SIMPLE_LINE = re.compile(r"([A-Za-z_][\w-]*):(?:[ \t]+(.*?))?[ \t]*")
# PyYAML's Reader.NON_PRINTABLE: such a character makes PyYAML raise; let it.
_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD"
                            "\U00010000-\U0010ffff]")
# YAML's other line breaks, a BOM, and tabs (whose rules in YAML are subtle): PyYAML decides.
_YAML_BREAKS = re.compile("[\t\r\x85\u2028\u2029\ufeff]")
_STR_TAG = "tag:yaml.org,2002:str"
_resolver = yaml.resolver.Resolver()
_NOT_SIMPLE = object()
# The first characters for which PyYAML's resolver may give a plain scalar another type than
# str (digits, signs, ".", "~", "n", "t", "y", "o", "<", "="...): any other first character
# makes it a string without running the resolver's regular expressions.
_RESOLVED_FIRST = frozenset(k for k in _resolver.yaml_implicit_resolvers if k)
assert None not in _resolver.yaml_implicit_resolvers and not _resolver.yaml_path_resolvers


def _plain_is_str(raw: str) -> bool:
    """Return whether PyYAML would read the plain scalar *raw* as a string."""
    if raw[0] not in _RESOLVED_FIRST:
        return True
    return _resolver.resolve(yaml.ScalarNode, raw, (True, False)) == _STR_TAG


@functools.lru_cache(maxsize=256)
def _key_is_str(key: str) -> bool:
    return _plain_is_str(key)


def parse_simple_yaml(source: str) -> dict | None:
    """Return the mapping of simple one-line ``key: value`` YAML, or None if not that simple."""
    if _NON_PRINTABLE.search(source) or _YAML_BREAKS.search(source):
        return None
    data: dict = {}
    for line in source.split("\n"):
        if not line.strip():
            continue
        match = _SIMPLE_LINE.fullmatch(line)
        if match is None:
            return None
        key, raw = match.groups()
        if key in data or not _key_is_str(key):
            return None
        value = _simple_scalar(raw)
        if value is _NOT_SIMPLE:
            return None
        data[key] = value
    return data


def _simple_scalar(raw: str | None) -> object:
    if not raw:
        return None
    first = raw[0]
    if first == '"':
        inner = raw[1:-1]
        ok = len(raw) > 1 and raw[-1] == '"' and "\\" not in inner and '"' not in inner
        return inner if ok else _NOT_SIMPLE
    if first == "'":
        inner = raw[1:-1]
        ok = len(raw) > 1 and raw[-1] == "'" and "'" not in inner.replace("''", "")
        return inner.replace("''", "'") if ok else _NOT_SIMPLE
    if first == "[" and raw[-1] == "]":
        return _simple_list(raw[1:-1])
    if (first in "[]{}&*!|>%@`#,?:-'\"" or ": " in raw or " #" in raw or "\t#" in raw
            or raw.endswith(":")):
        return _NOT_SIMPLE
    if not _plain_is_str(raw):
        return _NOT_SIMPLE
    return raw


def _simple_list(inner: str) -> object:
    """Return the items of a one-line flow sequence of plain scalars, ``[a, b]``."""
    if not inner.strip():
        return []
    if any(char in inner for char in "[]{}\"'"):
        return _NOT_SIMPLE
    items = [_simple_scalar(item.strip()) for item in inner.split(",")]
    if any(item is _NOT_SIMPLE or item is None for item in items):
        return _NOT_SIMPLE
    return items


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return f"invalid YAML front matter: {problem}"
    # +2: line 1 of the file is the opening "---"; marks count from 0.
    return f"invalid YAML front matter at line {mark.line + 2}: {problem}"

