"""Turn a post's body into the HTML and the plain-text summary that feeds carry.

Markdown is rendered with cmark-gfm's CommonMark renderer through cmarkgfm (raw HTML
allowed, as Jekyll's kramdown allows it; about 10x faster than markdown-it-py, with the same
output on the sample and generated sites); an ``.html`` post is taken as it is. Either way the HTML is then
sanitised with nh3 against an allowlist, every URL in it is made absolute against the
post's own URL, and characters XML 1.0 forbids are removed. See docs/feeds.md.
"""
from __future__ import annotations

import ctypes
import html
import re
from urllib.parse import urljoin, urlsplit

import nh3
from cmarkgfm import _cmark, cmark
from cmarkgfm.cmark import Options

from .typography import normalize_whitespace, strip_html

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

# Jekyll's kramdown defaults (jekyll/configuration.rb DEFAULTS["kramdown"]): input GFM
# (kramdown-parser-gfm: tables, ~~strike~~; bare URLs stay text, so no "autolink"),
# footnotes, and smart quotes and typographic symbols, which cmark-gfm's smart option gives.
# "unsafe": raw HTML passes, as kramdown passes it (nh3 cleans it).
_MARKDOWN_OPTIONS = (Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_SMART
                     | Options.CMARK_OPT_FOOTNOTES)
_MARKDOWN_EXTENSIONS = ["table", "strikethrough"]
# A kramdown block attribute list ("{: .lead}") or definition on a line of its own: kramdown
# makes it attributes of the block, never text; feedsvc drops the line.
_KRAMDOWN_IAL = re.compile(r"^[ \t]{0,3}\{:[^}\n]*\}[ \t]*$\n?", re.M)
# Excerpt#extract_excerpt appends the reference-link definitions the head uses.
_LINK_DEFINITION = re.compile(r"^ {0,3}(?:(\[[^\]]+\])(:.+))$", re.M)


def _libc_free() -> ctypes._CFuncPtr | None:
    try:
        free = ctypes.CDLL(None).free   # the process's malloc, the one cmark allocates with
    except (OSError, AttributeError, TypeError):   # no C library to open (not POSIX)
        return None
    free.argtypes, free.restype = [ctypes.c_void_p], None
    return free


_FREE = _libc_free()


def _node_free() -> ctypes._CFuncPtr | None:
    try:   # cmarkgfm's ffi does not declare it; its library exports it
        node_free = ctypes.CDLL(_cmark.__file__).cmark_node_free
    except (OSError, AttributeError, TypeError):
        return None
    node_free.argtypes, node_free.restype = [ctypes.c_void_p], None
    return node_free


_NODE_FREE = _node_free()


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
    if not markdown:   # Converters::Identity: any extension Jekyll does not convert
        return body
    if "{:" in body:
        body = _KRAMDOWN_IAL.sub("", body)
    return markdown_to_html(body)


def markdown_to_html(body: str) -> str:
    """Return cmark-gfm's HTML of *body* with our options and extensions, leaking nothing.

    cmark_render_html returns a buffer "it is the caller's responsibility to free"
    (cmark.h), and the document tree is the caller's too; cmarkgfm 2025.10.22 copies the
    buffer into a str and frees neither (cmarkgfm #53): about 8 KB a post on the generated
    site, nothing while only new posts are rendered, 800 MB for one walk of a 100k-post
    archive (docs/aggregators.md). So the parser is driven here and both are freed.
    """
    if _FREE is None or _NODE_FREE is None:
        return cmark.markdown_to_html_with_extensions(body, _MARKDOWN_OPTIONS,
                                                      extensions=_MARKDOWN_EXTENSIONS)
    lib, ffi = _cmark.lib, _cmark.ffi
    parser = lib.cmark_parser_new(_MARKDOWN_OPTIONS)
    try:
        for extension in _extensions():
            lib.cmark_parser_attach_syntax_extension(parser, extension)
        data = body.encode("utf-8")
        lib.cmark_parser_feed(parser, data, len(data))
        root = lib.cmark_parser_finish(parser)
        try:
            result = lib.cmark_render_html(root, _MARKDOWN_OPTIONS,
                                           lib.cmark_parser_get_syntax_extensions(parser))
            try:
                return ffi.string(result).decode("utf-8")
            finally:
                _FREE(int(ffi.cast("uintptr_t", result)))
        finally:
            _NODE_FREE(int(ffi.cast("uintptr_t", root)))
    finally:
        lib.cmark_parser_free(parser)


_found_extensions: list = []


def _extensions() -> list:
    """Return cmark-gfm's syntax extensions we use (registered and looked up once)."""
    if not _found_extensions:
        cmark.core_extensions_ensure_registered()
        _found_extensions.extend(_cmark.lib.cmark_find_syntax_extension(name.encode())
                                 for name in _MARKDOWN_EXTENSIONS)
    return _found_extensions


def excerpt_source(body: str, separator: str) -> str:
    """Return the raw text of a post's excerpt (``Excerpt#extract_excerpt``).

    The text before the first *separator* (all of it when there is none), and, when some
    text follows, the Markdown reference-link definitions from it that the head uses.
    """
    head, found, tail = body.partition(separator)
    if not found or not tail:
        return head
    definitions = [label + rest for label, rest in _LINK_DEFINITION.findall(tail)
                   if label in head]
    return head + "\n\n" + "\n".join(definitions) if definitions else head


def summary_text(given_html: str, markdown: bool = False) -> str:
    """Return what a reader sees of jekyll-feed's summary: ``strip_html |
    normalize_whitespace`` in a ``type="html"`` element, so entities decoded.

    kramdown writes the block elements of raw HTML in Markdown (``<p>a</p><p>b</p>``) on
    lines of their own, so their texts are apart (``a b``); an HTML post is not converted
    and its text runs on (``ab``). *markdown* says which.
    """
    if markdown and "><" in given_html:   # only blocks that touch run together
        given_html = _BLOCK_TAG.sub(" ", given_html)
    text = html.unescape(strip_html(given_html)) if "<" in given_html or "&" in given_html \
        else given_html
    return normalize_whitespace(clean_text(text))


# kramdown/parser/html.rb HTML_BLOCK_ELEMENTS
_BLOCK_TAG = re.compile(
    r"</?(?:address|article|aside|applet|body|blockquote|caption|col|colgroup|dd|div|dl|dt|"
    r"fieldset|figcaption|footer|form|h[1-6]|header|hgroup|hr|html|head|iframe|legend|menu|"
    r"li|main|map|nav|ol|optgroup|p|pre|section|summary|table|tbody|td|th|thead|tfoot|tr|ul)\b[^<>]*>", re.I)


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


def teaser(summary: str, limit: int) -> str:
    """Return *summary* shortened to *limit* characters for RSS and JSON Feed (0: whole)."""
    return shorten(summary, limit) if limit else summary
