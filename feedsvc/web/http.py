"""HTTP logic with no framework: content negotiation, preconditions, the document answer.

Pure functions of headers and a prepared :class:`Document` (RFC 9110, RFC 9111). The Flask
view and the WSGI fast path both answer from :func:`document_answer`.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence

from ..dates import parse_http_date
from ..documents import CONTENT_TYPES, Document

ALLOW = "GET, HEAD, OPTIONS"
MAX_PATH = 2048            # longer decoded paths get 414; no name is that long
STALE_IF_ERROR = 86400     # a cache may serve a feed a day old while we are down (RFC 5861)
NOT_FOUND_MAX_AGE = 60     # a new category appears within a reload; cache 404s briefly
PLAIN = "text/plain; charset=utf-8"
# HTML pages load nothing but their own inline CSS.
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")
# The only values of the route label: never the raw path (unbounded label cardinality).
ROUTES = ("feed", "page", "opml", "archive", "healthz", "livez", "readyz", "metrics",
          "not_found", "unavailable", "other")
ROUTE_OF_TYPE = {CONTENT_TYPES["html"]: "page", CONTENT_TYPES["opml"]: "opml"}


_QVALUE = re.compile(r"^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")   # RFC 9110 §12.4.2
_ENTITY_TAG = re.compile(r'(W/)?("[^"]*")')                      # RFC 9110 §8.8.3


def coding_qualities(header: str) -> dict[str, float]:
    """Return each content coding of an Accept-Encoding value with its quality."""
    qualities: dict[str, float] = {}
    for item in header.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                quality = float(value) if _QVALUE.match(value) else 0.0
        qualities.setdefault(coding, quality)
    return qualities


def wants_gzip(header: str | None) -> bool:
    """Return whether to send the gzip copy for this Accept-Encoding (RFC 9110 §12.5.3).

    gzip when its quality (or that of ``*``) is above 0, unless ``identity`` is listed
    with a higher quality. No header means identity.
    """
    if not header:
        return False
    qualities = coding_qualities(header)
    quality = qualities.get("gzip", qualities.get("x-gzip", qualities.get("*", 0.0)))
    identity = qualities.get("identity")
    return quality > 0 and (identity is None or quality >= identity)


def entity_tags(header: str) -> list[tuple[bool, str]] | None:
    """Return the (weak, quoted tag) pairs of If-(None-)Match; None stands for ``*``."""
    if header.strip() == "*":
        return None
    return [(bool(weak), tag) for weak, tag in _ENTITY_TAG.findall(header)]


def match_tag(header: str, ours: Iterable[str], *, weak: bool) -> str | None:
    """Return the first of *ours* the header names ("*" for any), or None.

    *weak* selects weak comparison (If-None-Match) over strong (If-Match), RFC 9110 §8.8.3.2.
    """
    listed = entity_tags(header)
    if listed is None:
        return "*"
    for tag in ours:
        if any(theirs == tag and (weak or not is_weak) for is_weak, theirs in listed):
            return tag
    return None


@dataclasses.dataclass(frozen=True)
class Decision:
    """What the preconditions decided: a status (304, 412) and the ETag it carries."""

    status: int
    etag: str


def evaluate_preconditions(headers: Mapping[str, str], document: Document,
                           etag: str) -> Decision | None:
    """Return the 304/412 the preconditions call for on a GET or HEAD, else None.

    Follow RFC 9110 §13.2.2: If-Match, then If-Unmodified-Since when there is no If-Match,
    then If-None-Match, then If-Modified-Since only when there is no If-None-Match. Either
    ETag of the document (identity or gzip) matches; *etag* is the one this request gets.
    """
    ours = (etag, document.gzip_etag if etag == document.etag else document.etag)
    if_match = headers.get("If-Match")
    if if_match is not None:
        if match_tag(if_match, ours, weak=False) is None:
            return Decision(412, etag)
    elif _modified_since(headers.get("If-Unmodified-Since"), document) is True:
        return Decision(412, etag)
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        matched = match_tag(if_none_match, ours, weak=True)
        if matched is None:
            return None
        # The 304 names the representation the client holds, so a cache knows which stored
        # response to freshen (RFC 9111 §4.3.4).
        return Decision(304, etag if matched == "*" else matched)
    if _modified_since(headers.get("If-Modified-Since"), document) is False:
        return Decision(304, etag)
    return None


def _modified_since(header: str | None, document: Document) -> bool | None:
    """Return whether the document changed after the header's date; None to ignore it."""
    if header is None or document.last_modified is None:
        return None
    since = parse_http_date(header)   # None when unparseable: RFC 9110 §13.1.3 says ignore
    if since is None:
        return None
    return document.last_modified > since


STATUS_LINES = {200: "200 OK", 304: "304 NOT MODIFIED", 412: "412 PRECONDITION FAILED"}
PRECONDITION_FAILED = b"Precondition failed.\n"
Header = tuple[str, str]


def document_answer(document: Document, headers: Mapping[str, str], cache_control: str,
                    links: Sequence[Header] = ()) -> tuple[int, list[Header], bytes]:
    """Return the status, headers and body of a GET of *document*: 200, 304 or 412.

    *links* are its ``Link`` headers (:func:`topic_links`), sent with every answer. Both
    the Flask view and the fast path answer from this, so their headers cannot differ.
    """
    gzipped = wants_gzip(headers.get("Accept-Encoding"))
    etag = document.gzip_etag if gzipped else document.etag
    # Last-Modified last: Werkzeug moves it there on a 304 (views.DocumentResponse).
    common = [("Cache-Control", cache_control), ("Vary", "Accept-Encoding"), *links]
    if document.last_modified_http:
        common.append(("Last-Modified", document.last_modified_http))
    decision = evaluate_preconditions(headers, document, etag)
    if decision is not None and decision.status == 304:
        return 304, [("ETag", decision.etag), *common], b""
    if decision is not None:
        return 412, [("Content-Type", PLAIN), ("ETag", etag), *common,
                     ("Content-Length", str(len(PRECONDITION_FAILED)))], PRECONDITION_FAILED
    body = document.gzip if gzipped else document.body
    answer = [("Content-Type", document.content_type), ("ETag", etag), *common,
              ("X-Content-Type-Options", "nosniff"), ("Content-Length", str(len(body)))]
    if gzipped:
        answer.append(("Content-Encoding", "gzip"))
    if document.content_type == CONTENT_TYPES["html"]:
        answer.append(("Content-Security-Policy", PAGE_CSP))
    return 200, answer, body


def hub_links(hubs: Sequence[str]) -> tuple[Header, ...]:
    """Return the ``Link: <hub>; rel="hub"`` header of each WebSub hub (WebSub §4)."""
    return tuple(("Link", f'<{hub}>; rel="hub"') for hub in hubs)


def topic_links(hubs: Sequence[Header], topic: str | None) -> Sequence[Header]:
    """Return the Link headers of a feed response: its hubs and ``<topic>; rel="self"``.

    WebSub §4: a subscriber discovers the hubs and the topic URL to subscribe to from them
    (Flask-WebSub's hub also refuses to distribute a topic whose response lacks either).
    Nothing when WebSub is off (no hubs) or for a document that is not a feed (no topic).
    """
    if not hubs or topic is None:
        return ()
    return (*hubs, ("Link", f'<{topic}>; rel="self"'))


def cache_control(max_age: int) -> str:
    """Return the Cache-Control of every document (RFC 9111 §5.2.2, RFC 5861)."""
    return (f"public, max-age={max_age}, stale-while-revalidate={max_age}, "
            f"stale-if-error={STALE_IF_ERROR}")
