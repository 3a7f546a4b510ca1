"""Content tests: Markdown/HTML rendering, sanitising, absolute URLs, XML-safe text, summaries."""
from __future__ import annotations

import pytest
from lxml import etree

from feedsvc.feeds.content import (
    absolute_srcset, absolute_url, clean_text, excerpt_source, render_body, render_content,
    sanitize, shorten, summary_text, teaser,
)

BASE = "https://news.example.com/dongfangwang/2022/05/11/post.html"


# --- XML-safe text ---------------------------------------------------------------------------

def test_clean_text_removes_every_character_xml_forbids():
    forbidden = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r")
    text = f"a{forbidden}b\ud800c\ufffe\uffffd\x7f\x85\x9fe"
    assert clean_text(text) == "abcde"
    element = etree.Element("t")
    element.text = clean_text(text)   # lxml raises ValueError on forbidden characters
    assert etree.tostring(element) == b"<t>abcde</t>"


def test_clean_text_keeps_what_xml_allows():
    text = "tab\tnl\ncr\r 中文 ｜ emoji \U0001f600 nbsp\u00a0 \ue000"
    assert clean_text(text) == text


# --- URLs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("pic.png", "https://news.example.com/dongfangwang/2022/05/11/pic.png"),
    ("../x.html", "https://news.example.com/dongfangwang/2022/05/x.html"),
    ("/category/a.html", "https://news.example.com/category/a.html"),
    ("//finews.example.org/category/a.html", "https://finews.example.org/category/a.html"),
    ("#note", BASE + "#note"),
    ("http://other.example.org/a?b=1&c=2", "http://other.example.org/a?b=1&c=2"),
    ("mailto:desk@example.com", "mailto:desk@example.com"),
    ("javascript:alert(1)", None),
    (" JavaScript:alert(1)", None),
    ("java\tscript:alert(1)", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("vbscript:msgbox", None),
])
def test_absolute_url(url, expected):
    assert absolute_url(url, BASE) == expected


def test_protocol_relative_urls_take_the_site_scheme():
    assert absolute_url("//cdn.example.com/x.png", "http://news.example.com/a.html") == \
        "http://cdn.example.com/x.png"


def test_srcset_candidates_become_absolute_and_unsafe_ones_are_dropped():
    assert absolute_srcset("a.png 1x, //cdn.example.com/b.png 2x, javascript:x 3x", BASE) == (
        "https://news.example.com/dongfangwang/2022/05/11/a.png 1x, "
        "https://cdn.example.com/b.png 2x")
    assert absolute_srcset("javascript:x", BASE) is None


# --- rendering -------------------------------------------------------------------------------

def test_markdown_body_in_the_news_site_shape():
    body = ("<p>第一段。</p><p class=\"em_media\">（文章来源：示例网）</p>\n\n"
            "<http://source.example.org/a?b=1&c=2>\n\n"
            "[返回新闻](//news.example.com/category/x.html)｜[返回首页](//news.example.com/)\n")
    html = render_content(body, True, BASE)
    assert html == (
        "<p>第一段。</p><p>（文章来源：示例网）</p>\n"
        '<p><a href="http://source.example.org/a?b=1&amp;c=2">'
        "http://source.example.org/a?b=1&amp;c=2</a></p>\n"
        '<p><a href="https://news.example.com/category/x.html">返回新闻</a>｜'
        '<a href="https://news.example.com/">返回首页</a></p>')


def test_html_body_is_taken_as_it_is_not_as_markdown():
    assert render_body("*not emphasis*\n\n    not code", markdown=False) == \
        "*not emphasis*\n\n    not code"
    assert render_body("*emphasis*", markdown=True) == "<p><em>emphasis</em></p>\n"


@pytest.mark.parametrize("dirty, clean", [
    ("<script>alert(1)</script><p>a</p>", "<p>a</p>"),
    ("<style>p{color:red}</style><p>a</p>", "<p>a</p>"),
    ("<iframe src='https://evil.example'>fallback</iframe><p>a</p>", "<p>a</p>"),
    ("<object data='x'><embed src='y'></object><p>a</p>", "<p>a</p>"),
    ("<p onclick='x()' style='color:red' class='c' id='i'>a</p>", "<p>a</p>"),
    ("<img src='x.png' onerror='alert(1)'>",
     '<img src="https://news.example.com/dongfangwang/2022/05/11/x.png">'),
    ("<a href='javascript:alert(1)'>a</a>", "<a>a</a>"),
    ("<a href='x' target='_blank'>a</a>",
     '<a href="https://news.example.com/dongfangwang/2022/05/11/x">a</a>'),
    ("<form action='x'><input name='q'></form>b", "b"),
    ("<!-- comment --><p>a</p>", "<p>a</p>"),
    ("<p>]]></p>", "<p>]]&gt;</p>"),
    ("<p>a\x00b\x1bc</p>", "<p>abc</p>"),
    ("<pre><code class='language-python'>x</code></pre>",
     '<pre><code class="language-python">x</code></pre>'),
    ("<table><tr><td colspan='2'>a</td></tr></table>",
     '<table><tbody><tr><td colspan="2">a</td></tr></tbody></table>'),
    ("<blockquote cite='/src'>q</blockquote>",
     '<blockquote cite="https://news.example.com/src">q</blockquote>'),
])
def test_sanitize_allowlist(dirty, clean):
    assert sanitize(dirty, BASE) == clean


def test_media_urls_become_absolute():
    html = sanitize('<video src="v.mp4" poster="//cdn.example.com/p.jpg" controls>'
                    '<source src="/v.webm" type="video/webm"></video>', BASE)
    assert html == ('<video src="https://news.example.com/dongfangwang/2022/05/11/v.mp4" '
                    'poster="https://cdn.example.com/p.jpg" controls="">'
                    '<source src="https://news.example.com/v.webm" type="video/webm"></video>')


# --- summaries -------------------------------------------------------------------------------

def test_short_text_is_not_shortened():
    assert shorten("短文本。", 10) == "短文本。"


def test_chinese_is_cut_after_the_last_sentence_end_in_reach():
    text = "上海疫情发生以来，各协会积极发挥作用。通过开设讲座提高效率！了解企业复工复产需求，主动作为"
    assert shorten(text, 36) == "上海疫情发生以来，各协会积极发挥作用。通过开设讲座提高效率！…"


def test_chinese_without_sentence_end_is_cut_at_a_clause_mark():
    text = "市工经联、市经团联及各行业协会、企业等共举办线上讲座报告等活动六十余场收到良好效果"
    assert shorten(text, 20) == "市工经联、市经团联及各行业协会…"
    assert len(shorten(text, 20)) <= 20


def test_latin_text_is_cut_at_a_word_boundary():
    text = "The quick brown fox jumps over the lazy dog and keeps running"
    assert shorten(text, 30) == "The quick brown fox jumps…"


def test_text_without_any_boundary_is_cut_at_the_limit():
    assert shorten("一" * 50, 10) == "一" * 9 + "…"


def test_teaser_is_the_summary_shortened_or_whole_with_no_limit():
    summary = "第一句话。" * 40
    assert len(teaser(summary, 140)) <= 140 and teaser(summary, 140).endswith("第一句话…")
    assert teaser(summary, 0) == summary


# --- jekyll-feed's summary: the excerpt --------------------------------------------------------

@pytest.mark.parametrize("body, separator, expected", [
    ("One.\n\nTwo.\n", "\n\n", "One."),
    ("One.\r\n\r\nTwo.\r\n", "\n\n", "One.\r\n\r\nTwo.\r\n"),   # CRLF: no "\n\n"
    ("No separator at all.\n", "\n\n", "No separator at all.\n"),
    ("a\n<!--more-->\nb", "<!--more-->", "a\n"),
    # Excerpt#extract_excerpt appends the reference definitions the head uses
    ("See [x][r].\n\nMore.\n\n[r]: https://e.org/\n[s]: https://f.org/\n", "\n\n",
     "See [x][r].\n\n[r]: https://e.org/"),
])
def test_excerpt_source_is_the_text_before_the_separator(body, separator, expected):
    assert excerpt_source(body, separator) == expected


def test_summary_text_is_strip_html_and_normalize_whitespace_as_a_reader_sees_it():
    html = "<p>First HTML paragraph.</p><p><strong>Bold</strong> second &amp; more.</p>"
    assert summary_text(html) == "First HTML paragraph.Bold second & more."   # an .html post
    assert summary_text(html, markdown=True) == "First HTML paragraph. Bold second & more."
    assert summary_text("<script>x()</script><!-- c -->A\x01  b") == "A b"


def test_markdown_has_gfm_tables_strikethrough_footnotes_and_smart_quotes_as_kramdown():
    html = render_body('| a |\n|---|\n| 1 |\n\n~~x~~ "q" -- y[^1]\n\n[^1]: n\n', True)
    assert "<table>" in html and "<del>x</del>" in html and "\u201cq\u201d \u2013 y" in html
    assert 'class="footnotes"' in html
    assert "www.example.com" in render_body("www.example.com\n", True)   # no autolink
    assert render_body("Lead.\n{: .lead}\n", True) == "<p>Lead.</p>\n"   # kramdown IAL dropped
