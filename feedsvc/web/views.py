"""The Flask side: the blueprint, its views, error handlers and the app's typed state."""
from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..documents import Document
from ..site import Site
from .health import health
from .http import (ALLOW, MAX_PATH, NOT_FOUND_MAX_AGE, PLAIN, ROUTE_OF_TYPE, cache_control,
                   document_answer)
from .metrics import Metrics

if TYPE_CHECKING:
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


def document_response(document: Document, headers: Mapping[str, str],
                      cache_control: str) -> Response:
    """Return the response to a GET or HEAD of *document*: 200, 304 or 412."""
    status, answer, body = document_answer(document, headers, cache_control)
    return DocumentResponse(body if status != 304 else None, status, answer)


def init_app(app: FeedsvcApp, site: Site, metrics: Metrics) -> AppState:
    """Register the blueprint and the error handlers, and keep what the views need."""
    settings = site.settings
    app.state = AppState(
        site=site, metrics=metrics, cache_control=cache_control(settings.cache_max_age),
        not_found=f"Not found. Every feed is listed at {settings.service_url}/\n")
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
    code, body = health(app_state().site)
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
    return document_response(found, request.headers, state.cache_control)


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

