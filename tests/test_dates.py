"""Date formatting: RFC 822 (RSS), RFC 3339 (Atom, JSON Feed), HTTP-date; never the locale."""
from __future__ import annotations

import datetime as dt
import email.utils
import locale
import threading

import pytest

from feedsvc.dates import (
    UTC, format_http_date, format_rfc822, format_rfc3339, in_zone, load_zone, parse_http_date,
)

SHANGHAI = load_zone("Asia/Shanghai")
NEW_YORK = load_zone("America/New_York")
KOLKATA = load_zone("Asia/Kolkata")
INSTANT = dt.datetime(2022, 5, 11, 9, 16, 4, tzinfo=UTC)   # 17:16:04 in Shanghai


@pytest.mark.parametrize("value, zone, rfc822, rfc3339", [
    (INSTANT, SHANGHAI, "Wed, 11 May 2022 17:16:04 +0800", "2022-05-11T17:16:04+08:00"),
    (INSTANT, UTC, "Wed, 11 May 2022 09:16:04 +0000", "2022-05-11T09:16:04+00:00"),
    (INSTANT, KOLKATA, "Wed, 11 May 2022 14:46:04 +0530", "2022-05-11T14:46:04+05:30"),
    # New York in winter and summer: the offset follows the instant, not today's rules.
    (dt.datetime(2022, 1, 1, 3, 0, 0, tzinfo=UTC), NEW_YORK,
     "Fri, 31 Dec 2021 22:00:00 -0500", "2021-12-31T22:00:00-05:00"),
    (dt.datetime(2022, 7, 1, 3, 0, 0, tzinfo=UTC), NEW_YORK,
     "Thu, 30 Jun 2022 23:00:00 -0400", "2022-06-30T23:00:00-04:00"),
    # Microseconds are dropped: feeds are exact to the second.
    (INSTANT.replace(microsecond=999_999), SHANGHAI,
     "Wed, 11 May 2022 17:16:04 +0800", "2022-05-11T17:16:04+08:00"),
    # Local mean time (+08:05:43) has no whole-minute offset: the instant is given in UTC.
    (dt.datetime(1900, 1, 1, 0, 0, 0, tzinfo=UTC), SHANGHAI,
     "Mon, 01 Jan 1900 00:00:00 +0000", "1900-01-01T00:00:00+00:00"),
])
def test_feed_date_formats(value, zone, rfc822, rfc3339):
    assert format_rfc822(value, zone) == rfc822
    assert format_rfc3339(value, zone) == rfc3339
    parsed = email.utils.parsedate_to_datetime(rfc822)
    assert parsed == value.replace(microsecond=0)
    assert dt.datetime.fromisoformat(rfc3339) == value.replace(microsecond=0)


def test_every_weekday_and_month_is_english():
    days, months = set(), set()
    for offset in range(366):
        value = dt.datetime(2024, 1, 1, 12, tzinfo=UTC) + dt.timedelta(days=offset)
        text = format_rfc822(value, SHANGHAI)
        days.add(text[:3])
        months.add(text.split()[2])
        assert email.utils.parsedate_to_datetime(text) == value
    assert days == {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
    assert months == {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}


def test_in_zone_keeps_the_instant():
    local = in_zone(INSTANT.replace(microsecond=5), SHANGHAI)
    assert local == INSTANT and local.utcoffset() == dt.timedelta(hours=8)
    assert local.microsecond == 0


def test_http_date_is_always_gmt():
    assert format_http_date(dt.datetime(2022, 5, 11, 17, 16, 4, tzinfo=SHANGHAI)) == \
        "Wed, 11 May 2022 09:16:04 GMT"


def test_http_date_round_trips():
    text = format_http_date(INSTANT)
    parsed = parse_http_date(text)
    assert parsed == INSTANT and parsed.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("text", ["", "yesterday", "Wed, 99 May 2022 09:16:04 GMT"])
def test_bad_http_date_is_none(text):
    assert parse_http_date(text) is None


def _chinese_locale() -> str:
    for name in ("zh_CN.UTF-8", "zh_CN.utf8", "zh_TW.UTF-8", "zh_CN.GB18030"):
        try:
            previous = locale.setlocale(locale.LC_ALL)
            locale.setlocale(locale.LC_ALL, name)
        except locale.Error:
            continue
        locale.setlocale(locale.LC_ALL, previous)
        return name
    pytest.skip("no Chinese locale installed; on Debian/Ubuntu run: "
                "apt-get install -y locales && localedef -i zh_CN -f UTF-8 zh_CN.UTF-8")


def test_rfc822_stays_english_while_another_thread_sets_a_chinese_locale():
    # feedgen's formatRFC2822 swaps the process locale around strftime; under threads that
    # prints Chinese names ("三, 11 5月 2022") or leaves the process in the C locale.
    chinese = _chinese_locale()
    previous = locale.setlocale(locale.LC_ALL)
    stop = threading.Event()
    problems: list[str] = []
    values = [INSTANT + dt.timedelta(days=d, seconds=d) for d in range(200)]
    expected = [format_rfc822(v, SHANGHAI) for v in values]

    def switch_locale() -> None:
        while not stop.is_set():
            locale.setlocale(locale.LC_ALL, chinese)
            locale.setlocale(locale.LC_ALL, "C")

    def format_dates() -> None:
        for _ in range(50):
            for value, want in zip(values, expected):
                got = format_rfc822(value, SHANGHAI)
                if got != want or not got.isascii():
                    problems.append(got)

    switcher = threading.Thread(target=switch_locale)
    workers = [threading.Thread(target=format_dates) for _ in range(4)]
    try:
        switcher.start()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        stop.set()
        switcher.join()
        locale.setlocale(locale.LC_ALL, previous)
    assert problems == []
    assert expected[0] == "Wed, 11 May 2022 17:16:04 +0800"


def test_the_chinese_locale_really_changes_strftime():
    # Guards the test above: with this locale set, strftime would print Chinese names.
    chinese = _chinese_locale()
    previous = locale.setlocale(locale.LC_ALL)
    try:
        locale.setlocale(locale.LC_ALL, chinese)
        assert INSTANT.strftime("%a") != "Wed"
        assert format_rfc822(INSTANT, SHANGHAI).startswith("Wed, ")
    finally:
        locale.setlocale(locale.LC_ALL, previous)
