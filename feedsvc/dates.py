"""Parse front-matter dates into aware datetimes and format them for feeds and HTTP.

Every datetime leaving this module is timezone-aware. Formatting never touches the
process locale: feedgen's RFC 822 formatter calls ``locale.setlocale`` without a lock,
which is not thread-safe (two threads can leave the process in the C locale or print
Chinese weekday names), so RFC 822 dates are spelled out here by hand.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

from dateutil import parser as dateutil_parser

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
UTC = dt.timezone.utc
_SPACED_OFFSET = re.compile(r"(?<=\d)\s+([+-]\d\d:?\d\d)$")
_DEFAULT_A = dt.datetime(2000, 1, 1)
_DEFAULT_B = dt.datetime(2001, 2, 2)

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """Return the current instant, aware, in UTC."""
    return dt.datetime.now(UTC)


def make_aware(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """Return *value* with *zone* attached if it has no zone; drop microseconds."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=zone)
    return value.replace(microsecond=0)


def parse_date(value: object, zone: dt.tzinfo) -> dt.datetime:
    """Return the aware instant a front-matter ``date`` value names, as Jekyll reads it.

    Jekyll's ``Document#merge_date!`` runs ``Time.parse(value.to_s).localtime`` on what Psych
    loaded (jekyll/utils.rb ``Utils.parse_date``):

    - a ``datetime`` is a YAML timestamp. Without a zone (an *unquoted*
      ``2022-05-12 23:30:00``) Psych builds it with ``Time.utc`` (psych/scalar_scanner.rb
      ``ScalarScanner#parse_time``), so it is that instant in **UTC**;
    - a ``date`` (``2022-05-12``) prints as ``"2022-05-12"``: midnight in the site's *zone*;
    - a string (quoted, or not a YAML timestamp) such as ``"2022-05-12 23:30:00"``,
      ``2022-05-11 17:16:04 +0800`` or ISO 8601: its own offset, else the site's *zone*.

    Raise ``ValueError`` with a readable message when the value names no date.
    """
    if isinstance(value, dt.datetime):
        return make_aware(value, UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=zone)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a date")
    text = value.strip()
    # Jekyll's own form "2022-05-11 17:16:04 +0800" is ISO 8601 but for the space before
    # the offset; joining them lets the C parser take it (400x faster than dateutil).
    try:
        parsed = dt.datetime.fromisoformat(_SPACED_OFFSET.sub(r"\1", text))
    except ValueError:
        parsed = _parse_loose(text)
    return make_aware(parsed, zone)


def _parse_loose(text: str) -> dt.datetime:
    """Parse the forms Ruby's ``Time.parse`` takes, refusing any with a missing part.

    dateutil fills a missing year, month or day from its *default*; parsing with two
    different defaults shows whether it had to, so ``"1"`` is an error, not today's date.
    """
    try:
        first = dateutil_parser.parse(text, default=_DEFAULT_A)
        second = dateutil_parser.parse(text, default=_DEFAULT_B)
    except (ValueError, OverflowError) as exc:
        detail = str(exc).split(":")[0].lower()  # dateutil appends the text itself
        raise ValueError(f"{text!r} is not a date ({detail})") from None
    if first.date() != second.date():
        raise ValueError(f"{text!r} lacks a year, month or day")
    return first


def load_zone(name: str) -> ZoneInfo:
    """Return the IANA zone *name*; raise ``ValueError`` if there is none such."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None


def in_zone(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """Return *value* in *zone*, to the second.

    RFC 822 and RFC 3339 offsets are whole minutes, but a zone's local mean time (e.g.
    Asia/Shanghai before 1901, +08:05:43) is not: such instants are given in UTC instead,
    which keeps the instant exact.
    """
    local = value.astimezone(zone).replace(microsecond=0)
    offset = local.utcoffset() or dt.timedelta(0)
    if offset.total_seconds() % 60:
        return local.astimezone(UTC)
    return local


def format_rfc822(value: dt.datetime, zone: dt.tzinfo) -> str:
    """Return *value* in *zone* as RFC 822 (RSS 2.0), e.g. ``Wed, 11 May 2022 17:16:04 +0800``."""
    local = in_zone(value, zone)
    offset = local.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return (f"{_DAYS[local.weekday()]}, {local.day:02d} {_MONTHS[local.month - 1]} "
            f"{local.year:04d} {local.hour:02d}:{local.minute:02d}:{local.second:02d} "
            f"{sign}{hours:02d}{mins:02d}")


def format_rfc3339(value: dt.datetime, zone: dt.tzinfo) -> str:
    """Return *value* in *zone* as RFC 3339 (Atom, JSON Feed), e.g. ``2022-05-11T17:16:04+08:00``."""
    return in_zone(value, zone).isoformat()


def format_http_date(value: dt.datetime) -> str:
    """Return *value* as an HTTP-date (RFC 9110 §5.6.7), always GMT."""
    return format_rfc822(value, UTC)[:-5] + "GMT"


def parse_http_date(text: str) -> dt.datetime | None:
    """Return the instant of an HTTP-date header, or ``None`` if it is not one."""
    from email.utils import parsedate_to_datetime
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    return make_aware(parsed, UTC)
