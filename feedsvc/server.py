"""Run the app under gunicorn (or granian), configured in code: the command is ``feedsvc serve``."""
from __future__ import annotations

import functools
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
SERVERS = ("gunicorn", "granian")
# One line per request: client, time, request line, status, bytes, referer, agent, µs.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(r)s" %(s)s %(B)s "%(f)s" "%(a)s" %(D)sus'


class StderrLogger(Logger):
    """gunicorn's logger with the access log on stderr too (gunicorn puts "-" on stdout).

    It also formats the access line from the atoms ACCESS_LOG_FORMAT uses only: gunicorn's
    own ``atoms()`` copies every request header, response header and environ key into a
    dict for each line, whatever the format asks for.
    """

    def setup(self, cfg: Any) -> None:
        """Set gunicorn's handlers up, then move the access log's stream to stderr."""
        super().setup(cfg)
        for handler in self.access_log.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                handler.setStream(sys.stderr)

    def atoms(self, resp: Any, req: Any, environ: Mapping[str, Any],
              request_time: Any) -> dict[str, Any]:
        """Return the atoms of ACCESS_LOG_FORMAT, as gunicorn's ``atoms()`` computes them."""
        if self.cfg.access_log_format != ACCESS_LOG_FORMAT:
            return super().atoms(resp, req, environ, request_time)
        status = resp.status
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "t": self.now(),
            "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}",
            "s": status.split(None, 1)[0] if isinstance(status, str) else status,
            "B": getattr(resp, "sent", None),
            "f": environ.get("HTTP_REFERER", "-"),
            "a": environ.get("HTTP_USER_AGENT", "-"),
            "D": request_time.seconds * 1_000_000 + request_time.microseconds,
        }


def gunicorn_options(host: str, port: int, workers: int, log_level: str, *,
                     threads: int = DEFAULT_THREADS, access_log: bool = True) -> dict[str, Any]:
    """Return the gunicorn settings ``feedsvc serve`` runs with (docs/service.md).

    One thread means gunicorn's sync worker: one request at a time per process and no
    keep-alive (gunicorn's sync worker closes every connection).
    """
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread" if threads > 1 else "sync",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-" if access_log else None,
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
          workers: int = DEFAULT_WORKERS, log_level: str = "INFO", *,
          server: str = "gunicorn", threads: int = DEFAULT_THREADS,
          access_log: bool = True) -> int:
    """Run gunicorn (or granian) in the foreground until it is stopped; return its status."""
    config = None if config_file is None else str(config_file)
    if server == "granian":
        return serve_granian(overrides, config, host, port, workers, log_level,
                             threads=threads, access_log=access_log)
    options = gunicorn_options(host, port, workers, log_level, threads=threads,
                               access_log=access_log)
    app = FeedsvcServer(overrides, config, options)
    try:
        app.run()
    except SystemExit as exc:   # gunicorn exits through sys.exit; pass its code on
        return exc.code if isinstance(exc.code, int) else 1
    return 0


# --- granian (optional: pip install 'feedsvc[granian]') -------------------------------------

# granian's access line has no byte count; otherwise the fields of ACCESS_LOG_FORMAT.
GRANIAN_ACCESS_FORMAT = ('%(addr)s [%(time)s] "%(method)s %(path)s %(protocol)s" %(status)d '
                         '"%(header{referer})s" "%(header{user-agent})s" %(dt_ms).3fms')


def granian_logging() -> dict[str, Any]:
    """Return granian's logging config with both its logs on stderr (it uses stdout)."""
    stream = "ext://sys.stderr"
    return {
        "formatters": {"generic": {"()": "logging.Formatter", "fmt": "[%(levelname)s] %(message)s"},
                       "access": {"()": "logging.Formatter", "fmt": "%(message)s"}},
        "handlers": {"console": {"formatter": "generic", "class": "logging.StreamHandler",
                                 "stream": stream},
                     "access": {"formatter": "access", "class": "logging.StreamHandler",
                                "stream": stream}},
    }


def granian_app(overrides: Mapping[str, Any], config_file: str | None, target: str) -> Any:
    """Return the WSGI app; granian calls this in each worker (*target* is unused)."""
    from . import create_app
    return create_app(overrides, config_file=config_file)


def serve_granian(overrides: Mapping[str, Any], config_file: str | None, host: str, port: int,
                  workers: int, log_level: str, *, threads: int = DEFAULT_THREADS,
                  access_log: bool = True) -> int:
    """Run granian's WSGI server with *threads* Python threads per worker process."""
    try:
        from granian import Granian
        from granian.constants import Interfaces
        from granian.log import LogLevels
    except ImportError:
        print("feedsvc serve: --server granian needs granian: pip install 'feedsvc[granian]'",
              file=sys.stderr)
        return 2
    server = Granian(
        "feedsvc:create_app", address=host, port=port, interface=Interfaces.WSGI,
        workers=workers, blocking_threads=threads,
        log_level=LogLevels(log_level.lower()), log_dictconfig=granian_logging(),
        log_access=access_log, log_access_format=GRANIAN_ACCESS_FORMAT,
        websockets=False, workers_kill_timeout=10)
    server.serve(target_loader=functools.partial(granian_app, dict(overrides), config_file))
    return 0
