"""``feedsvc nginx-config``: an nginx config for a caching reverse proxy in front of ``feedsvc serve``.

``render_nginx_config()`` is a pure function of its five arguments (no file, clock or
environment is read), so the same flags always print the same bytes. docs/deploy.md explains
the output line by line; tests/e2e/test_nginx_proxy.py runs it with a real nginx.
"""
from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from collections.abc import Callable

DEFAULT_UPSTREAM = "127.0.0.1:8000"
DEFAULT_LISTEN = "8080"
DEFAULT_CACHE_DIR = "/var/cache/nginx/feedsvc"
DEFAULT_SERVER_NAME = "_"

# Paths that must never come from the cache: health (a cached "ok" would hide an outage)
# and metrics (a cached scrape is a wrong one). /livez and /readyz are named ahead of time.
UNCACHED_PATHS = ("/healthz", "/livez", "/readyz", "/metrics")

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_SERVER_NAME = re.compile(r"^(?:_|(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?:\.\*)?)$")
# Characters that would end or bend an nginx directive, or start a variable or a comment.
_UNSAFE_PATH = re.compile(r"[\s;{}\"'\\$#]|[\x00-\x1f\x7f]")


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{what}: the port must be a number from 1 to 65535, got {text!r}")
    return int(text)


def _host(text: str, what: str) -> str:
    if text.startswith("[") and text.endswith("]"):
        try:
            ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise ValueError(f"{what}: {text!r} is not an IPv6 address") from None
        return text
    if _HOSTNAME.match(text):
        return text
    raise ValueError(f"{what}: {text!r} is not a host name, an IPv4 address or [IPv6]")


def check_upstream(text: str) -> str:
    """Return *text* if it is HOST:PORT (HOST a name, IPv4 or [IPv6]); else raise ValueError."""
    what = "--upstream"
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{what}: expected HOST:PORT where feedsvc serve listens "
                         f"(e.g. 127.0.0.1:8000), got {text!r}")
    return f"{_host(host, what)}:{_port(port, what)}"


def check_listen(text: str) -> str:
    """Return *text* if it is PORT or ADDRESS:PORT (ADDRESS IPv4 or [IPv6]); else ValueError."""
    what = "--listen"
    host, sep, port = text.rpartition(":")
    if not sep:
        return str(_port(text, what))
    if host != "*":
        if host.startswith("["):
            _host(host, what)
        else:
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise ValueError(f"{what}: expected PORT or ADDRESS:PORT (e.g. 8080 or "
                                 f"127.0.0.1:8080), got {text!r}") from None
    return f"{host}:{_port(port, what)}"


def check_cache_dir(text: str) -> str:
    """Return *text* without a trailing '/' if it is a safe absolute path; else ValueError."""
    what = "--cache-dir"
    if not text.startswith("/"):
        raise ValueError(f"{what}: must be an absolute path (nginx reads a relative one "
                         f"against its prefix), got {text!r}")
    if _UNSAFE_PATH.search(text):
        raise ValueError(f"{what}: must not contain whitespace, quotes, ';', '{{', '}}', "
                         f"'$', '#' or '\\', got {text!r}")
    if any(part in (".", "..") for part in text.split("/")):
        raise ValueError(f"{what}: must not contain '.' or '..' segments, got {text!r}")
    return text.rstrip("/") or "/"


def check_server_name(text: str) -> str:
    """Return *text* if it is '_' or host names (with nginx's '*.' / '.*' wildcards)."""
    names = text.split()
    if not names or not all(_SERVER_NAME.match(name) for name in names):
        raise ValueError(f"--server-name: expected '_' or host names separated by spaces "
                         f"(e.g. feeds.example.com), got {text!r}")
    return " ".join(names)


def render_nginx_config(upstream: str = DEFAULT_UPSTREAM, listen: str | int = DEFAULT_LISTEN,
                        cache_dir: str = DEFAULT_CACHE_DIR,
                        server_name: str = DEFAULT_SERVER_NAME, full: bool = False) -> str:
    """Return a commented nginx config for caching ``feedsvc serve`` at *upstream*.

    Without *full*: the http-level part (cache path, maps, upstream, log format), then the
    ``server`` block, each clearly marked; both go inside ``http { }`` (e.g. one file in
    /etc/nginx/conf.d/). With *full*: a whole nginx.conf that keeps its pid, logs and temp
    files in *cache_dir* and the cache in *cache_dir*/cache, so ``nginx -p DIR -c FILE``
    runs it unprivileged. A bad argument raises ValueError naming its command-line flag.
    """
    upstream = check_upstream(upstream)
    listen = check_listen(str(listen))
    cache_dir = check_cache_dir(cache_dir)
    server_name = check_server_name(server_name)
    base = cache_dir.rstrip("/")
    cache_path = f"{base}/cache" if full else cache_dir
    access_log = f"{base}/access.log" if full else "/var/log/nginx/feedsvc.access.log"
    http_part = _HTTP_PART.format(cache_path=cache_path, upstream=upstream)
    server_part = _SERVER_PART.format(listen=listen, server_name=server_name,
                                      access_log=access_log,
                                      uncached="".join(_UNCACHED.format(path=path)
                                                       for path in UNCACHED_PATHS))
    if not full:
        return (_HEADER.format(upstream=upstream) + _HTTP_MARK + _indent(http_part, 0)
                + _SERVER_MARK + server_part)
    return _FULL.format(upstream=upstream, base=base, http_part=_indent(http_part, 4),
                        server_part=_indent(server_part, 4))


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))


_HEADER = """\
# nginx as a caching reverse proxy in front of `feedsvc serve` at {upstream}.
# Printed by `feedsvc nginx-config`; every line is explained in docs/deploy.md.
#
# Both parts below belong inside nginx's http {{ }} block: Debian includes
# /etc/nginx/conf.d/*.conf there, so the whole output can go in one such file.
# `feedsvc nginx-config --full` prints a standalone nginx.conf instead.

"""

_HTTP_MARK = """\
# ===== http-level part: goes in http { }, once per nginx (not inside a server) =====

"""

_SERVER_MARK = """
# ===== server part: the virtual server that proxies to feedsvc =====

"""

_HTTP_PART = r"""# The cache: keys in 10 MB of shared memory (about 80,000 keys), responses on disk under
# the path below (two levels of hashed folders). A response unused for a day is removed,
# so stale feeds can be served through a day's outage; at most 1 GB on disk. Files are
# written straight into the cache folder (no copy from proxy_temp_path).
proxy_cache_path {cache_path} levels=1:2 keys_zone=feedsvc:10m
                 max_size=1g inactive=1d use_temp_path=off;

# The one request header feedsvc's answer depends on (it sends Vary: Accept-Encoding):
# "gzip" when the client takes gzip at full quality, else "" (the plain body). This is
# forwarded instead of the client's header and is part of the cache key, so each URL has
# exactly two cached variants, however many spellings of Accept-Encoding clients send.
# Conservative: a client never gets gzip it did not ask for; gzip;q=0.5 gets the plain body.
map $http_accept_encoding $feedsvc_gzip {{
    default "";
    "~*(^|,)[ \t]*(x-)?gzip[ \t]*(;[ \t]*q[ \t]*=[ \t]*1(\.0{{0,3}})?[ \t]*)?(,|$)" gzip;
}}

# The request path without its query string: feedsvc ignores queries, so
# /feeds/all.rss?utm_source=x is the same document and shares one cache entry.
map $request_uri $feedsvc_path {{
    "~^(?<feedsvc_p>[^?]*)" $feedsvc_p;
}}

# feedsvc itself; idle HTTP/1.1 connections are kept for reuse (8 per nginx worker),
# closed after 4 s idle: before gunicorn's own keep-alive (5 s) ends them, so nginx
# never sends a request on a connection gunicorn is closing.
upstream feedsvc {{
    server {upstream};
    keepalive 8;
    keepalive_timeout 4s;
}}

# Access log with the cache status (HIT, MISS, EXPIRED, STALE, UPDATING, REVALIDATED).
log_format feedsvc '$remote_addr [$time_local] "$request" $status $body_bytes_sent '
                   '"$http_user_agent" cache=$upstream_cache_status '
                   'upstream=$upstream_response_time time=$request_time';
"""

_SERVER_PART = """server {{
    listen {listen};
    server_name {server_name};
    access_log {access_log} feedsvc;

    # feedsvc sends its own precompressed gzip (with its own ETag): never compress again,
    # never decompress.
    gzip off;
    gunzip off;

    # HTTP/1.1 with an empty Connection header, so upstream connections are kept alive.
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    # Only "gzip" or nothing (the header is dropped when empty); see the map above.
    proxy_set_header Accept-Encoding $feedsvc_gzip;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    # feedsvc answers in milliseconds; gunicorn kills a request after 30 s.
    proxy_connect_timeout 5s;
    proxy_read_timeout 30s;

    proxy_cache feedsvc;
    # One entry per path and encoding: never the Host (feedsvc ignores it, so a forged Host
    # cannot fill the cache) nor the query string.
    proxy_cache_key "$feedsvc_path $feedsvc_gzip";
    # The key already holds the only header feedsvc varies on. Vary: Accept-Encoding still
    # reaches clients; nginx just does not keep one variant per raw Accept-Encoding value.
    proxy_ignore_headers Vary;
    # No proxy_cache_valid: how long a response stays fresh is feedsvc's Cache-Control
    # max-age (cache_max_age; 60 s for a 404); no-store (/healthz, /metrics, 503) is
    # never cached.
    # An expired entry is revalidated with If-None-Match / If-Modified-Since, so an
    # unchanged feed costs feedsvc a 304, not the whole body.
    proxy_cache_revalidate on;
    # Serve the stale copy while feedsvc is down, failing or being asked for a fresh one;
    # refresh it in the background, so no client waits for feedsvc once a copy exists.
    proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
    proxy_cache_background_update on;
    # One request per key fills an empty entry; the others wait for it (up to 5 s).
    proxy_cache_lock on;
    # Answer If-Modified-Since as feedsvc does: 304 when Last-Modified <= the date
    # (nginx's default, "exact", wants equal dates). If-None-Match is answered from the
    # cached ETag (weak comparison), as feedsvc does.
    if_modified_since before;
    # HIT, MISS, EXPIRED, STALE, UPDATING or REVALIDATED; absent where nothing is cached.
    add_header X-Cache-Status $upstream_cache_status always;

    location / {{
        proxy_pass http://feedsvc;
    }}

    # Health and metrics always come from feedsvc, never from the cache.
{uncached}}}
"""

_UNCACHED = """    location = {path} {{
        proxy_cache off;
        proxy_pass http://feedsvc;
    }}
"""

_FULL = """\
# A standalone nginx.conf: nginx as a caching reverse proxy in front of `feedsvc serve`
# at {upstream}. Printed by `feedsvc nginx-config --full`; explained in docs/deploy.md.
# Everything nginx writes is under {base}/, so it runs unprivileged:
#   nginx -p {base} -c {base}/nginx.conf -e stderr
# (the folder must exist; nginx creates the ones inside it). The cache has a folder of its
# own, cache/: nginx's cache loader deletes every other file it finds in a cache folder.

worker_processes auto;
pid {base}/nginx.pid;
error_log {base}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    server_tokens off;
    # Temp folders for request bodies and upstream answers, inside {base}/.
    client_body_temp_path {base}/client_body_temp;
    proxy_temp_path {base}/proxy_temp;
    fastcgi_temp_path {base}/fastcgi_temp;
    uwsgi_temp_path {base}/uwsgi_temp;
    scgi_temp_path {base}/scgi_temp;

{http_part}
{server_part}}}
"""


def _flag(check: Callable[[str], str]) -> Callable[[str], str]:
    """Turn a checker's ValueError into argparse's error (which names the flag, exit 2)."""
    def convert(text: str) -> str:
        try:
            return check(text)
        except ValueError as exc:
            message = str(exc)
            raise argparse.ArgumentTypeError(message.split(": ", 1)[-1]) from None
    convert.__name__ = check.__name__
    return convert


def cmd_nginx_config(args: argparse.Namespace) -> int:
    """Print the nginx config (docs/deploy.md)."""
    sys.stdout.write(render_nginx_config(args.upstream, args.listen, args.cache_dir,
                                         args.server_name, args.full))
    return 0


def add_subcommand(commands: argparse._SubParsersAction) -> None:
    """Register ``feedsvc nginx-config`` on the CLI's subcommands."""
    parser = commands.add_parser(
        "nginx-config", help="print an nginx config for a caching reverse proxy in front "
        "of feedsvc serve (docs/deploy.md)")
    parser.add_argument("--upstream", metavar="HOST:PORT", type=_flag(check_upstream),
                        default=DEFAULT_UPSTREAM,
                        help="where feedsvc serve listens (default: %(default)s)")
    parser.add_argument("--listen", metavar="PORT", type=_flag(check_listen),
                        default=DEFAULT_LISTEN,
                        help="nginx's port, or ADDRESS:PORT (default: %(default)s)")
    parser.add_argument("--cache-dir", metavar="DIR", type=_flag(check_cache_dir),
                        default=DEFAULT_CACHE_DIR,
                        help="the cache folder; with --full, nginx's whole working folder "
                        "(default: %(default)s)")
    parser.add_argument("--server-name", metavar="NAME", type=_flag(check_server_name),
                        default=DEFAULT_SERVER_NAME,
                        help="nginx server_name (default: %(default)s, any name)")
    parser.add_argument("--full", action="store_true",
                        help="print a standalone nginx.conf (events, http, pid, temp paths "
                        "under --cache-dir) instead of the parts to include in http { }")
    parser.set_defaults(func=cmd_nginx_config)
