"""A post's URL by Jekyll's permalink rules (``Jekyll::Document#url``, ``Jekyll::URL``).

Paths cited are under Jekyll 4.3.1's ``lib/jekyll/``: ``url.rb`` (``URL``),
``drops/url_drop.rb`` (``Drops::UrlDrop``, the placeholder values), ``utils.rb``
(``Utils.slugify``) and ``configuration.rb`` (``style_to_permalink``).
"""
from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import quote

# Configuration#style_to_permalink: the site's `permalink` may name a style. A post's own
# `permalink:` never does (URL#generated_permalink uses it as written: `pretty` is "/pretty").
PERMALINK_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_PLACEHOLDER = re.compile(r":([a-z_]+)")   # URL#generate_url_from_drop
_PLAIN_PATH = re.compile(r"[a-zA-Z0-9./-]+\Z")   # URL.escape_path leaves these as they are
# What Addressable::URI.encode leaves in a path (RFC 3986 pchar and "/"); "?" starts its
# query, kept too. Everything else, "%" included, is percent-encoded as UTF-8.
_PATH_SAFE = "/:@!$&'()*+,;=~-._?"
_SLUG_PLAIN = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\Z")
_PRETTY_KEEP = frozenset("._~!$&'()+,;=@")


class UrlParts(NamedTuple):
    """What a post's URL is made of (the values ``Drops::UrlDrop`` reads of a document)."""

    date: dt.datetime                 # in the site's zone
    slug: str                         # data["slug"]: front matter, else the file name's
    basename: str                     # the file name without its extension
    categories: tuple[str, ...]
    output_ext: str                   # ".html", or the file's own for unconverted files
    rel: str                          # the file, relative to the site root
    ext: str                          # the file's extension


def slugify(text: str, mode: str = "default", cased: bool = False) -> str:
    """Return ``Utils.slugify(text, mode:, cased:)`` for the modes ``default`` and ``pretty``.

    Every run of characters other than marks, letters and decimal digits (``\\p{M}\\p{L}
    \\p{Nd}``; mode ``pretty`` also keeps ``._~!$&'()+,;=@``) becomes one ``-``; a leading
    and a trailing ``-`` are dropped; lower case unless *cased*.
    """
    if _SLUG_PLAIN.match(text):   # most slugs: nothing to replace
        return text if cased else text.lower()
    keep = _PRETTY_KEEP if mode == "pretty" else frozenset()
    slug = dash_runs(text, lambda char: char in keep or (char.isascii() and char.isalnum())
                     or (not char.isascii() and _word_category(char)))
    return slug if cased else slug.lower()


def dash_runs(text: str, keeps: Callable[[str], bool]) -> str:
    """Return *text* with every run of characters *keeps* refuses as one ``-``, and one
    leading and one trailing ``-`` dropped (the gsub and the strip of ``Utils.slugify``)."""
    out: list[str] = []
    run = False
    for char in text:
        if keeps(char):
            out.append(char)
            run = False
        elif not run:
            out.append("-")
            run = True
    slug = "".join(out)
    slug = slug[1:] if slug.startswith("-") else slug
    return slug[:-1] if slug.endswith("-") else slug


def _word_category(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LM" or category == "Nd"


def escape_path(value: str) -> str:
    """Return ``URL.escape_path(value)``: as it is when plain, else percent-encoded with
    Addressable's rules, the first ``#`` as ``%23``."""
    if not value or _PLAIN_PATH.match(value):
        return value
    return quote(value, safe=_PATH_SAFE)


def sanitize_url(url: str) -> str:
    """Return ``URL#sanitize_url``: ``..`` becomes ``/``, ``./`` goes, slashes squeezed."""
    url = ("/" + url).replace("..", "/").replace("./", "")
    return _SLASHES.sub("/", url) if "//" in url else url


# Drops::UrlDrop's methods: the placeholders a permalink may use.
_VALUES: dict[str, Callable[[UrlParts], str]] = {
    "year": lambda p: f"{p.date.year:04d}",
    "month": lambda p: f"{p.date.month:02d}",
    "day": lambda p: f"{p.date.day:02d}",
    "hour": lambda p: f"{p.date.hour:02d}",
    "minute": lambda p: f"{p.date.minute:02d}",
    "second": lambda p: f"{p.date.second:02d}",
    "i_day": lambda p: str(p.date.day),
    "i_month": lambda p: str(p.date.month),
    "short_year": lambda p: f"{p.date.year % 100:02d}",
    "y_day": lambda p: f"{p.date.timetuple().tm_yday:03d}",
    "short_month": lambda p: _MONTHS[p.date.month - 1],
    "long_month": lambda p: _LONG_MONTHS[p.date.month - 1],
    "w_year": lambda p: str(p.date.isocalendar()[0]),
    "week": lambda p: f"{p.date.isocalendar()[1]:02d}",
    "w_day": lambda p: str(p.date.isoweekday()),
    "short_day": lambda p: _DAYS[p.date.weekday()],
    "long_day": lambda p: _LONG_DAYS[p.date.weekday()],
    # UrlDrop#title: slugify(data["slug"], mode: "pretty", cased: true)
    "title": lambda p: slugify(p.slug, "pretty", cased=True),
    "slug": lambda p: slugify(p.slug),
    "name": lambda p: slugify(p.basename),
    # UrlDrop#categories: each to_s.downcase, a Set (no repeats), joined by "/"
    "categories": lambda p: "/".join(dict.fromkeys(name.lower() for name in p.categories)),
    "slugified_categories": lambda p: "/".join(dict.fromkeys(slugify(n) for n in p.categories)),
    # Document#cleaned_relative_path: no extension, the first "_posts" out, no final dots
    "path": lambda p: p.rel[:-len(p.ext)].replace("_posts", "", 1).rstrip("."),
    "collection": lambda p: "posts",
    "output_ext": lambda p: p.output_ext,
}


def site_pattern(permalink: str) -> str:
    """Return the posts' URL template for the site's ``permalink`` (a style or a pattern)."""
    return PERMALINK_STYLES.get(permalink, permalink)


def post_url(pattern: str, parts: UrlParts) -> str:
    """Return the URL path *pattern* gives the post *parts* describe (``URL#to_s``).

    Raise ``ValueError`` for a placeholder Jekyll does not know (it stops the build).
    """
    return sanitize_url(_filler(pattern)(parts))


@functools.lru_cache(maxsize=256)
def _filler(pattern: str) -> Callable[[UrlParts], str]:
    """Return a function filling *pattern*'s placeholders, compiled once per pattern.

    The function is generated as one expression (``"".join((text, value(p), ...))``): a
    call per piece cost a third of reading a post at 100k posts.
    """
    parts: list[str] = []
    start = 0
    for match in _PLACEHOLDER.finditer(pattern):
        if match.start() > start:
            parts.append(repr(pattern[start:match.start()]))
        name = match.group(1)
        # A name ending in "_" falls back to the name without it (":month_:day").
        suffix = ""
        if name not in _VALUES and name.endswith("_") and name[:-1] in _VALUES:
            name, suffix = name[:-1], "_"
        if name not in _VALUES:
            shown = f":{name} or :{name[:-1]}" if name.endswith("_") else f":{name}"
            raise ValueError(f"permalink {pattern!r}: Jekyll has no placeholder {shown} "
                             "(it would stop the build)")
        value = _INLINE.get(name) or f"V[{name!r}](p)"
        # URL.escape_path on each value; dates and day names never need it.
        parts.append(value if name in _INLINE else f"E({value})")
        if suffix:
            parts.append(repr(suffix))
        start = match.end()
    if pattern[start:]:
        parts.append(repr(pattern[start:]))
    source = f"lambda p: ''.join(({', '.join(parts)},))" if parts else "lambda p: ''"
    return eval(source, {"V": _VALUES, "E": escape_path, "M": _MONTHS,   # noqa: S307
                         "LM": _LONG_MONTHS, "D": _DAYS, "LD": _LONG_DAYS})


# Placeholders whose values are written inline (escape_path leaves them as they are).
_INLINE = {
    "year": "f'{p.date.year:04d}'", "month": "f'{p.date.month:02d}'",
    "day": "f'{p.date.day:02d}'", "hour": "f'{p.date.hour:02d}'",
    "minute": "f'{p.date.minute:02d}'", "second": "f'{p.date.second:02d}'",
    "i_day": "str(p.date.day)", "i_month": "str(p.date.month)",
    "short_year": "f'{p.date.year % 100:02d}'", "collection": "'posts'",
}


_SLASHES = re.compile(r"/{2,}")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LONG_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LONG_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
