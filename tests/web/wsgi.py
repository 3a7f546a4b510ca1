"""Calling a WSGI app (the fast path, or Flask behind it) once, without the test client."""
from __future__ import annotations

from werkzeug.test import EnvironBuilder

Header = tuple[str, str]


def call(wsgi, path: str, method: str = "GET",
         headers: dict[str, str] | None = None) -> tuple[str, list[Header], bytes]:
    """Call *wsgi* once; return (status line, header list, body).

    A *path* starting with ``//`` reaches the app as it is, as gunicorn passes it (the
    builder alone would read ``//x/y`` as host ``x``).
    """
    environ = EnvironBuilder(path="/" + path.lstrip("/"), method=method,
                             headers=headers or {}).get_environ()
    if path.startswith("//"):
        environ["PATH_INFO"] = path
    started = []
    result = wsgi(environ, lambda status, headers, exc_info=None: started.append(
        (status, list(headers))))
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return started[0][0], started[0][1], body
