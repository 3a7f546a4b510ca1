"""A post's URL by Jekyll's permalink rules (``Jekyll::Document#url``, ``Jekyll::URL``)."""
from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from urllib.parse import quote

from .frontmatter import scalar_text
from .model import ParseOptions

PERMALINK_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_PLACEHOLDER = re.compile(r":([a-z_]+)")
_URL_SAFE = "/%:@!$&'()*+,;=~-._"


def slugify(text: str) -> str:
    """Return Jekyll's default slug: runs of non-word characters become '-', lower case."""
    return re.sub(r"[\W_]+", "-", text).strip("-").lower()


_PERMALINK_VALUES: dict[str, Callable[[dt.datetime, str, tuple[str, ...]], str]] = {
    "year": lambda d, t, c: f"{d.year:04d}",
    "short_year": lambda d, t, c: f"{d.year % 100:02d}",
    "month": lambda d, t, c: f"{d.month:02d}",
    "i_month": lambda d, t, c: str(d.month),
    "short_month": lambda d, t, c: _MONTHS[d.month - 1],
    "long_month": lambda d, t, c: _LONG_MONTHS[d.month - 1],
    "day": lambda d, t, c: f"{d.day:02d}",
    "i_day": lambda d, t, c: str(d.day),
    "y_day": lambda d, t, c: f"{d.timetuple().tm_yday:03d}",
    "week": lambda d, t, c: f"{d.isocalendar()[1]:02d}",
    "short_day": lambda d, t, c: _DAYS[d.weekday()],
    "long_day": lambda d, t, c: _LONG_DAYS[d.weekday()],
    "hour": lambda d, t, c: f"{d.hour:02d}",
    "minute": lambda d, t, c: f"{d.minute:02d}",
    "second": lambda d, t, c: f"{d.second:02d}",
    "title": lambda d, t, c: t,
    "slug": lambda d, t, c: slugify(t),
    "categories": lambda d, t, c: "/".join(dict.fromkeys(name.lower() for name in c)),
    "output_ext": lambda d, t, c: ".html",
}


@functools.lru_cache(maxsize=64)
def _permalink_parts(pattern: str) -> tuple[str, ...]:
    """Split a permalink pattern into text and ':placeholder' parts (odd indexes)."""
    pattern = PERMALINK_STYLES.get(pattern, pattern)
    parts = _PLACEHOLDER.split(pattern)
    # An unknown placeholder stays as written, like Jekyll leaves it.
    return tuple(part if i % 2 == 0 or part in _PERMALINK_VALUES else f":{part}"
                 for i, part in enumerate(parts))


def post_url(front: Mapping, options: ParseOptions, slug: str, date: dt.datetime,
             categories: tuple[str, ...], ext: str) -> str:
    """Return the post's URL path from its permalink, or the site's pattern (Jekyll's rules)."""
    fill = _permalink_filler(scalar_text(front.get("permalink")).strip() or options.permalink)
    title = scalar_text(front.get("slug")).strip() or slug
    url = "/" + fill(date.astimezone(options.zone), title, categories)
    if "//" in url:
        url = _SLASHES.sub("/", url)
    return quote(url, safe=_URL_SAFE)


@functools.lru_cache(maxsize=64)
def _permalink_filler(pattern: str) -> Callable[[dt.datetime, str, tuple[str, ...]], str]:
    """Return a function filling *pattern*'s placeholders (compiled once per pattern)."""
    pieces = [(part, None) if i % 2 == 0 or part not in _PERMALINK_VALUES
              else ("", _PERMALINK_VALUES[part])
              for i, part in enumerate(_permalink_parts(pattern))]

    def fill(local: dt.datetime, title: str, categories: tuple[str, ...]) -> str:
        return "".join(text if value is None else value(local, title, categories)
                       for text, value in pieces)
    return fill


_SLASHES = re.compile(r"/{2,}")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LONG_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LONG_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
