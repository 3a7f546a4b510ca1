"""The Flask side: the blueprint, its views, error handlers and the app's typed state."""
from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..documents import Document
from ..site import Site
from .archives import IMMUTABLE, ArchivePages, Moved, Page
from .health import health
from .http import (ALLOW, MAX_PATH, NOT_FOUND_MAX_AGE, PLAIN, ROUTE_OF_TYPE, Header,
                   cache_control, document_answer, hub_links, topic_links)
from .metrics import Metrics

if TYPE_CHECKING:
    from ..publisher import HubPublisher
    from ..scheduler import ReloadScheduler

log = logging.getLogger(__name__)

bp = Blueprint("feedsvc", __name__)


@dataclasses.dataclass
class AppState:
    """What the views, the fast path and the operators' endpoints need, once per app."""

    site: Site
    metrics: Metrics
    cache_control: str
    not_found: str
    scheduler: ReloadScheduler | None = None
    hubs: tuple[Header, ...] = ()              # Link: <hub>; rel="hub" of each WebSub hub
    archives: ArchivePages | None = None       # None: the archives setting is off
    publisher: HubPublisher | None = None      # None: no WebSub hubs

    def links(self, path: str) -> Sequence[Header]:
        """Return the Link headers of the document at decoded *path* (feeds, with hubs)."""
        if not self.hubs:
            return ()
        current = self.site.current
        return topic_links(self.hubs, None if current is None else current.topics.get(path))


class FeedsvcApp(Flask):
    """The feedsvc Flask app: a Flask app with its typed :class:`AppState`."""

    state: AppState


def app_state() -> AppState:
    """Return the state of the app handling the current request."""
    return cast(FeedsvcApp, current_app).state


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


def document_response(document: Document, headers: Mapping[str, str], cache_control: str,
                      links: Sequence[Header] = ()) -> Response:
    """Return the response to a GET or HEAD of *document*: 200, 304 or 412."""
    status, answer, body = document_answer(document, headers, cache_control, links)
    return DocumentResponse(body if status != 304 else None, status, answer)


def init_app(app: FeedsvcApp, site: Site, metrics: Metrics,
             publisher: HubPublisher | None = None) -> AppState:
    """Register the blueprint and the error handlers, and keep what the views need."""
    settings = site.settings
    app.state = AppState(
        site=site, metrics=metrics, cache_control=cache_control(settings.cache_max_age),
        not_found=f"Not found. Every feed is listed at {settings.service_url}/\n",
        hubs=hub_links(settings.websub_hubs),
        archives=ArchivePages(site, settings.archive_cache_mb << 20)
        if settings.archives else None,
        publisher=publisher)
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    return app.state


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
    state = getattr(current_app, "state", None)
    if state is not None:
        state.metrics.requests.labels(g.get("route", "other"), str(response.status_code)).inc()
    return response


@bp.route("/healthz", methods=["GET"])
def healthz() -> Response:
    """Answer the health check: 200 when fresh, 503 when starting or stale."""
    g.route = "healthz"
    state = app_state()
    code, body = health(state.site, None if state.publisher is None else state.publisher.snapshot())
    return Response(json.dumps(body, ensure_ascii=False) + "\n", code,
                    {"Content-Type": "application/json", "Cache-Control": "no-store"})


@bp.route("/livez", methods=["GET"])
def livez() -> Response:
    """Answer the liveness probe: 200 whenever this process can answer at all."""
    g.route = "livez"
    return _plain("ok\n", 200, **{"Cache-Control": "no-store"})


@bp.route("/readyz", methods=["GET"])
def readyz() -> Response:
    """Answer the readiness probe: 200 once feeds are published (stale ones too), else 503.

    A stale snapshot still serves the last good feeds, so it stays ready: every replica
    reading the same broken store would otherwise leave the pool at once. /healthz says
    how stale.
    """
    g.route = "readyz"
    if app_state().site.current is None:
        return _plain("not ready: the feeds are not loaded yet\n", 503,
                      **{"Cache-Control": "no-store"})
    return _plain("ready\n", 200, **{"Cache-Control": "no-store"})


@bp.route("/metrics", methods=["GET"])
def metrics() -> Response:
    """Answer a Prometheus scrape with the metrics of every worker."""
    g.route = "metrics"
    return Response(app_state().metrics.render(), 200,
                    {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


@bp.route("/", defaults={"path": ""}, methods=["GET"], merge_slashes=False)
@bp.route("/<path:path>", methods=["GET"], merge_slashes=False)
def document(path: str) -> Response:
    """Answer with the prepared document at the decoded request path."""
    state = app_state()
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
    g.route = ROUTE_OF_TYPE.get(found.content_type, "feed")
    return document_response(found, request.headers, state.cache_control,
                             state.links(request.path))


@bp.route("/feeds/archive/<path:path>", methods=["GET"], merge_slashes=False)
def archive(path: str) -> Response:
    """Answer an RFC 5005 archive page, rendered on first request (web/archives.py)."""
    state = app_state()
    if state.archives is None:
        return document(path)   # archives off: as any other path
    g.route = "archive"
    outcome = state.archives.find(request.path)
    if isinstance(outcome, Page):
        return document_response(outcome.document, request.headers, IMMUTABLE)
    if isinstance(outcome, Moved):
        return _plain(f"See {outcome.location}\n", 302, Location=outcome.location,
                      **{"Cache-Control": state.cache_control})
    headers = {"Cache-Control": outcome.cache_control}
    if outcome.retry_after is not None:
        headers["Retry-After"] = str(outcome.retry_after)
    if outcome.status == 404:
        g.route = "not_found"
    return _plain(outcome.text, outcome.status, **headers)


def _http_error(error: HTTPException) -> Response:
    """Answer any HTTP error (404, 405, 400...) with a short plain message, never HTML."""
    if isinstance(error, MethodNotAllowed):
        return _plain("Method not allowed: use GET or HEAD.\n", 405, Allow=ALLOW)
    if error.code == 404:
        g.route = "not_found"
        state = getattr(current_app, "state", None)
        text = state.not_found if state is not None else "Not found.\n"
        return _plain(text, 404, **{"Cache-Control": f"public, max-age={NOT_FOUND_MAX_AGE}"})
    code = error.code or 500
    return _plain(f"{code} {error.name}.\n", code)


def _internal_error(error: Exception) -> Response:
    """Log an unexpected error; the client gets a bare 500 with no details."""
    log.error("unexpected error answering %s %s", request.method, request.path[:200],
              exc_info=error)
    return _plain("Internal error.\n", 500, **{"Cache-Control": "no-store"})

