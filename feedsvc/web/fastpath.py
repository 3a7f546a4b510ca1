"""The fast path: a plain WSGI callable that answers GET and HEAD of published documents."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .archives import IMMUTABLE
from .http import MAX_PATH, ROUTE_OF_TYPE, STATUS_LINES, Header, document_answer
from .views import AppState, FeedsvcApp


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

    A request for a published document (or an archive page already rendered and kept, of
    the published version) costs a dict lookup and :func:`document_answer`,
    the very function the Flask view answers with; everything else (unknown paths, other
    methods, overlong paths, /healthz, /metrics, errors, before the first load) goes to
    Flask unchanged. It runs what Flask's hooks would for such a request: the scheduler's
    lazy start and the request counter. tests/web/test_fastpath.py holds the two to the same
    bytes and checks that Flask has no other hook this path would skip.
    """

    def __init__(self, app: FeedsvcApp) -> None:
        self.fallback = app.wsgi_app
        self.state: AppState = app.state
        scheduler = app.state.scheduler
        self.before = None if scheduler is None else scheduler.ensure_started
        # One child per (route, status): labels() takes a lock and hashes on every call.
        self.counters: dict[tuple[str, int], Any] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Answer a document request here, anything else through Flask."""
        if environ.get("PATH_INFO") == "":
            # An absolute-form request target with no path ("GET http://host HTTP/1.1")
            # reaches us with an empty path; Werkzeug would answer a 308 whose Location is
            # built from the Host header (a forged Host would choose it). feedsvc is served
            # at the root: an empty path is "/" (RFC 9112 §3.2.2: an empty path is "/").
            environ["PATH_INFO"] = "/"
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
                or not path_info.startswith("/"):
            return None
        # Werkzeug's request.path: PEP 3333 bytes-as-latin-1, then UTF-8, one leading "/".
        path = "/" + path_info.encode("latin-1").decode(errors="replace").lstrip("/")
        if len(path) > MAX_PATH:
            return None
        state = self.state
        document = state.site.document(path)
        if document is not None:
            cache_control, route = state.cache_control, ROUTE_OF_TYPE.get(
                document.content_type, "feed")
        elif state.archives is not None and (document := state.archives.kept(path)):
            cache_control, route = IMMUTABLE, "archive"   # a kept archive page
        else:
            return None
        if self.before is not None:
            self.before()
        status, headers, body = document_answer(document, RequestHeaders(environ),
                                                cache_control, state.links(path))
        self.count(route, status)
        return status, headers, body

    def count(self, route: str, status: int) -> None:
        """Add one to feedsvc_http_requests_total{route, status}."""
        counter = self.counters.get((route, status))
        if counter is None:
            counter = self.state.metrics.requests.labels(route, str(status))
            self.counters[(route, status)] = counter
        counter.inc()


def install_fast_path(app: FeedsvcApp) -> None:
    """Put :class:`DocumentFastPath` in front of the app's Flask handling (after init_app)."""
    app.wsgi_app = DocumentFastPath(app)  # type: ignore[method-assign]
