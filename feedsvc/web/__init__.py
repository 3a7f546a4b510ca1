"""The web layer: HTTP answers from prepared documents, and the operators' endpoints.

Owns: the pure HTTP logic (``http``: preconditions, encodings, the document answer, Link
headers), the Flask blueprint and the app's typed state (``views``), the WSGI fast path
(``fastpath``), archive pages over HTTP and their LRU cache (``archives``), ``/healthz``
(``health``) and ``/metrics`` (``metrics``).

May import: everything below it (``feedsvc.site`` and the shared nouns), Flask, Werkzeug and
prometheus_client. Nothing imports it but ``feedsvc.create_app`` and the server.
"""
from __future__ import annotations

from .fastpath import install_fast_path
from .metrics import Metrics
from .views import AppState, FeedsvcApp, init_app

__all__ = ["AppState", "FeedsvcApp", "Metrics", "init_app", "install_fast_path"]
