"""Prometheus metrics that add up across worker processes.

Under ``feedsvc serve`` (and ``gunicorn -c python:feedsvc.gunicorn_conf``) every worker
writes its metrics to files in one ``PROMETHEUS_MULTIPROC_DIR`` that feedsvc creates and
removes itself, and a scrape answered by any worker reads them all (prometheus_client's
multiprocess mode): counters are summed over every process that ever ran, so they never go
backwards between scrapes; the site's gauges are the most recent value any worker wrote, so
they are reported once, not per worker; process figures are per worker (a ``pid`` label).
Without that directory (one process, tests) the same metrics live in the app's registry,
with prometheus_client's process and platform collectors.
"""
from __future__ import annotations

import os
import platform
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector,
                               ProcessCollector, generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily

from ..site import Published, ReloadStatus, Site
from .health import snapshot_age

if TYPE_CHECKING:
    from ..publisher import HubPublisher

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
RELOAD_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# name -> (help, field of the published Summary)
SITE_GAUGES = {
    "feedsvc_posts": ("Published posts.", "posts"),
    "feedsvc_broken_posts": ("Post files that could not be read.", "broken"),
    "feedsvc_pending_posts": ("Posts dated in the future.", "pending"),
    "feedsvc_categories": ("Categories.", "categories"),
    "feedsvc_tags": ("Tags.", "tags"),
}
# The WebSub notifier's counters (feedsvc/websub.py), each an outcome of
# feedsvc_websub_pings_total{hub, outcome}.
WEBSUB_OUTCOMES = ("sent", "failed", "retried", "dropped", "deduplicated", "expired")
# prometheus_client's process metrics, kept per worker in multiprocess mode.
WORKER_FIGURES = {
    "process_resident_memory_bytes": "feedsvc_worker_resident_memory_bytes",
    "process_cpu_seconds_total": "feedsvc_worker_cpu_seconds",
    "process_start_time_seconds": "feedsvc_worker_start_time_seconds",
    "process_open_fds": "feedsvc_worker_open_fds",
}


def multiprocess_dir() -> str | None:
    """Return the multiprocess metrics folder of this process, or None."""
    return os.environ.get(MULTIPROCESS_ENV) or None


class Metrics:
    """The Prometheus metrics of one app (in files shared by every worker, when there are)."""

    def __init__(self, version: str = "") -> None:
        self.folder = multiprocess_dir()
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter("feedsvc_http_requests",
                                "HTTP requests answered, by route and status.",
                                ["route", "status"], registry=registry)
        self.reload_seconds = Histogram("feedsvc_reload_duration_seconds",
                                        "Duration of successful reloads.",
                                        buckets=RELOAD_BUCKETS, registry=registry)
        self.reloads = Counter("feedsvc_reloads", "Successful reloads.", registry=registry)
        self.reload_failures = Counter("feedsvc_reload_failures", "Failed reloads.",
                                       registry=registry)
        self.site_gauges = {name: Gauge(name, text, registry=registry,
                                        multiprocess_mode="mostrecent")
                            for name, (text, _) in SITE_GAUGES.items()}
        self.last_reload = Gauge("feedsvc_last_reload_timestamp_seconds",
                                 "When the last reload succeeded.", registry=registry,
                                 multiprocess_mode="mostrecent")
        build = Gauge("feedsvc_build_info", "feedsvc's version (the value is always 1).",
                      ["version", "python"], registry=registry, multiprocess_mode="max")
        build.labels(version, platform.python_version()).set(1)
        self._process = ProcessCollector(registry=None)
        if self.folder is None:
            registry.register(self._process)
            PlatformCollector(registry=registry)
            self.worker = {}
        else:
            self.worker = {source: Gauge(name, f"This worker's {source}.", registry=registry,
                                         multiprocess_mode="liveall")
                           for source, name in WORKER_FIGURES.items()}
        self._live: CollectorRegistry | None = None
        self.websub = WebSubMetrics(registry)

    def register_site(self, site: Site) -> None:
        """Report *site*'s readiness and snapshot age on every scrape."""
        if self.folder is None:
            self.registry.register(SiteCollector(site))
        else:
            self._live = CollectorRegistry(auto_describe=False)
            self._live.register(SiteCollector(site))

    def observe_reload(self, published: Published | None, status: ReloadStatus) -> None:
        """Count a reload and record what it published (a :class:`Site` ``on_reload`` hook)."""
        if published is None:
            self.reload_failures.inc()
            return
        self.reloads.inc()
        if status.last_duration is not None:
            self.reload_seconds.observe(status.last_duration)
        for name, (_, field) in SITE_GAUGES.items():
            self.site_gauges[name].set(getattr(published.summary, field))
        if status.last_success is not None:
            self.last_reload.set(status.last_success.timestamp())
        self._record_worker()

    def register_websub(self, publisher: HubPublisher) -> None:
        """Count *publisher*'s pings as they happen, and its state on every scrape."""
        self.websub.publisher = publisher
        publisher.on_outcome = self.websub.observe

    def render(self) -> bytes:
        """Return the Prometheus text exposition of every metric, of every worker."""
        self.websub.observe()
        if self.folder is None:
            return generate_latest(self.registry)
        self._record_worker()
        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry, path=self.folder)
        body = generate_latest(registry)
        if self._live is not None:
            body += generate_latest(self._live)
        return body

    def _record_worker(self) -> None:
        """Write this worker's process figures (multiprocess mode: a pid label each)."""
        if not self.worker:
            return
        for family in self._process.collect():
            for sample in family.samples:
                gauge = self.worker.get(sample.name)
                if gauge is not None:
                    gauge.set(sample.value)


class SiteCollector:
    """Read, when scraped, what only the answering process knows: loaded, snapshot age."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def collect(self) -> Iterable[object]:
        """Yield the site's live gauges (prometheus_client's Collector API)."""
        yield GaugeMetricFamily("feedsvc_loaded", "1 once a snapshot is published.",
                                value=0 if self.site.current is None else 1)
        age = snapshot_age(self.site)
        if age is not None:
            yield GaugeMetricFamily("feedsvc_snapshot_age_seconds",
                                    "Seconds since the last successful reload.", value=age)


class WebSubMetrics:
    """Mirror the WebSub publisher's counters into Prometheus metrics.

    The notifier counts in memory; each time its state may have moved (a ping's outcome, a
    reload, a scrape) the difference since the last look is added to the counters, which
    in multiprocess mode go to this worker's file, so a scrape answered by any worker sees
    the sender's pings. The gauges are 0 in every process but the sender, and add up.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.publisher: HubPublisher | None = None
        self.pings = Counter("feedsvc_websub_pings",
                             "WebSub publish pings by hub and outcome (sent, failed, retried, "
                             "dropped, deduplicated, expired).", ["hub", "outcome"],
                             registry=registry)
        self.queue_length = Gauge("feedsvc_websub_queue_length",
                                  "WebSub pings waiting or being sent by the sender.",
                                  registry=registry, multiprocess_mode="livesum")
        self.sender = Gauge("feedsvc_websub_sender",
                            "1 in the process that sends this host's WebSub pings.",
                            registry=registry, multiprocess_mode="livesum")
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def observe(self) -> None:
        """Add what the publisher counted since the last call (any thread may call it)."""
        publisher = self.publisher
        if publisher is None:
            return
        state = publisher.snapshot()
        with self._lock:
            for hub, counts in (state.get("hubs") or {}).items():
                self._add(hub, counts)
            sending = state.get("role") == "sender"
            self.sender.set(1 if sending else 0)
            self.queue_length.set(state.get("queue_length", 0) if sending else 0)

    def _add(self, hub: str, counts: Mapping[str, Any] | None) -> None:
        for outcome in WEBSUB_OUTCOMES:
            value = (counts or {}).get(outcome) or 0
            seen = self._seen.get((hub, outcome), 0)
            if value < seen:   # a new notifier (after a fork) counts from 0 again
                seen = 0
            if value > seen or (hub, outcome) not in self._seen:
                self.pings.labels(hub, outcome).inc(value - seen)
            self._seen[(hub, outcome)] = value
