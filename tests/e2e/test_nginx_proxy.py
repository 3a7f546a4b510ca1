"""`feedsvc nginx-config --full` run by a real nginx as a caching reverse proxy in front of a
real `feedsvc serve` (docs/deploy.md).

Needs Debian's `nginx` binary (.ci/run installs it); without it these tests fail, they are not
skipped. nginx runs in the foreground on 127.0.0.1 with everything it writes in tmp_path.
Every wait is a polling loop with a deadline.
"""
from __future__ import annotations

import datetime as dt
import gzip
import http.client
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from feedsvc.cli import main
from feedsvc.config import SAMPLE_SITE
from feedsvc.nginx import UNCACHED_PATHS, render_nginx_config
from tests.test_nginx_export import find_nginx
from tests.test_serve_e2e import free_port, stop_serve, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
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


def start_feedsvc(tmp_path: Path, site: Path, **settings: str) -> tuple[subprocess.Popen, int]:
    """Start ``feedsvc serve --workers 1`` on *site* with FEEDSVC_* *settings*."""
    port = free_port()
    log = tmp_path / "feedsvc.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update({f"FEEDSVC_{key.upper()}": value for key, value in settings.items()})
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "feedsvc.cli", "serve", "--site", str(site), "--port",
             str(port), "--workers", "1"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=stderr, stderr=stderr)
    try:
        wait_until_up(process, f"http://127.0.0.1:{port}", log)
    except BaseException:
        stop_serve(process)
        raise
    return process, port


def nginx_command(work: Path) -> list[str]:
    """Return the command running the --full config in *work* in the foreground."""
    # As root, nginx's workers would run as nobody, who cannot enter pytest's tmp folders.
    globals_ = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    return [find_nginx(), "-p", str(work), "-c", str(work / "nginx.conf"), "-e", "stderr",
            "-g", globals_]


def start_nginx(work: Path, upstream_port: int) -> tuple[subprocess.Popen, int]:
    """Write ``feedsvc nginx-config --full`` into *work* and run nginx with it."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    config = render_nginx_config(f"127.0.0.1:{upstream_port}", f"127.0.0.1:{port}",
                                 str(work), "_", True)
    (work / "nginx.conf").write_text(config, encoding="utf-8")
    log = (work / "stderr.log").open("wb")
    process = subprocess.Popen(nginx_command(work), stdin=subprocess.DEVNULL,
                               stdout=log, stderr=log)
    log.close()
    deadline = time.monotonic() + WAIT
    while True:
        if process.poll() is not None:
            pytest.fail(f"nginx exited: {(work / 'stderr.log').read_text(errors='replace')}")
        try:
            get(port, "/healthz")
            return process, port
        except OSError:
            if time.monotonic() > deadline:
                stop_nginx(process)
                pytest.fail(f"nginx did not answer on {port} within {WAIT} s")
            time.sleep(0.05)


def stop_nginx(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
def stack(tmp_path, request) -> Iterator[Stack]:
    """feedsvc serve on a copy of the sample site, nginx --full in front of it.

    ``@pytest.mark.parametrize("stack", [{"cache_max_age": "2"}], indirect=True)`` sets
    FEEDSVC_* settings; the default is feedsvc's own (max-age 300, no reload in the test).
    """
    settings = dict(getattr(request, "param", None) or {"auto_reload": "false"})
    site = tmp_path / "site"
    shutil.copytree(SAMPLE_SITE, site)
    feedsvc, direct = start_feedsvc(tmp_path, site, **settings)
    work = tmp_path / "nginx"
    try:
        nginx, proxy = start_nginx(work, direct)
    except BaseException:
        stop_serve(feedsvc)
        raise
    stack = Stack(site, feedsvc, direct, nginx, proxy, work, settings)
    try:
        yield stack
    finally:
        stop_nginx(stack.nginx)
        if feedsvc.poll() is None:
            stop_serve(feedsvc)


# --- the generated config is valid nginx ----------------------------------------------------

def nginx_test(conf: Path, work: Path) -> subprocess.CompletedProcess:
    command = [find_nginx(), "-t", "-p", str(work), "-c", str(conf), "-e", "stderr"]
    if os.geteuid() == 0:
        command += ["-g", "user root;"]
    return subprocess.run(command, capture_output=True, text=True, timeout=WAIT)


def test_nginx_t_accepts_the_full_config(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_nginx_config("127.0.0.1:8000", "127.0.0.1:8080", str(tmp_path),
                                        "feeds.example.com", True), encoding="utf-8")
    result = nginx_test(conf, tmp_path)
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
    result = nginx_test(conf, tmp_path)
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
    stop_serve(stack.feedsvc)
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
    stop_nginx(stack.nginx)
    stack.nginx, stack.proxy = start_nginx(stack.work, stack.direct)
    for (url, encoding), before in stored.items():
        reply = get(stack.proxy, url, {"Accept-Encoding": encoding})
        assert (reply.status, reply.headers["x-cache-status"]) == (200, "STALE"), url
        assert reply.body == before.body


# --- the command ------------------------------------------------------------------------------

def test_defaults_and_flags(capsys):
    assert main(["nginx-config"]) == 0
    out = capsys.readouterr().out
    assert out == render_nginx_config("127.0.0.1:8000", "8080", "/var/cache/nginx/feedsvc",
                                      "_", False)
    assert "server 127.0.0.1:8000;" in out and "listen 8080;" in out
    assert "proxy_cache_path /var/cache/nginx/feedsvc " in out and "server_name _;" in out
    assert "http-level part" in out and "events" not in out
    assert main(["nginx-config", "--upstream", "[::1]:9000", "--listen", "80",
                 "--cache-dir", "/srv/nginx/", "--server-name", "feeds.example.com", "--full"]) == 0
    out = capsys.readouterr().out
    for line in ("server [::1]:9000;", "listen 80;", "server_name feeds.example.com;",
                 "proxy_cache_path /srv/nginx/cache ", "pid /srv/nginx/nginx.pid;",
                 "proxy_temp_path /srv/nginx/proxy_temp;", "events {", "http {"):
        assert line in out, line


@pytest.mark.parametrize("flag, value", [
    ("--upstream", "127.0.0.1"), ("--upstream", "127.0.0.1:0"), ("--upstream", "a b:80"),
    ("--upstream", "host:80; include /etc/passwd"), ("--upstream", "[zz]:80"),
    ("--listen", "http"), ("--listen", "70000"), ("--listen", "example.com:80"),
    ("--cache-dir", "relative/dir"), ("--cache-dir", "/var/cache/a b"),
    ("--cache-dir", "/var/cache/x;"), ("--cache-dir", "/var/../etc"),
    ("--server-name", "a;b"), ("--server-name", ""),
])
def test_a_bad_flag_exits_2_naming_it(flag, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["nginx-config", flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}:" in err
    with pytest.raises(ValueError, match=flag):
        render_nginx_config(**{"upstream": "127.0.0.1:8000", "listen": "8080",
                               "cache_dir": "/tmp/c", "server_name": "_", "full": False,
                               flag[2:].replace("-", "_"): value})


def test_deploy_doc_explains_every_directive_of_the_config():
    doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    config = render_nginx_config("127.0.0.1:8000", "8080", "/var/cache/nginx/feedsvc", "_",
                                 True)
    directives = {line.split()[0] for line in config.splitlines()
                  if line.strip() and not line.lstrip().startswith(("#", "}", '"', "'"))
                  and not line.startswith(" " * 17)}   # continuation lines
    directives -= {"default"}   # a map's default entry, not a directive
    missing = sorted(d for d in directives if f"`{d}" not in doc and f"{d} " not in doc)
    assert missing == []
