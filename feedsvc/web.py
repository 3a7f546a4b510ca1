"""The HTTP face of feedsvc: prepared documents with their validators, health and metrics.

The hot path decodes the request path, looks it up in the published documents and answers
with prepared bytes and headers: nothing is built, hashed or compressed per request. Every
header and status code is described in docs/service.md.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .config import Settings
from .dates import UTC, format_rfc3339, parse_http_date
from .documents import CONTENT_TYPES, Document
from .site import Published, Site
from .store import Clock

log = logging.getLogger(__name__)

ALLOW = "GET, HEAD, OPTIONS"
MAX_PATH = 2048            # longer decoded paths get 414; no name is that long
STALE_IF_ERROR = 86400     # a cache may serve a feed a day old while we are down (RFC 5861)
NOT_FOUND_MAX_AGE = 60     # a new category appears within a reload; cache 404s briefly
PLAIN = "text/plain; charset=utf-8"
# HTML pages load nothing but their own inline CSS.
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")
# The only values of the route label: never the raw path (unbounded label cardinality).
ROUTES = ("feed", "page", "opml", "healthz", "metrics", "not_found", "unavailable", "other")
_ROUTE_OF_TYPE = {CONTENT_TYPES["html"]: "page", CONTENT_TYPES["opml"]: "opml"}

bp = Blueprint("feedsvc", __name__)


class DocumentResponse(Response):
    """A response that keeps ``Last-Modified`` on a 304.

    Werkzeug strips it as an entity header; the contract (and RFC 9110 §15.4.5, "useful
    to guide cache updates") wants it there.
    """

    def get_wsgi_headers(self, environ):  # type: ignore[no-untyped-def]
        headers = super().get_wsgi_headers(environ)
        if self.status_code == 304 and "Last-Modified" in self.headers:
            headers["Last-Modified"] = self.headers["Last-Modified"]
        return headers


# --- content negotiation and preconditions (pure functions) --------------------------------

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


def document_answer(document: Document, headers: Mapping[str, str],
                    cache_control: str) -> tuple[int, list[Header], bytes]:
    """Return the status, headers and body of a GET of *document*: 200, 304 or 412.

    Both the Flask view and the fast path answer from this, so their headers cannot differ.
    """
    gzipped = wants_gzip(headers.get("Accept-Encoding"))
    etag = document.gzip_etag if gzipped else document.etag
    common = [("Cache-Control", cache_control), ("Vary", "Accept-Encoding")]
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


def document_response(document: Document, headers: Mapping[str, str],
                      cache_control: str) -> Response:
    """Return the response to a GET or HEAD of *document*: 200, 304 or 412."""
    status, answer, body = document_answer(document, headers, cache_control)
    return DocumentResponse(body if status != 304 else None, status, answer)


def cache_control(settings: Settings) -> str:
    """Return the Cache-Control of every document (RFC 9111 §5.2.2, RFC 5861)."""
    age = settings.cache_max_age
    return f"public, max-age={age}, stale-while-revalidate={age}, stale-if-error={STALE_IF_ERROR}"


# --- metrics -------------------------------------------------------------------------------

class Metrics:
    """The Prometheus metrics of one app, in its own registry (one per app and process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "feedsvc_http_requests", "HTTP requests answered, by route and status.",
            ["route", "status"], registry=self.registry)
        self.reload_seconds = Histogram(
            "feedsvc_reload_duration_seconds", "Duration of successful reloads.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry)

    def watch(self, site: Site) -> None:
        """Report *site*'s snapshot and reload status on every scrape."""
        self.registry.register(SiteCollector(site))

    def render(self) -> bytes:
        """Return the Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class SiteCollector:
    """Read the site's published snapshot and reload status when scraped."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def collect(self) -> Iterable[object]:
        """Yield the gauges and counters of the site (prometheus_client's Collector API)."""
        site, status = self.site, self.site.status
        current = site.current
        yield CounterMetricFamily("feedsvc_reload_failures", "Failed reloads since start.",
                                  value=status.failures)
        yield CounterMetricFamily("feedsvc_reloads", "Successful reloads since start.",
                                  value=status.reloads)
        yield GaugeMetricFamily("feedsvc_loaded", "1 once a snapshot is published.",
                                value=0 if current is None else 1)
        if current is None or status.last_success is None:
            return
        snapshot = current.snapshot
        for name, help_text, value in (
                ("feedsvc_posts", "Published posts.", len(snapshot.posts)),
                ("feedsvc_broken_posts", "Post files that could not be read.",
                 len(snapshot.errors)),
                ("feedsvc_pending_posts", "Posts dated in the future.", snapshot.pending),
                ("feedsvc_categories", "Categories.", len(snapshot.categories)),
                ("feedsvc_tags", "Tags.", len(snapshot.tags)),
                ("feedsvc_snapshot_age_seconds", "Seconds since the last successful reload.",
                 snapshot_age(site)),
                ("feedsvc_last_reload_timestamp_seconds", "When the last reload succeeded.",
                 status.last_success.timestamp())):
            yield GaugeMetricFamily(name, help_text, value=value)


class MeteredSite(Site):
    """A Site whose successful reloads feed the reload-duration histogram."""

    def __init__(self, settings: Settings, clock: Clock, metrics: Metrics) -> None:
        super().__init__(settings, clock)
        self.metrics = metrics
        metrics.watch(self)

    def reload(self) -> Published:
        """Reload as :meth:`Site.reload` does, then record how long it took."""
        published = super().reload()
        if self.status.last_duration is not None:
            self.metrics.reload_seconds.observe(self.status.last_duration)
        return published


def snapshot_age(site: Site) -> float | None:
    """Return the seconds since the last successful reload, or None before the first."""
    last = site.status.last_success
    return None if last is None else max(0.0, (site.clock() - last).total_seconds())


# --- health --------------------------------------------------------------------------------

def health(site: Site) -> tuple[int, dict[str, object]]:
    """Return the status code and JSON body of /healthz."""
    status, current = site.status, site.current
    age = snapshot_age(site)
    if current is None or age is None:
        state, code = "starting", 503
    elif age > site.settings.stale_after:
        state, code = "degraded", 503
    else:
        state, code = "ok", 200
    snapshot = None if current is None else current.snapshot
    body = {
        "status": state,
        "posts": None if snapshot is None else len(snapshot.posts),
        "categories": None if snapshot is None else len(snapshot.categories),
        "tags": None if snapshot is None else len(snapshot.tags),
        "broken_posts": None if snapshot is None else len(snapshot.errors),
        "pending_posts": None if snapshot is None else snapshot.pending,
        "last_reload": _rfc3339(status.last_success),
        "last_reload_seconds": _rounded(status.last_duration),
        "snapshot_age_seconds": _rounded(age),
        "last_error": status.last_error,
        "last_failure": _rfc3339(status.last_failure),
        "failures": status.failures,
    }
    return code, body


def _rfc3339(value: dt.datetime | None) -> str | None:
    return None if value is None else format_rfc3339(value, UTC)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# --- the blueprint -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class WebState:
    """What the views need, computed once per app."""

    site: Site
    metrics: Metrics
    cache_control: str
    not_found: str


def init_app(app: Flask, site: Site, metrics: Metrics) -> None:
    """Register the blueprint and the error handlers, and keep what the views need."""
    settings = site.settings
    app.extensions["feedsvc.web"] = WebState(
        site=site, metrics=metrics, cache_control=cache_control(settings),
        not_found=f"Not found. Every feed is listed at {settings.service_url}/\n")
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)


def _state() -> WebState:
    return current_app.extensions["feedsvc.web"]


def _plain(text: str, status: int, **headers: str) -> Response:
    return Response(text, status, {"Content-Type": PLAIN, "X-Content-Type-Options": "nosniff",
                                   **headers})


@bp.before_app_request
def _screen_request() -> Response | None:
    g.route = "other"
    if len(request.path) > MAX_PATH:
        return _plain("URI too long.\n", 414, **{"Cache-Control": "no-store"})
    if request.method == "OPTIONS":   # RFC 9110 §9.3.7: say what the resource allows
        response = Response(status=204, headers={"Allow": ALLOW})
        del response.headers["Content-Type"]
        return response
    return None


@bp.after_app_request
def _count_request(response: Response) -> Response:
    state = current_app.extensions.get("feedsvc.web")
    if state is not None:
        state.metrics.requests.labels(g.get("route", "other"), str(response.status_code)).inc()
    return response


@bp.route("/healthz", methods=["GET"])
def healthz() -> Response:
    """Answer the health check: 200 when fresh, 503 when starting or stale."""
    g.route = "healthz"
    code, body = health(_state().site)
    return Response(json.dumps(body, ensure_ascii=False) + "\n", code,
                    {"Content-Type": "application/json", "Cache-Control": "no-store"})


@bp.route("/metrics", methods=["GET"])
def metrics() -> Response:
    """Answer a Prometheus scrape with this process's metrics."""
    g.route = "metrics"
    return Response(_state().metrics.render(), 200,
                    {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


@bp.route("/", defaults={"path": ""}, methods=["GET"], merge_slashes=False)
@bp.route("/<path:path>", methods=["GET"], merge_slashes=False)
def document(path: str) -> Response:
    """Answer with the prepared document at the decoded request path."""
    state = _state()
    found = state.site.document(request.path)
    if found is None:
        if state.site.current is None:
            g.route = "unavailable"
            return _plain("The feeds are not loaded yet; try again in a moment.\n", 503,
                          **{"Cache-Control": "no-store",
                             "Retry-After": str(state.site.settings.reload_interval)})
        g.route = "not_found"
        return _plain(state.not_found, 404,
                      **{"Cache-Control": f"public, max-age={NOT_FOUND_MAX_AGE}"})
    g.route = _ROUTE_OF_TYPE.get(found.content_type, "feed")
    return document_response(found, request.headers, state.cache_control)


def _http_error(error: HTTPException) -> Response:
    """Answer any HTTP error (404, 405, 400...) with a short plain message, never HTML."""
    if isinstance(error, MethodNotAllowed):
        return _plain("Method not allowed: use GET or HEAD.\n", 405, Allow=ALLOW)
    if error.code == 404:
        g.route = "not_found"
        state = current_app.extensions.get("feedsvc.web")
        text = state.not_found if state is not None else "Not found.\n"
        return _plain(text, 404, **{"Cache-Control": f"public, max-age={NOT_FOUND_MAX_AGE}"})
    code = error.code or 500
    return _plain(f"{code} {error.name}.\n", code)


def _internal_error(error: Exception) -> Response:
    """Log an unexpected error; the client gets a bare 500 with no details."""
    log.error("unexpected error answering %s %s", request.method, request.path[:200],
              exc_info=error)
    return _plain("Internal error.\n", 500, **{"Cache-Control": "no-store"})


# --- the fast path -------------------------------------------------------------------------

class RequestHeaders:
    """Read request headers straight from a WSGI environ (PEP 3333 ``HTTP_*`` keys)."""

    __slots__ = ("environ",)

    def __init__(self, environ: Mapping[str, object]) -> None:
        self.environ = environ

    def get(self, name: str, default: str | None = None) -> str | None:
        """Return the header *name* as the server joined it, or *default*."""
        value = self.environ.get("HTTP_" + name.upper().replace("-", "_"), default)
        return value if isinstance(value, str) or value is default else default


class DocumentFastPath:
    """A plain WSGI callable in front of Flask that answers GET and HEAD of documents.

    A request for a published document costs a dict lookup and :func:`document_answer`,
    the very function the Flask view answers with; everything else (unknown paths, other
    methods, overlong paths, /healthz, /metrics, errors, before the first load) goes to
    Flask unchanged. It runs what Flask's hooks would for such a request: the scheduler's
    lazy start and the request counter. tests/test_fastpath.py holds the two to the same
    bytes and checks that Flask has no other hook this path would skip.
    """

    def __init__(self, app: Flask) -> None:
        self.fallback = app.wsgi_app
        self.state: WebState = app.extensions["feedsvc.web"]
        scheduler = app.extensions.get("feedsvc.scheduler")
        self.before = None if scheduler is None else scheduler.ensure_started
        # One child per (route, status): labels() takes a lock and hashes on every call.
        self.counters: dict[tuple[str, int], Any] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Answer a document request here, anything else through Flask."""
        try:
            answer = self.answer(environ)
        except Exception:  # noqa: BLE001 - a bug: Flask meets it again, logs it, sends a bare 500
            answer = None
        if answer is None:
            return self.fallback(environ, start_response)
        status, headers, body = answer
        start_response(STATUS_LINES[status], headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" or status == 304 else [body]

    def answer(self, environ: dict[str, Any]) -> tuple[int, list[Header], bytes] | None:
        """Return (status, headers, body) for a GET or HEAD of a document, else None."""
        method = environ.get("REQUEST_METHOD")
        path_info = environ.get("PATH_INFO")
        if method not in ("GET", "HEAD") or not isinstance(path_info, str) \
                or not path_info.startswith("/"):   # Flask redirects "" to "/"
            return None
        # Werkzeug's request.path: PEP 3333 bytes-as-latin-1, then UTF-8, one leading "/".
        path = "/" + path_info.encode("latin-1").decode(errors="replace").lstrip("/")
        if len(path) > MAX_PATH:
            return None
        document = self.state.site.document(path)
        if document is None:
            return None
        if self.before is not None:
            self.before()
        status, headers, body = document_answer(document, RequestHeaders(environ),
                                                self.state.cache_control)
        self.count(_ROUTE_OF_TYPE.get(document.content_type, "feed"), status)
        return status, headers, body

    def count(self, route: str, status: int) -> None:
        """Add one to feedsvc_http_requests_total{route, status}."""
        counter = self.counters.get((route, status))
        if counter is None:
            counter = self.state.metrics.requests.labels(route, str(status))
            self.counters[(route, status)] = counter
        counter.inc()


def install_fast_path(app: Flask) -> None:
    """Put :class:`DocumentFastPath` in front of the app's Flask handling (after init_app)."""
    app.wsgi_app = DocumentFastPath(app)  # type: ignore[method-assign]
