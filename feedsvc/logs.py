"""One log format for every line feedsvc and its server write: text, or JSON objects.

``configure_logging`` runs wherever the app is built (``create_app``, so also under plain
``gunicorn feedsvc.wsgi:app``, granian and ``flask run``) and in the ``feedsvc`` command:
feedsvc's loggers get the configured level, and a handler on stderr when nothing else
has set logging up. The servers' own error and access loggers use the same formatter
(:func:`make_formatter`): see ``feedsvc.server``.
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
# JSON keys, in this order; gunicorn's access atoms are added by AccessFields.
JSON_FIELDS = ("asctime", "levelname", "process", "name", "message")
JSON_RENAME = {"asctime": "time", "levelname": "level", "process": "pid", "name": "logger"}
# gunicorn's access-log atoms that a JSON access line carries as fields of its own.
ACCESS_ATOMS = {"h": "client", "m": "method", "U": "path", "q": "query", "s": "status",
                "B": "bytes", "D": "duration_us", "a": "user_agent", "f": "referer"}
_HANDLER_MARK = "_feedsvc_handler"


class AccessFields(logging.Filter):
    """Copy gunicorn's access-log atoms (the record's args) onto the record as fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the atoms of an access line; every record passes."""
        atoms = record.args
        if isinstance(atoms, Mapping):
            for atom, field in ACCESS_ATOMS.items():
                if atom in atoms:
                    setattr(record, field, atoms[atom])
        return True


def make_formatter(log_format: str = "text") -> logging.Formatter:
    """Return the formatter of *log_format*: ``text`` or ``json`` (one object per line)."""
    if log_format == "json":
        return JsonFormatter(list(JSON_FIELDS), rename_fields=JSON_RENAME,
                             json_ensure_ascii=False)
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Give feedsvc's loggers *level*, and stderr in *log_format* if nothing logs anywhere.

    A root logger that already has handlers (pytest, an embedding program) is left as it
    is; one that has ours gets the format asked for now.
    """
    logging.getLogger("feedsvc").setLevel(level)
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]
    if root.handlers and not ours:
        return
    if not ours:
        handler = logging.StreamHandler(sys.stderr)
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
        ours = [handler]
    for handler in ours:
        handler.setFormatter(make_formatter(log_format))


def dict_config_formatter(log_format: str) -> dict[str, Any]:
    """Return a ``logging.config.dictConfig`` formatter entry for *log_format*."""
    return {"()": "feedsvc.logs.make_formatter", "log_format": log_format}
