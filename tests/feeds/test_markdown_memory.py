"""Markdown rendering gives its memory back (cmarkgfm's markdown_to_html leaks; content.py).

Archive pages render posts on request, a whole history's worth for one walk of an archive,
so a leak per rendered post adds up: 800 MB for one walk of 100k posts before the fix.
"""
from __future__ import annotations

import gc
import re
import sys
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from feedsvc.feeds.content import markdown_to_html

BODIES = ["", "plain", "# 标题\n\n正文 *强调* <b>raw</b>\n\n<http://example.org/a>\n",
          "[x](//host/path)｜[y](/z)\n\n```python\nprint(1)\n```\n", "\u00e9" * 5000]


@pytest.mark.parametrize("body", BODIES)
def test_markdown_renders_exactly_as_cmarkgfm_does(body):
    assert markdown_to_html(body) == cmarkgfm.markdown_to_html(
        body, options=Options.CMARK_OPT_UNSAFE)


def resident_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_rendering_markdown_gives_its_memory_back():
    body = "<p>" + "新闻正文，" * 1600 + "</p>\n\n<http://example.org/a>\n"   # ~8 KB of HTML
    markdown_to_html(body)
    gc.collect()
    before = resident_mb()
    for _ in range(4000):
        markdown_to_html(body)
    gc.collect()
    # Leaking the result would keep about 4000 x 32 KB = 125 MB.
    assert resident_mb() - before < 20
