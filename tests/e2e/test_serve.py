"""End to end: the real ``feedsvc serve`` (gunicorn) on 127.0.0.1 with the bundled sample site.

Also its flags (--no-access-log, --server granian), the ``wsgi`` module under a child Python,
and a first load longer than gunicorn's worker timeout. The gunicorn options and access-log
atoms, which need no process, are tested in tests/test_cli.py.
"""
from __future__ import annotations

import gzip
import json
import re
import subprocess
import time
from pathlib import Path

import feedparser
import pytest

from tests.support.net import fetch, free_port, wait_until
from tests.support.serve import PYTHON, ROOT, answering, child_env, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Run ``feedsvc serve --workers 2`` with no --site (the bundled sample); yield (base, log)."""
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    with serving(log, "--workers", "2") as running:
        yield running.base, log


def log_lines(log: Path, probe: str, settle: float = 1.0) -> list[str]:
    """Return the log lines naming *probe*, once some appear or *settle* seconds passed."""
    deadline = time.monotonic() + settle
    while True:
        lines = [line for line in log.read_text().splitlines() if probe in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


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
    def both_loaded() -> bool:
        scrape = fetch(base + "/metrics")[2].decode().splitlines()
        loads = [line for line in scrape
                 if line.startswith("feedsvc_reload_duration_seconds_count")]
        assert len(loads) == 1, loads
        return float(loads[0].split()[1]) >= 2
    wait_until(both_loaded, "both workers' first loads in /metrics", 60)
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
    lines = log_lines(log, "e2e-log-probe", settle=5)
    assert len(lines) == 1
    assert '"GET /feeds/all.json?e2e-log-probe HTTP/1.1" 200' in lines[0]


def test_wsgi_module_exposes_the_app_for_gunicorn():
    probe = ("import wsgi; c = wsgi.app.test_client(); "
             "print(c.get('/feeds/all.atom').status_code, c.get('/healthz').status_code)")
    result = subprocess.run([PYTHON, "-c", probe], cwd=ROOT,
                            env=child_env(FEEDSVC_AUTO_RELOAD="false"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "200"]


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


# --- serve's flags: --no-access-log, --server granian ---------------------------------------

def test_no_access_log_writes_no_line_per_request(tmp_path):
    log = tmp_path / "stderr.log"
    with serving(log, "--workers", "1", "--no-access-log") as running:
        assert fetch(running.base + "/feeds/all.rss?e2e-nolog-probe")[0] == 200
        assert fetch(running.base + "/no/such?e2e-nolog-probe")[0] == 404
        assert log_lines(log, "e2e-nolog-probe") == []


def test_granian_serves_feeds_with_the_same_headers(tmp_path):
    try:
        import granian  # noqa: F401
    except ImportError:
        pytest.fail("granian is not installed: pip install -e '.[granian]' (bash .ci/run does)")
    log = tmp_path / "stderr.log"
    with serving(log, "--workers", "1", "--server", "granian") as running:
        base = running.base
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
    with answering([PYTHON, "-c", SLOW_BOOT, str(port), "6"], port, log, limit=25) as running:
        text = log.read_text()
        assert "WORKER TIMEOUT" not in text and text.count("Booting worker") == 1, text
        assert fetch(running.base + "/feeds/all.rss")[0] == 200
