"""Prometheus metrics: requests by route and status, reload durations, the site's gauges."""
from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..site import Published, ReloadStatus, Site
from .health import snapshot_age


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

    def register_site(self, site: Site) -> None:
        """Report *site*'s snapshot and reload status on every scrape."""
        self.registry.register(SiteCollector(site))

    def observe_reload(self, published: Published, status: ReloadStatus) -> None:
        """Record a successful reload's duration (a :class:`Site` ``on_reload`` hook)."""
        if status.last_duration is not None:
            self.reload_seconds.observe(status.last_duration)

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
