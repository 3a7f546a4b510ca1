"""Feed titles as jekyll-feed prints them: ``smartify | strip_html | normalize_whitespace``.

kramdown's SmartyPants rules (smart quotes, typographic symbols) as ported in
feedsvc/feeds/typography.py; how a title reaches every format is tests/feeds/test_entries.py.
"""
from __future__ import annotations

import pytest

from feedsvc.feeds.typography import feed_title, normalize_whitespace, strip_html


@pytest.mark.parametrize("title, shown", [
    ('Tom & Jerry <b>"quoted"</b> \'single\'', "Tom & Jerry \u201cquoted\u201d \u2018single\u2019"),
    ("It's the '90s -- ok... --- yes", "It\u2019s the \u201990s \u2013 ok\u2026 \u2014 yes"),
    ('He said "hi"\n"there"', "He said \u201chi\u201d \u201cthere\u201d"),   # after a newline
    ("<<x>>", "\u00abx\u00bb"),
    ("<script>alert(1)</script>1 < 2", "1 < 2"),
    ("a &amp; b &lt;c&gt;", "a & b <c>"),
    ("  a \n\t b  ", "a b"),
])
def test_feed_title_is_smartified_stripped_and_normalised(title, shown):
    assert feed_title(title) == shown


def test_strip_html_drops_tags_comments_and_style_and_normalize_whitespace_collapses():
    assert strip_html("<p>a</p><!-- c --><style>x</style>b") == "ab"
    assert normalize_whitespace(" a\n\t b ") == "a b"
