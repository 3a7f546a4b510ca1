"""gunicorn settings for running feedsvc without ``feedsvc serve``.

    gunicorn -c python:feedsvc.gunicorn_conf feedsvc.wsgi:app

It gives the workers one folder for their metrics files, so /metrics adds up across them
(docs/service.md), removes it when gunicorn stops, and formats gunicorn's own lines as
feedsvc's (``FEEDSVC_LOG_FORMAT``). Options on the command line still apply.
"""
from __future__ import annotations

import os
from typing import Any

from feedsvc.server import (StderrLogger, child_exit, claim_metrics_folder,
                            release_metrics_folder)

logger_class = StderrLogger
StderrLogger.log_format = os.environ.get("FEEDSVC_LOG_FORMAT", "text")
_made: list[str | None] = []


def on_starting(server: Any) -> None:
    """Before any worker exists: name the metrics folder in the environment."""
    _made.append(claim_metrics_folder())


def on_exit(server: Any) -> None:
    """When gunicorn stops: remove the folder on_starting made."""
    for made in _made:
        release_metrics_folder(made)


__all__ = ["child_exit", "logger_class", "on_exit", "on_starting"]
