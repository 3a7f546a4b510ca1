"""The health check: is a snapshot published, and how old is it (``/healthz``)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..dates import UTC, format_rfc3339
from ..site import Site


def snapshot_age(site: Site) -> float | None:
    """Return the seconds since the last successful reload (or since the documents were
    restored at start, until then), or None before anything is published."""
    last = site.status.last_success
    if last is None and site.current is not None:
        last = site.current.restored_at
    return None if last is None else max(0.0, (site.clock() - last).total_seconds())


def health(site: Site, websub: Mapping[str, Any] | None = None
           ) -> tuple[int, dict[str, object]]:
    """Return the status code and JSON body of /healthz.

    *websub* is this process's WebSub publisher state (:meth:`HubPublisher.snapshot`),
    shown as ``websub``; None when no hub is set (no key then). A hub that is down never
    changes the status.
    """
    status, current = site.status, site.current
    age = snapshot_age(site)
    if current is None or age is None:
        state, code = "starting", 503
    elif age > site.settings.stale_after:
        state, code = "degraded", 503
    elif current.restored_at is not None and status.last_success is None:
        state, code = "restored", 200   # last run's documents, until the catch-up reload
    else:
        state, code = "ok", 200
    summary = None if current is None else current.summary
    body = {
        "status": state,
        "posts": None if summary is None else summary.posts,
        "categories": None if summary is None else summary.categories,
        "tags": None if summary is None else summary.tags,
        "broken_posts": None if summary is None else summary.broken,
        "pending_posts": None if summary is None else summary.pending,
        "last_reload": _rfc3339(status.last_success),
        "last_reload_seconds": _rounded(status.last_duration),
        "snapshot_age_seconds": _rounded(age),
        "last_error": status.last_error,
        "last_failure": _rfc3339(status.last_failure),
        "failures": status.failures,
    }
    if websub is not None:
        body["websub"] = dict(websub)
    return code, body


def _rfc3339(value: dt.datetime | None) -> str | None:
    return None if value is None else format_rfc3339(value, UTC)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)

