"""Run the app under gunicorn (or granian), configured in code: the command is ``feedsvc serve``."""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from .logs import AccessFields, dict_config_formatter, make_formatter

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"   # read by prometheus_client at import

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

    log_format = "text"   # set by serve(): feedsvc's format for gunicorn's lines too

    def setup(self, cfg: Any) -> None:
        """Set gunicorn's handlers up with feedsvc's format, the access log on stderr too."""
        super().setup(cfg)
        for handler in self.access_log.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                handler.setStream(sys.stderr)
        for handler in self.access_log.handlers + self.error_log.handlers:
            handler.setFormatter(make_formatter(self.log_format))
        if self.log_format == "json" and not any(isinstance(f, AccessFields)
                                                 for f in self.access_log.filters):
            self.access_log.addFilter(AccessFields())

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
            "m": environ["REQUEST_METHOD"],   # the next three: fields of a JSON access line
            "U": environ.get("PATH_INFO", ""),
            "q": environ.get("QUERY_STRING", ""),
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
        "child_exit": child_exit,   # its metrics files: see metrics_folder()
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
        return create_app(self.overrides, config_file=self.config_file,
                          workers=self.options.get("workers"))


def serve(overrides: Mapping[str, Any], config_file: str | os.PathLike[str] | None,
          host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          workers: int = DEFAULT_WORKERS, log_level: str = "INFO", *,
          server: str = "gunicorn", threads: int = DEFAULT_THREADS,
          access_log: bool = True, log_format: str = "text") -> int:
    """Run gunicorn (or granian) in the foreground until it is stopped; return its status."""
    config = None if config_file is None else str(config_file)
    StderrLogger.log_format = log_format
    with metrics_folder():
        if server == "granian":
            return serve_granian(overrides, config, host, port, workers, log_level,
                                 threads=threads, access_log=access_log,
                                 log_format=log_format)
        options = gunicorn_options(host, port, workers, log_level, threads=threads,
                                   access_log=access_log)
        app = FeedsvcServer(overrides, config, options)
        try:
            app.run()
        except SystemExit as exc:   # gunicorn exits through sys.exit; pass its code on
            return exc.code if isinstance(exc.code, int) else 1
        return 0


@contextlib.contextmanager
def metrics_folder() -> Iterator[str]:
    """Within the block, give every worker one folder for its metrics files.

    prometheus_client's multiprocess mode (docs/service.md): the folder must exist, be empty
    and be named in the environment before any worker imports prometheus_client. One made
    here is removed afterwards; one the operator named is used and left as it is.
    """
    made = claim_metrics_folder()
    try:
        yield os.environ[MULTIPROCESS_ENV]
    finally:
        release_metrics_folder(made)


def claim_metrics_folder() -> str | None:
    """Name a new folder for metrics files in the environment, unless one is named already.

    Return the folder made here (to release), or None when the operator named one.
    """
    given = os.environ.get(MULTIPROCESS_ENV)
    if given:
        os.makedirs(given, exist_ok=True)
        return None
    folder = tempfile.mkdtemp(prefix="feedsvc-metrics-")
    os.environ[MULTIPROCESS_ENV] = folder
    return folder


def release_metrics_folder(made: str | None) -> None:
    """Remove a folder :func:`claim_metrics_folder` made, and its name from the environment."""
    if made is not None:
        if os.environ.get(MULTIPROCESS_ENV) == made:
            del os.environ[MULTIPROCESS_ENV]
        shutil.rmtree(made, ignore_errors=True)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: drop a dead worker's live gauges (its counters keep counting)."""
    if os.environ.get(MULTIPROCESS_ENV):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)


# --- granian (optional: pip install 'feedsvc[granian]') -------------------------------------

# granian's access line has no byte count; otherwise the fields of ACCESS_LOG_FORMAT.
GRANIAN_ACCESS_FORMAT = ('%(addr)s [%(time)s] "%(method)s %(path)s %(protocol)s" %(status)d '
                         '"%(header{referer})s" "%(header{user-agent})s" %(dt_ms).3fms')


def granian_logging(log_format: str = "text") -> dict[str, Any]:
    """Return granian's logging config: feedsvc's format, both logs on stderr (not stdout)."""
    stream = "ext://sys.stderr"
    return {
        "formatters": {"generic": dict_config_formatter(log_format),
                       "access": dict_config_formatter(log_format)},
        "handlers": {"console": {"formatter": "generic", "class": "logging.StreamHandler",
                                 "stream": stream},
                     "access": {"formatter": "access", "class": "logging.StreamHandler",
                                "stream": stream}},
    }


def granian_app(overrides: Mapping[str, Any], config_file: str | None, workers: int,
                target: str) -> Any:
    """Return the WSGI app; granian calls this in each worker (*target* is unused)."""
    from . import create_app
    return create_app(overrides, config_file=config_file, workers=workers)


def serve_granian(overrides: Mapping[str, Any], config_file: str | None, host: str, port: int,
                  workers: int, log_level: str, *, threads: int = DEFAULT_THREADS,
                  access_log: bool = True, log_format: str = "text") -> int:
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
        log_level=LogLevels(log_level.lower()), log_dictconfig=granian_logging(log_format),
        log_access=access_log, log_access_format=GRANIAN_ACCESS_FORMAT,
        websockets=False, workers_kill_timeout=10)
    server.serve(target_loader=functools.partial(granian_app, dict(overrides), config_file,
                                                 workers))
    return 0
