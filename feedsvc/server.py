"""Run the app under gunicorn, configured in code so the command is just ``feedsvc serve``."""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 4
# One line per request: client, time, request line, status, bytes, referer, agent, µs.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(r)s" %(s)s %(B)s "%(f)s" "%(a)s" %(D)sus'


class StderrLogger(Logger):
    """gunicorn's logger with the access log on stderr too (gunicorn puts "-" on stdout)."""

    def setup(self, cfg: Any) -> None:
        """Set gunicorn's handlers up, then move the access log's stream to stderr."""
        super().setup(cfg)
        for handler in self.access_log.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                handler.setStream(sys.stderr)


def gunicorn_options(host: str, port: int, workers: int, log_level: str) -> dict[str, Any]:
    """Return the gunicorn settings ``feedsvc serve`` runs with (docs/service.md)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": DEFAULT_THREADS,
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": StderrLogger,
        "loglevel": log_level.lower(),
        "proc_name": "feedsvc",
        "preload_app": False,   # each worker loads its own site (and will run its own scheduler)
        # gunicorn >= 25.1 opens a control socket at one fixed path per user: two servers
        # would fight over it, and feedsvc does not use gunicornc.
        "control_socket_disable": True,
    }


class FeedsvcServer(BaseApplication):
    """A gunicorn application whose workers each build the app with the same settings."""

    def __init__(self, overrides: Mapping[str, Any], config_file: str | None,
                 options: Mapping[str, Any]) -> None:
        self.overrides = dict(overrides)
        self.config_file = config_file
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        """Apply our options to gunicorn's settings."""
        for key, value in self.options.items():
            if key in self.cfg.settings:   # skip what an older gunicorn does not know
                self.cfg.set(key, value)

    def load(self) -> Any:
        """Return the WSGI app; gunicorn calls this in each worker."""
        from . import create_app
        return create_app(self.overrides, config_file=self.config_file)


def serve(overrides: Mapping[str, Any], config_file: str | os.PathLike[str] | None,
          host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          workers: int = DEFAULT_WORKERS, log_level: str = "INFO") -> int:
    """Run gunicorn in the foreground until it is stopped; return its exit status."""
    options = gunicorn_options(host, port, workers, log_level)
    server = FeedsvcServer(overrides, None if config_file is None else str(config_file), options)
    try:
        server.run()
    except SystemExit as exc:   # gunicorn exits through sys.exit; pass its code on
        return exc.code if isinstance(exc.code, int) else 1
    return 0
