"""End to end: the real ``feedsvc serve`` (gunicorn) on 127.0.0.1 with the bundled sample site."""
from __future__ import annotations

import datetime
import gzip
import json
import os
import re
import socket
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
from pathlib import Path

import feedparser
import pytest

from feedsvc.cli import main

ROOT = Path(__file__).resolve().parent.parent
START_LIMIT = 15.0   # seconds to wait for the server to answer before giving up


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, headers: dict[str, str] | None = None):
    """Return (status, headers, body) of a GET; a 304 or 4xx is an answer, not an error."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def wait_until_up(process: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + START_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"feedsvc serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if fetch(base + "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"feedsvc serve did not answer within {START_LIMIT} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Run ``feedsvc serve`` with no --site (the bundled sample); yield (base URL, log)."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "feedsvc.cli", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, base, log)
        yield base, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_serves_a_feed_then_a_304_for_its_etag(server):
    base, _ = server
    status, headers, body = fetch(base + "/feeds/all.rss")
    assert status == 200
    assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["X-Content-Type-Options"] == "nosniff"
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    assert parsed.feed.link == "https://news.example.com/"
    status, again, body = fetch(base + "/feeds/all.rss", {"If-None-Match": headers["ETag"]})
    assert status == 304
    assert body == b""
    assert again["ETag"] == headers["ETag"]
    assert again["Last-Modified"] == headers["Last-Modified"]
    assert again["Cache-Control"] == headers["Cache-Control"]


def test_serves_gzip_from_the_precompressed_copy(server):
    base, _ = server
    plain = fetch(base + "/feeds/all.atom")
    status, headers, body = fetch(base + "/feeds/all.atom", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["ETag"] != plain[1]["ETag"]
    assert gzip.decompress(body) == plain[2]


def test_healthz_and_metrics(server):
    base, _ = server
    status, headers, body = fetch(base + "/healthz")
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    health = json.loads(body)
    assert health["status"] == "ok"
    assert health["posts"] > 0 and health["broken_posts"] == 0
    status, headers, body = fetch(base + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=")
    lines = body.decode().splitlines()
    assert f"feedsvc_posts {float(health['posts'])}" in lines   # once, not per worker
    assert sum(line.startswith("feedsvc_posts ") for line in lines) == 1
    # Both workers' first loads, once the second one has loaded too (/healthz answered as
    # soon as one worker could): one summed series, never one per worker.
    deadline = time.monotonic() + 60
    while True:
        loads = [line for line in lines
                 if line.startswith("feedsvc_reload_duration_seconds_count")]
        assert len(loads) == 1
        if float(loads[0].split()[1]) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
        lines = fetch(base + "/metrics")[2].decode().splitlines()
    assert float(loads[0].split()[1]) >= 2
    # A scrape is counted after it is answered, by whichever worker answered it: with the
    # workers' files summed, each scrape sees every scrape before it.
    counted = 'feedsvc_http_requests_total{route="metrics",status="200"}'
    seen = []
    for _ in range(6):
        scrape = fetch(base + "/metrics")[2].decode().splitlines()
        seen.append(next(float(line.split()[-1]) for line in scrape
                         if line.startswith(counted)))
    assert seen == [seen[0] + n for n in range(6)]


def test_unknown_feed_is_404_over_http(server):
    base, _ = server
    status, headers, body = fetch(base + "/feeds/categories/no-such-thing.rss")
    assert status == 404
    assert body == b"Not found. Every feed is listed at https://news.example.com/\n"


def test_access_log_is_one_line_per_request_on_stderr(server):
    base, log = server
    fetch(base + "/feeds/all.json?e2e-log-probe")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in log.read_text().splitlines() if "e2e-log-probe" in line]
        if lines:
            break
        time.sleep(0.05)
    assert len(lines) == 1
    assert '"GET /feeds/all.json?e2e-log-probe HTTP/1.1" 200' in lines[0]


def test_bad_config_exits_2_naming_the_key_before_starting(tmp_path, capsys):
    assert main(["serve", "--site", str(tmp_path / "missing"), "--port", "1"]) == 2
    assert "'site_dir'" in capsys.readouterr().err


def test_wsgi_module_exposes_the_app_for_gunicorn():
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env["FEEDSVC_AUTO_RELOAD"] = "false"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    probe = ("import wsgi; c = wsgi.app.test_client(); "
             "print(c.get('/feeds/all.atom').status_code, c.get('/healthz').status_code)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "200"]


# --- serve's flags: --no-access-log, --threads, --server granian ----------------------------

def start_serve(tmp_path: Path, *flags: str, extra_env: dict[str, str] | None = None
                ) -> tuple[subprocess.Popen, str, Path]:
    """Start ``feedsvc serve --workers 1 FLAGS`` on the bundled sample; return it, URL, log.

    *extra_env* is added to the child's environment (which has no FEEDSVC_* of ours).
    """
    port = free_port()
    log = tmp_path / "stderr.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra_env or {})
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "feedsvc.cli", "serve", "--port", str(port), "--workers", "1",
             *flags], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, base, log)
    except BaseException:
        stop_serve(process)
        raise
    return process, base, log


def stop_serve(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_lines(log: Path, probe: str, settle: float = 1.0) -> list[str]:
    """Return the log lines naming *probe*, once some appear or *settle* seconds passed."""
    deadline = time.monotonic() + settle
    while True:
        lines = [line for line in log.read_text().splitlines() if probe in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_access_log_line_has_every_field(server):
    base, log = server
    status, headers, body = fetch(base + "/feeds/all.json?e2e-format-probe",
                                  {"Referer": "https://ref.example/", "User-Agent": "probe/1"})
    [line] = log_lines(log, "e2e-format-probe", settle=5)
    assert re.fullmatch(
        r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO \[\d+\] gunicorn\.access: '   # one format
        r'127\.0\.0\.1 \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
        r'"GET /feeds/all\.json\?e2e-format-probe HTTP/1\.1" 200 ' + str(len(body))
        + r' "https://ref\.example/" "probe/1" \d+us', line), line


def test_access_log_atoms_are_gunicorns(monkeypatch):
    # StderrLogger computes only the atoms of ACCESS_LOG_FORMAT; the line must be the one
    # gunicorn's own atoms() gives.
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from feedsvc.server import ACCESS_LOG_FORMAT, StderrLogger
    cfg = Config()
    cfg.set("access_log_format", ACCESS_LOG_FORMAT)
    resp = types.SimpleNamespace(status="304 NOT MODIFIED", sent=0, headers=[("ETag", '"x"')])
    req = types.SimpleNamespace(headers=[("HOST", "h"), ("USER-AGENT", "ua")])
    environ = {"REMOTE_ADDR": "10.0.0.1", "REQUEST_METHOD": "GET", "RAW_URI": "/a?b",
               "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_USER_AGENT": "ua", "PATH_INFO": "/a"}
    took = datetime.timedelta(seconds=1, microseconds=2345)
    lines = []
    for logger_class in (Logger, StderrLogger):
        logger = logger_class(cfg)
        monkeypatch.setattr(logger, "now", lambda: "[01/Jan/2025:00:00:00 +0000]")
        atoms = logger.atoms_wrapper_class(logger.atoms(resp, req, environ, took))
        lines.append(ACCESS_LOG_FORMAT % atoms)
    assert lines[0] == lines[1] == ('10.0.0.1 [01/Jan/2025:00:00:00 +0000] "GET /a?b HTTP/1.1" '
                                    '304 0 "-" "ua" 1002345us')


def test_no_access_log_writes_no_line_per_request(tmp_path):
    process, base, log = start_serve(tmp_path, "--no-access-log")
    try:
        assert fetch(base + "/feeds/all.rss?e2e-nolog-probe")[0] == 200
        assert fetch(base + "/no/such?e2e-nolog-probe")[0] == 404
        assert log_lines(log, "e2e-nolog-probe") == []
    finally:
        stop_serve(process)


def test_gunicorn_options_of_the_threads_flag():
    from feedsvc.server import gunicorn_options
    assert gunicorn_options("127.0.0.1", 1, 2, "INFO")["worker_class"] == "gthread"
    sync = gunicorn_options("127.0.0.1", 1, 4, "INFO", threads=1, access_log=False)
    assert (sync["worker_class"], sync["workers"], sync["accesslog"]) == ("sync", 4, None)


def test_granian_serves_feeds_with_the_same_headers(tmp_path):
    try:
        import granian  # noqa: F401
    except ImportError:
        pytest.fail("granian is not installed: pip install -e '.[granian]' (bash .ci/run does)")
    process, base, log = start_serve(tmp_path, "--server", "granian")
    try:
        status, headers, body = fetch(base + "/feeds/all.rss")
        assert status == 200
        assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
        assert headers["Content-Length"] == str(len(body))
        assert feedparser.parse(body).bozo == 0
        status, again, empty = fetch(base + "/feeds/all.rss", {"If-None-Match": headers["ETag"]})
        assert (status, empty, again["ETag"]) == (304, b"", headers["ETag"])
        assert again["Last-Modified"] == headers["Last-Modified"]
        status, packed, zipped = fetch(base + "/feeds/all.rss", {"Accept-Encoding": "gzip"})
        assert packed["Content-Encoding"] == "gzip" and gzip.decompress(zipped) == body
        assert fetch(base + "/feeds/categories/%E5%9F%8E%E5%B8%82.rss")[0] == 200
        assert fetch(base + "/e2e-granian-probe.rss")[0] == 404
        assert json.loads(fetch(base + "/healthz")[2])["status"] == "ok"
        [line] = log_lines(log, "e2e-granian-probe", settle=5)   # granian logs no query
        assert '"GET /e2e-granian-probe.rss HTTP/1.1" 404' in line
    finally:
        stop_serve(process)


# --- a first load longer than gunicorn's worker timeout -----------------------------------

SLOW_BOOT = """
import sys, time
import feedsvc.source.store
from feedsvc import server

real_reload = feedsvc.source.store.Store.reload
def slow_reload(self):           # a first load as slow as 100k posts on a busy machine
    if self.snapshot is None:
        time.sleep(float(sys.argv[2]))
    return real_reload(self)
feedsvc.source.store.Store.reload = slow_reload

options = server.gunicorn_options("127.0.0.1", int(sys.argv[1]), 1, "info")
options["timeout"] = 2           # gunicorn would kill a silent worker after 2 s
server.FeedsvcServer({"auto_reload": False}, None, options).run()
"""


def test_a_first_load_longer_than_the_worker_timeout_is_not_killed(tmp_path):
    # A first load of 100k posts on a busy machine can outlast gunicorn's 30 s timeout.
    # gunicorn (>= 22) starts a worker's timeout clock at its first check-in, which comes
    # once the app is loaded: a slow load must not get the worker killed and restarted
    # forever. This guards that behaviour (docs/service.md).
    port, log = free_port(), tmp_path / "stderr.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    with log.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-c", SLOW_BOOT, str(port), "6"], cwd=ROOT,
                                   env=env, stdin=subprocess.DEVNULL, stdout=stderr,
                                   stderr=stderr)
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 25
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                if fetch(base + "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the slow-loading worker never answered:\n" + log.read_text())
        text = log.read_text()
        assert "WORKER TIMEOUT" not in text and text.count("Booting worker") == 1, text
        assert fetch(base + "/feeds/all.rss")[0] == 200
    finally:
        stop_serve(process)

