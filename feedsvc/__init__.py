"""feedsvc: RSS 2.0, Atom 1.0 and JSON Feed 1.1 for Jekyll-style ``_posts/`` content stores."""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the store and builder never need Flask; import it only for the app
    from .dates import Clock
    from .web import FeedsvcApp

log = logging.getLogger(__name__)

# The one place the version is written: setup.cfg reads it (version = attr:).
__version__ = "0.2.0"


def create_app(config: Mapping[str, Any] | None = None, *,
               config_file: str | os.PathLike[str] | None = None,
               clock: Clock | None = None, workers: int | None = None) -> FeedsvcApp:
    """Return the feedsvc Flask app; *config* overrides every other settings layer.

    Load the settings (a bad one raises ConfigError naming the key), load the site once
    and register the web layer, with its fast path for documents in front. A failed first
    load does not stop start-up: the app then answers 503 until a reload succeeds. Then
    start the reload scheduler in the process that serves, unless ``auto_reload`` is off
    (docs/freshness.md). *workers*: how many processes serve alongside (``feedsvc serve``
    says; None: unknown), which decides whether WebSub pings wait for the others to reload.
    """
    from .config import load_settings
    from .dates import utc_now
    from .logs import configure_logging
    from .publisher import HubPublisher, host_lock_dir
    from .scheduler import attach as attach_scheduler
    from .site import Site, hooks
    from .web import FeedsvcApp, Metrics, init_app, install_fast_path
    from .web.metrics import multiprocess_dir

    settings = load_settings(config, config_file=config_file)
    configure_logging(settings.log_level, settings.log_format)
    app = FeedsvcApp(__name__, static_folder=None)
    metrics = Metrics(__version__)
    publisher = None
    if settings.websub_hubs:   # docs/aggregators.md: one sender per host
        shared = multiprocess_dir()   # set: a server's worker, perhaps one of many
        lock_dir = (host_lock_dir(settings) or shared) if shared else None
        publisher = HubPublisher.for_server(settings, lock_dir, workers)
        metrics.register_websub(publisher)
    site = Site(settings, clock or utc_now, on_reload=hooks(
        metrics.observe_reload, publisher and publisher.on_reload))
    metrics.register_site(site)
    # With cache_dir, serve the last run's documents at once and catch up right after;
    # else load first (docs/deploy.md, "Restarts").
    restored = site.restore()
    if not restored and site.try_reload() is None:   # logged and recorded; /healthz shows it
        log.warning("first load failed; answering 503 until a reload succeeds")
    state = init_app(app, site, metrics, publisher)
    # After the first load (docs/freshness.md).
    state.scheduler = attach_scheduler(app, site, settings, catch_up=restored)
    install_fast_path(app)   # documents without Flask's request cycle (docs/service.md)
    return app
