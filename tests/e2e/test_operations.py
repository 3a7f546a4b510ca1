"""End to end, as an operator runs it: metrics that add up across workers, Kubernetes'
environment, serve options from the environment, one log format (and JSON), plain gunicorn.

Each test starts the real ``feedsvc serve`` (gunicorn, and granian where it matters) or plain
``gunicorn`` on the bundled sample site.
"""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest

from feedsvc import __version__
from tests.support.net import fetch, free_port, wait_until
from tests.support.serve import PYTHON, answering, child_env, serving

COUNTER = re.compile(r"^(feedsvc_\w+_total)(\{[^}]*\})? (\S+)$")
FEEDS = 'feedsvc_http_requests_total{route="feed",status="200"}'
SCRAPES = 'feedsvc_http_requests_total{route="metrics",status="200"}'


def counters(text: str) -> dict[str, float]:
    """Return every feedsvc counter sample of a scrape, by name and labels."""
    found = {}
    for line in text.splitlines():
        match = COUNTER.match(line)
        if match:
            found[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return found


def both_workers_loaded(base: str, limit: float = 60) -> None:
    """Wait (bounded) until both workers' first loads are counted in /metrics: /healthz
    answers as soon as one worker has loaded, and the other may still be loading."""
    def loaded() -> bool:
        scrape = counters(fetch(base + "/metrics")[2].decode())
        return scrape.get("feedsvc_reloads_total", 0.0) >= 2
    wait_until(loaded, "both workers' first loads in /metrics", limit)


@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_counters_add_up_across_two_workers_and_never_go_back(tmp_path, server):
    with serving(tmp_path / "stderr.log", "--workers", "2", "--server", server) as running:
        scrapes, fetched = [], 0
        for round_ in range(30):   # 200 feed requests interleaved with 30 scrapes
            for _ in range(7 if round_ < 20 else 6):
                assert fetch(running.base + "/feeds/all.atom")[0] == 200
                fetched += 1
            status, _, body = fetch(running.base + "/metrics")
            assert status == 200
            scrapes.append(counters(body.decode()))
        both_workers_loaded(running.base)   # after the counted scrapes: it scrapes too
    assert fetched == 200
    for before, after in zip(scrapes, scrapes[1:]):
        for name, value in before.items():
            assert after.get(name, 0.0) >= value, name   # no counter ever goes back
    assert scrapes[-1][FEEDS] == 200       # every feed request, whichever worker took it
    assert scrapes[-1][SCRAPES] == 29      # the scrapes answered before the last one


def test_build_info_once_site_gauges_once_process_figures_per_worker(tmp_path):
    with serving(tmp_path / "stderr.log", "--workers", "2") as running:
        both_workers_loaded(running.base)
        lines = fetch(running.base + "/metrics")[2].decode().splitlines()
    [info] = [line for line in lines if line.startswith("feedsvc_build_info{")]
    assert f'version="{__version__}"' in info
    assert sum(line.startswith("feedsvc_posts ") for line in lines) == 1
    workers = [line for line in lines
               if line.startswith("feedsvc_worker_resident_memory_bytes{")]
    assert len(workers) == 2 and all('pid="' in line for line in workers)


def test_kubernetes_service_links_do_not_stop_start_up(tmp_path):
    injected = {"FEEDSVC_PORT": "tcp://10.0.0.1:8000", "FEEDSVC_SERVICE_HOST": "10.0.0.1",
                "FEEDSVC_SERVICE_PORT": "8000", "FEEDSVC_PORT_8000_TCP": "tcp://10.0.0.1:8000",
                "FEEDSVC_PORT_8000_TCP_ADDR": "10.0.0.1", "FEEDSVC_TITEL": "typo"}
    log = tmp_path / "stderr.log"
    with serving(log, "--workers", "1", env=child_env(**injected)) as running:
        for path in ("/feeds/all.rss", "/readyz", "/livez"):
            assert fetch(running.base + path)[0] == 200, path
    text = log.read_text()
    assert "did you mean FEEDSVC_TITLE?" in text
    assert "FEEDSVC_PORT" not in text


def test_serve_options_from_the_environment(tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    env = child_env(FEEDSVC_SERVE_PORT=str(port), FEEDSVC_SERVE_WORKERS="1",
                    FEEDSVC_SERVE_ACCESS_LOG="false")
    with answering([PYTHON, "-m", "feedsvc.cli", "serve"], port, log, env) as running:
        fetch(running.base + "/feeds/all.atom?probe-env")
    assert "probe-env" not in log.read_text()   # FEEDSVC_SERVE_ACCESS_LOG=false


def test_json_logs_are_one_object_per_line_access_lines_included(tmp_path):
    log = tmp_path / "stderr.log"
    with serving(log, "--workers", "1", "--log-format", "json") as running:
        fetch(running.base + "/feeds/all.json?probe-json", {"User-Agent": "probe/2"})
    objects = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert all({"time", "level", "pid", "logger", "message"} <= set(o) for o in objects)
    [access] = [o for o in objects if o.get("query") == "probe-json"]
    assert (access["logger"], access["method"], access["path"], str(access["status"]),
            access["user_agent"]) == ("gunicorn.access", "GET", "/feeds/all.json", "200",
                                      "probe/2")
    assert any(o["logger"].startswith("feedsvc") for o in objects)
    assert not any("Adding job tentatively" in o["message"] for o in objects)


def test_plain_gunicorn_shows_feedsvc_lines_and_adds_up_metrics(tmp_path):
    port, log = free_port(), tmp_path / "gunicorn.log"
    command = [PYTHON, "-m", "gunicorn", "-c", "python:feedsvc.gunicorn_conf",
               "--workers", "2", "--bind", f"127.0.0.1:{port}", "feedsvc.wsgi:app"]
    with answering(command, port, log) as running:
        for _ in range(5):
            fetch(running.base + "/feeds/all.rss")
        text = fetch(running.base + "/metrics")[2].decode()
    assert counters(text)[FEEDS] == 5   # summed over both workers
    # feedsvc's own INFO lines, in feedsvc's format, under a server feedsvc did not start.
    assert re.search(r"INFO \[\d+\] feedsvc\.scheduler: reload scheduler started",
                     log.read_text())


def test_feedsvc_serve_removes_the_metrics_folder_it_made(tmp_path):
    temp = Path(tempfile.gettempdir())
    before = set(temp.glob("feedsvc-metrics-*"))
    with serving(tmp_path / "stderr.log", "--workers", "1") as running:
        fetch(running.base + "/metrics")
        made = set(temp.glob("feedsvc-metrics-*")) - before
        assert made and any(any(folder.iterdir()) for folder in made)   # the workers' files
    assert not set(temp.glob("feedsvc-metrics-*")) - before
