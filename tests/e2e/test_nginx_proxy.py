"""`feedsvc nginx-config --full` run by a real nginx as a caching reverse proxy in front of a
real `feedsvc serve` (docs/deploy.md).

Needs Debian's `nginx` binary (.ci/run installs it); without it these tests fail, they are not
skipped. nginx runs in the foreground on 127.0.0.1 with everything it writes in tmp_path
(tests/support/nginx.py). Every wait is a polling loop with a deadline. The command's flags
and its documentation, which need no process, are tested in tests/test_cli.py.
"""
from __future__ import annotations

import datetime as dt
import gzip
import http.client
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from feedsvc.nginx import UNCACHED_PATHS, render_nginx_config
from tests.support.net import free_port
from tests.support.nginx import check_config, start_nginx, write_config
from tests.support.serve import child_env, serving, stop

WAIT = 10.0
# Documents of every kind: feeds in the three formats, a category feed, a Chinese tag feed,
# a jekyll-feed path, an HTML page and the OPML list.
URLS = ["/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/feeds/categories/metro.rss",
        "/feeds/tags/%E5%A4%A9%E6%B0%94%E9%A2%84%E6%8A%A5.atom", "/feed.xml",
        "/feeds/categories/metro", "/", "/feeds.opml"]
# Spellings clients really send; each must land on one of the two cached variants.
GZIP_SPELLINGS = ["gzip", "gzip, deflate", "gzip, deflate, br, zstd", "br;q=1.0, gzip;q=1.0",
                  "x-gzip"]
PLAIN_SPELLINGS = ["identity", "gzip;q=0", "deflate, br", ""]
NEW_POST = """\
---
title: "Through the proxy {marker}"
date: {date}
categories: metro
---
<p>{marker}</p>
"""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]   # names in lower case
    body: bytes


def get(port: int, path: str, headers: dict[str, str] | None = None) -> Reply:
    """GET *path* from 127.0.0.1:*port* with exactly *headers* (http.client adds no
    Accept-Encoding of its own when one is given)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        sent = {"Accept-Encoding": "identity", **(headers or {})}
        if sent["Accept-Encoding"] == "":
            connection.putrequest("GET", path, skip_accept_encoding=True)
            del sent["Accept-Encoding"]
            for name, value in sent.items():
                connection.putheader(name, value)
            connection.endheaders()
        else:
            connection.request("GET", path, headers=sent)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                     response.read())
    finally:
        connection.close()


def proxy_nginx(work: Path, upstream_port: int) -> tuple[subprocess.Popen, int]:
    """Write ``feedsvc nginx-config --full`` into *work*, run nginx with it; return it, port."""
    port = free_port()
    conf = write_config(work, render_nginx_config(f"127.0.0.1:{upstream_port}",
                                                  f"127.0.0.1:{port}", str(work), "_", True))
    return start_nginx(conf, work, port), port


@dataclass
class Stack:
    site: Path
    feedsvc: subprocess.Popen
    direct: int     # feedsvc's port
    nginx: subprocess.Popen
    proxy: int      # nginx's port
    work: Path      # nginx's --cache-dir
    settings: dict[str, str]


@pytest.fixture
def stack(tmp_path, sample_site, request) -> Iterator[Stack]:
    """feedsvc serve on a copy of the sample site, nginx --full in front of it.

    ``@pytest.mark.parametrize("stack", [{"cache_max_age": "2"}], indirect=True)`` sets
    FEEDSVC_* settings; the default is feedsvc's own (max-age 300, no reload in the test).
    """
    settings = dict(getattr(request, "param", None) or {"auto_reload": "false"})
    env = child_env(**{f"FEEDSVC_{key.upper()}": value for key, value in settings.items()})
    with serving(tmp_path / "feedsvc.log", "--site", str(sample_site), "--workers", "1",
                 env=env) as feedsvc:
        work = tmp_path / "nginx"
        nginx, proxy = proxy_nginx(work, feedsvc.port)
        stack = Stack(sample_site, feedsvc.process, feedsvc.port, nginx, proxy, work, settings)
        try:
            yield stack
        finally:
            stop(stack.nginx)   # the one running now: a test may have started another


# --- the generated config is valid nginx ----------------------------------------------------

def test_nginx_t_accepts_the_full_config(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_nginx_config("127.0.0.1:8000", "127.0.0.1:8080", str(tmp_path),
                                        "feeds.example.com", True), encoding="utf-8")
    result = check_config(conf, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_t_accepts_the_parts_inside_an_http_block(tmp_path):
    """The default output (no --full) is valid inside http { }: the cache path and maps at
    http level, then the server. Its access log path is moved into tmp_path for the test."""
    parts = render_nginx_config("localhost:8000", "8080", str(tmp_path / "cache"), "_", False)
    default_log = "/var/log/nginx/feedsvc.access.log"
    assert default_log in parts
    parts = parts.replace(default_log, str(tmp_path / "access.log"))
    temp = "".join(f"{name}_temp_path {tmp_path / name};\n"
                   for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\n"
                    f"events {{}}\nhttp {{\n{temp}{parts}}}\n", encoding="utf-8")
    result = check_config(conf, tmp_path)
    assert result.returncode == 0, result.stderr


# --- through nginx: the service's bytes, cached -----------------------------------------------

def test_bodies_and_validators_through_nginx_are_the_services(stack):
    for url in URLS:
        for encoding in ("identity", "gzip"):
            direct = get(stack.direct, url, {"Accept-Encoding": encoding})
            first = get(stack.proxy, url, {"Accept-Encoding": encoding})
            second = get(stack.proxy, url, {"Accept-Encoding": encoding})
            assert direct.status == first.status == second.status == 200, url
            assert first.headers["x-cache-status"] == "MISS", (url, encoding)
            assert second.headers["x-cache-status"] == "HIT", (url, encoding)
            for reply in (first, second):
                assert reply.body == direct.body, (url, encoding)
                for name in ("etag", "content-type", "last-modified", "cache-control",
                             "vary", "x-content-type-options"):
                    assert reply.headers.get(name) == direct.headers.get(name), (url, name)
                assert reply.headers.get("content-encoding") == \
                    (None if encoding == "identity" else "gzip")
            if encoding == "gzip":   # feedsvc's own gzip bytes, not compressed again
                assert direct.headers["etag"].endswith('-gz"')
                plain = get(stack.direct, url, {"Accept-Encoding": "identity"}).body
                assert gzip.decompress(first.body) == plain


def test_if_none_match_is_answered_304_by_nginx_from_the_cache(stack):
    url = "/feeds/all.atom"
    for encoding in ("identity", "gzip"):
        stored = get(stack.proxy, url, {"Accept-Encoding": encoding})
        for tag in (stored.headers["etag"], "W/" + stored.headers["etag"],
                    f'"other", {stored.headers["etag"]}'):
            reply = get(stack.proxy, url, {"Accept-Encoding": encoding, "If-None-Match": tag})
            assert (reply.status, reply.body) == (304, b""), (encoding, tag)
            assert reply.headers["x-cache-status"] == "HIT"
            assert reply.headers["etag"] == stored.headers["etag"]
            assert reply.headers["cache-control"] == stored.headers["cache-control"]
            assert "content-encoding" not in reply.headers
        changed = get(stack.proxy, url, {"Accept-Encoding": encoding,
                                         "If-None-Match": '"not-this-one"'})
        assert (changed.status, changed.body) == (200, stored.body)


def test_every_accept_encoding_spelling_shares_one_of_two_cache_entries(stack):
    url = "/feeds/all.rss"
    plain = get(stack.direct, url, {"Accept-Encoding": "identity"}).body
    packed = get(stack.direct, url, {"Accept-Encoding": "gzip"}).body
    assert get(stack.proxy, url, {"Accept-Encoding": "gzip"}).headers["x-cache-status"] == "MISS"
    assert get(stack.proxy, url, {"Accept-Encoding": "identity"}).headers["x-cache-status"] == \
        "MISS"
    for spellings, body, encoding in ((GZIP_SPELLINGS, packed, "gzip"),
                                      (PLAIN_SPELLINGS, plain, None)):
        for spelling in spellings:
            reply = get(stack.proxy, url, {"Accept-Encoding": spelling})
            assert reply.headers["x-cache-status"] == "HIT", spelling
            assert reply.body == body, spelling
            assert reply.headers.get("content-encoding") == encoding, spelling
    # A query string (which feedsvc ignores) shares the entry too.
    reply = get(stack.proxy, url + "?utm_source=test", {"Accept-Encoding": "gzip"})
    assert (reply.headers["x-cache-status"], reply.body) == ("HIT", packed)


def test_health_and_metrics_are_never_cached(stack):
    for path in ("/healthz", "/metrics"):
        for _ in range(3):
            reply = get(stack.proxy, path)
            assert reply.status == 200, path
            assert "x-cache-status" not in reply.headers, path
    # The config names /livez and /readyz ahead of time: feedsvc answers them 404 (with
    # max-age=60) today, and nginx must not keep even that.
    assert set(UNCACHED_PATHS) == {"/healthz", "/livez", "/readyz", "/metrics"}
    for path in ("/livez", "/readyz"):
        for _ in range(2):
            assert "x-cache-status" not in get(stack.proxy, path).headers, path
    # The access log says so too (docs/deploy.md, "Logs").
    lines = (stack.work / "access.log").read_text().splitlines()
    health = [line for line in lines if '"GET /healthz ' in line]
    assert len(health) >= 3 and all(" cache=- " in line for line in health), health


# --- freshness and outages (cache_max_age 2 s, reload every 1 s) ------------------------------

FAST = {"cache_max_age": "2", "reload_interval": "1"}


@pytest.mark.parametrize("stack", [FAST], indirect=True)
def test_a_new_post_shows_through_nginx_within_max_age_plus_reload_interval(stack):
    url = "/feeds/all.atom"
    for encoding in ("identity", "gzip"):
        get(stack.proxy, url, {"Accept-Encoding": encoding})
        assert get(stack.proxy, url, {"Accept-Encoding": encoding}).headers[
            "x-cache-status"] == "HIT"
    marker = f"proxy-freshness-{time.time_ns()}"
    date = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)   # the newest post
    (stack.site / "_posts" / f"{date:%Y-%m-%d}-through-the-proxy.md").write_text(
        NEW_POST.format(marker=marker, date=f"{date:%Y-%m-%d %H:%M:%S} +0000"),
        encoding="utf-8")
    written = time.monotonic()
    # cache_max_age + reload_interval, plus one second: nginx keeps time in whole seconds,
    # so an entry stored at x.0 s stays fresh until (x + max-age + 1).0 s; plus half a
    # second for polling and a busy machine.
    limit = int(stack.settings["cache_max_age"]) + int(stack.settings["reload_interval"]) + 1.5
    seen: dict[str, float] = {}
    while len(seen) < 2 and time.monotonic() - written < limit + 5:
        for encoding in ("identity", "gzip"):
            if encoding in seen:
                continue
            reply = get(stack.proxy, url, {"Accept-Encoding": encoding})
            body = gzip.decompress(reply.body) if encoding == "gzip" else reply.body
            if marker.encode() in body:
                seen[encoding] = time.monotonic() - written
        time.sleep(0.1)
    assert set(seen) == {"identity", "gzip"}, f"not visible within {limit + 5} s: {seen}"
    print(f"visible through nginx after {seen}")
    assert max(seen.values()) <= limit, seen
    # And it is nginx's copy, byte for byte the service's.
    for encoding in ("identity", "gzip"):
        direct = get(stack.direct, url, {"Accept-Encoding": encoding})
        assert get(stack.proxy, url, {"Accept-Encoding": encoding}).body == direct.body


@pytest.mark.parametrize("stack", [FAST], indirect=True)
def test_with_feedsvc_stopped_nginx_serves_the_stale_feeds(stack):
    urls = ["/feeds/all.atom", "/feeds/categories/metro.rss"]
    stored = {}
    for url in urls:
        for encoding in ("identity", "gzip"):
            stored[url, encoding] = get(stack.proxy, url, {"Accept-Encoding": encoding})
            assert stored[url, encoding].status == 200
    stop(stack.feedsvc)
    # Wait out the entries' freshness (max-age 2 s, +1 s for nginx's whole-second clock).
    expired = time.monotonic() + int(stack.settings["cache_max_age"]) + 1.5
    while time.monotonic() < expired:
        time.sleep(0.1)
    for _ in range(2):   # and again, after the failed background update
        for (url, encoding), before in stored.items():
            reply = get(stack.proxy, url, {"Accept-Encoding": encoding})
            assert reply.status == 200, (url, encoding)
            assert reply.headers["x-cache-status"] in {"STALE", "UPDATING"}, (url, encoding)
            assert reply.body == before.body
            assert reply.headers["etag"] == before.headers["etag"]
    # Health is not cached: it tells the truth (nginx cannot reach feedsvc).
    assert get(stack.proxy, "/healthz").status == 502
    # A feed never cached has nothing stale to give.
    assert get(stack.proxy, "/feeds/all.json").status == 502
    # The cache is on disk: a new nginx on the same --cache-dir still has every copy
    # (nginx opens the files of a cache it has not indexed yet).
    stop(stack.nginx)
    stack.nginx, stack.proxy = proxy_nginx(stack.work, stack.direct)
    for (url, encoding), before in stored.items():
        reply = get(stack.proxy, url, {"Accept-Encoding": encoding})
        assert (reply.status, reply.headers["x-cache-status"]) == (200, "STALE"), url
        assert reply.body == before.body
