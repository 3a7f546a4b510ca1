"""Turn a post's body into the HTML and the plain-text summary that feeds carry.

Markdown is rendered with cmark-gfm's CommonMark renderer through cmarkgfm (raw HTML
allowed, as Jekyll's kramdown allows it; about 10x faster than markdown-it-py, with the same
output on the sample and generated sites); an ``.html`` post is taken as it is. Either way the HTML is then
sanitised with nh3 against an allowlist, every URL in it is made absolute against the
post's own URL, and characters XML 1.0 forbids are removed. See docs/feeds.md.
"""
from __future__ import annotations

import ctypes
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import cmarkgfm
import nh3
from cmarkgfm import _cmark
from cmarkgfm.cmark import Options

# XML 1.0 §2.2 Char, minus the C1 controls (U+007F-U+009F) that §2.2 discourages: lxml
# refuses the forbidden ones outright, so one bad post would otherwise break a whole feed.
_NOT_XML = re.compile("[^\t\n\r\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACE = re.compile(r"\s+")

TAGS = frozenset({
    "a", "abbr", "audio", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code",
    "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption",
    "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "picture", "pre", "q", "rp", "rt", "ruby", "s", "samp", "small", "source",
    "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "time", "tr", "u", "ul", "var", "video", "wbr",
})
# Removed together with everything inside them (plain disallowed tags keep their text).
DROPPED_WITH_CONTENT = frozenset({
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet",
    "noscript", "template", "textarea", "select", "title",
})
ATTRIBUTES = {
    "*": {"title", "lang", "dir"},
    "a": {"href", "hreflang"},
    "abbr": {"title"},
    "audio": {"src", "controls", "loop", "preload"},
    "blockquote": {"cite"},
    "code": {"class"},   # "language-python" hints let readers highlight code
    "pre": {"class"},
    "col": {"span"},
    "colgroup": {"span"},
    "del": {"cite", "datetime"},
    "img": {"src", "srcset", "sizes", "alt", "width", "height"},
    "ins": {"cite", "datetime"},
    "ol": {"start", "reversed", "type"},
    "q": {"cite"},
    "source": {"src", "srcset", "sizes", "type", "media"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope"},
    "time": {"datetime"},
    "video": {"src", "poster", "controls", "loop", "muted", "preload", "width", "height"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
_URL_ATTRIBUTES = frozenset({"href", "src", "poster", "cite"})

_MARKDOWN_OPTIONS = Options.CMARK_OPT_UNSAFE   # "unsafe": raw HTML passes (nh3 cleans it)


def _libc_free() -> ctypes._CFuncPtr | None:
    try:
        free = ctypes.CDLL(None).free   # the process's malloc, the one cmark allocates with
    except (OSError, AttributeError, TypeError):   # no C library to open (not POSIX)
        return None
    free.argtypes, free.restype = [ctypes.c_void_p], None
    return free


_FREE = _libc_free()


def clean_text(text: str) -> str:
    """Return *text* without the characters XML 1.0 forbids (and C1 controls)."""
    return _NOT_XML.sub("", text)


def collapse(text: str) -> str:
    """Return *text* with every run of white space made one space, ends trimmed."""
    return _SPACE.sub(" ", text).strip()


def absolute_url(url: str, base: str) -> str | None:
    """Return *url* made absolute against *base*, or None if its scheme is not allowed.

    A protocol-relative ``//host/x`` takes the scheme of *base* (the site's).
    """
    joined = urljoin(base, clean_text(url).strip())
    try:
        scheme = urlsplit(joined).scheme.lower()
    except ValueError:   # e.g. an unbalanced "[" in the host
        return None
    return joined if scheme in URL_SCHEMES else None


def absolute_srcset(srcset: str, base: str) -> str | None:
    """Return a ``srcset`` with every candidate URL absolute; drop unsafe candidates."""
    candidates = []
    for candidate in srcset.split(","):
        parts = candidate.split()
        if not parts:
            continue
        url = absolute_url(parts[0], base)
        if url is not None:
            candidates.append(" ".join([url, *parts[1:]]))
    return ", ".join(candidates) or None


def render_body(body: str, markdown: bool) -> str:
    """Return the HTML of a raw post body: Markdown rendered, HTML as it is."""
    body = clean_text(body)
    if not markdown:
        return body
    return markdown_to_html(body)


def markdown_to_html(body: str) -> str:
    """Return cmarkgfm.markdown_to_html(body) with our options, without its memory leak.

    cmark_markdown_to_html returns a buffer "it is the caller's responsibility to free"
    (cmark.h); cmarkgfm 2025.10.22 copies it into a str and never frees it (cmarkgfm #53),
    about 8 KB a post on the generated site: nothing while only new posts are rendered,
    800 MB for one walk of a 100k-post archive (docs/aggregators.md).
    """
    if _FREE is None:
        return cmarkgfm.markdown_to_html(body, options=_MARKDOWN_OPTIONS)
    data = body.encode("utf-8")
    result = _cmark.lib.cmark_markdown_to_html(data, len(data), _MARKDOWN_OPTIONS)
    try:
        return _cmark.ffi.string(result).decode("utf-8")
    finally:
        _FREE(int(_cmark.ffi.cast("uintptr_t", result)))


def sanitize(html: str, base: str) -> str:
    """Return *html* cleaned against the allowlist with every URL absolute against *base*."""
    def rewrite(tag: str, attribute: str, value: str) -> str | None:
        # nh3 checks url_schemes *before* calling this filter, so a rewritten value must
        # be checked again here (absolute_url does).
        if attribute in _URL_ATTRIBUTES:
            return absolute_url(value, base)
        if attribute == "srcset":
            return absolute_srcset(value, base)
        return value

    cleaned = nh3.clean(
        clean_text(html), tags=set(TAGS), clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=rewrite, strip_comments=True, link_rel=None,
        url_schemes=set(URL_SCHEMES))
    return clean_text(cleaned).strip()


def render_content(body: str, markdown: bool, base: str) -> str:
    """Return the sanitised, absolute-URL HTML of a raw post body."""
    return sanitize(render_body(body, markdown), base)


_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p",
    "pre", "section", "table", "td", "th", "tr", "ul",
})


class _TextCollector(HTMLParser):
    """Collect the text of an HTML fragment, and of its first non-empty paragraph."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.paragraph: list[str] | None = None
        self.first_paragraph = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _BLOCKS:   # "<p>a</p><p>b</p>" reads "a b", not "ab"
            self.handle_data(" ")
        if tag == "p" and not self.first_paragraph:
            self.paragraph = []

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.handle_data(" ")
        if tag == "p" and self.paragraph is not None:
            self.first_paragraph = collapse("".join(self.paragraph))
            self.paragraph = None

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        if self.paragraph is not None:
            self.paragraph.append(data)


def html_text(html: str, *, first_only: bool = False) -> tuple[str, str]:
    """Return (first paragraph's text, whole text) of an HTML fragment, tags stripped.

    With *first_only*, stop reading once the first paragraph is found (the whole text is
    then only what was read).
    """
    collector = _TextCollector()
    for piece in _pieces(html) if first_only else (html,):
        collector.feed(piece)   # HTMLParser holds back an incomplete tag or reference
        if first_only and collector.first_paragraph:
            break
    else:
        collector.close()
        if collector.paragraph is not None and not collector.first_paragraph:
            collector.first_paragraph = collapse("".join(collector.paragraph))
    return collector.first_paragraph, collapse("".join(collector.parts))


def _pieces(html: str) -> Iterator[str]:
    """Yield *html* in pieces that each end just after a ``</p>``, then the rest.

    A summary needs only the first paragraph: parsing a whole 5 KB body for it took
    12 % of a feed build.
    """
    start = 0
    while start < len(html):
        end = html.find("</p>", start)
        stop = len(html) if end < 0 else end + len("</p>")
        yield html[start:stop]
        start = stop


# Where a shortened summary may end: after a sentence, else after a clause.
_SENTENCE_ENDS = "。！？!?；;…"
_CLAUSE_ENDS = "，、,：:）)」』”’》"
_TRIM = " 。.，、,：:；;…"  # dropped before the added "…"; ！？ stay
ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """Return *text* cut to at most *limit* characters, ending in '…' when cut.

    Chinese has no spaces, so the cut falls after the last sentence end (。！？；) in the
    second half of the allowance, else after the last clause mark (，、：), else (Latin text)
    at the last space, else exactly at the limit.
    """
    if len(text) <= limit:
        return text
    window = text[:limit - len(ELLIPSIS)]
    floor = len(window) // 2
    cut = _last_boundary(window, _SENTENCE_ENDS, floor)
    if cut is None:
        cut = _last_boundary(window, _CLAUSE_ENDS, floor)
    if cut is None:
        space = window.rfind(" ")
        cut = space if space >= floor else len(window)
    return window[:cut].rstrip(_TRIM) + ELLIPSIS


def _last_boundary(window: str, marks: str, floor: int) -> int | None:
    """Return the index just after the last of *marks* in *window* at or past *floor*."""
    best = max(window.rfind(mark) for mark in marks)
    return best + 1 if best >= floor else None


def summarize(html: str, given: str, limit: int) -> str:
    """Return the plain-text summary of a post.

    *given* (front matter ``description`` or ``excerpt``) wins and is kept whole, tags
    stripped; otherwise the first paragraph of *html* (or all its text when it has no
    paragraph), shortened to *limit* characters.
    """
    if given.strip():
        return clean_text(html_text(given)[1])
    first, whole = html_text(html, first_only=True)
    return clean_text(shorten(first or whole, limit))
