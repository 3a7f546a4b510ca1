"""Load with churn, the short run: the soak's own command, 8 s, 16 connections, 300 posts.

``python -m bench.reliability.soak`` starts ``feedsvc serve`` (2 workers, a reload every
second) on a generated store, runs wrk over every feed, page and format (plain, gzip,
conditional) while a churn adds, edits, renames and deletes a post every 200 ms and a
verifier checks bodies and ETags, then compares every document with a from-scratch build of the final store. The
60 s run and its figures are in docs/reliability.md. CI installs wrk (.ci/run).
"""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from bench.reliability import verify
from tests.support.procs import children
from tests.support.serve import PYTHON, ROOT, child_env, serving

ZERO = ("non_200_304", "socket_errors", "etag_mismatches", "malformed_bodies", "posts_lost",
        "stale_documents", "server_5xx_logged", "server_tracebacks", "workers_restarted")


def test_load_with_churn_serves_only_good_documents_and_loses_nothing(tmp_path):
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed: this test drives the load with it "
                    "(Debian: apt-get install wrk; .ci/run installs it)")
    out = tmp_path / "soak.json"
    done = subprocess.run([PYTHON, "-m", "bench.reliability.soak", "--duration", "8",
                           "--connections", "16", "--posts", "300", "--json", str(out)],
                          cwd=ROOT, env=child_env(), capture_output=True, text=True,
                          timeout=240)
    assert out.exists(), done.stderr[-2000:]
    summary = json.loads(out.read_text(encoding="utf-8"))
    figures = summary["figures"]
    assert {key: figures[key] for key in ZERO} == dict.fromkeys(ZERO, 0), done.stderr[-3000:]
    assert done.returncode == 0 and summary["ok"]
    # The run did what it says: load, churn of every kind, checks, a whole comparison.
    assert summary["load"]["requests"] > 1000
    assert set(summary["load"]["statuses"]) == {"200", "304"}
    assert set(summary["churn"]["operations"]) == {"add", "edit", "rename", "delete"}
    assert {"in place", "replace"} <= set(summary["churn"]["writes"])
    counts = summary["verifier"]["counts"]
    assert counts["checked 200"] > 100 and counts["checked 304"] > 0
    final = summary["final"]
    assert final["documents"] > 300 and final["workers_compared"] == 2
    assert final["fetches"] >= 2 * 2 * final["documents"]     # identity, gzip; each worker
    assert final["posts_in_store"] == final["posts_expected"] == summary["churn"]["live_posts"]
    assert final["unreadable_posts"] == 0


def test_the_final_comparison_catches_a_service_that_did_not_reload(site_dir, write_post):
    # The harness is not vacuous: a server that never reloads (auto_reload off) misses a
    # new post and still serves a deleted one's feed, and the comparison says so.
    write_post("one", title="One", categories="metro", tags="早高峰")
    gone = write_post("two", title="Two", date="2022-05-12 08:00:00 +0800", categories="world")
    env = child_env(FEEDSVC_AUTO_RELOAD="false")
    with serving(site_dir.parent / "serve.log", "--site", str(site_dir), "--workers", "1",
                 env=env) as server:
        write_post("three", title="Three", date="2022-05-13 08:00:00 +0800", categories="metro")
        gone.unlink()
        result = verify.final_check(server.base, site_dir, {}, since=0.0,
                                    seen={"/feeds/categories/world.rss"},
                                    workers=children(server.process.pid))
    assert result["workers_compared"] == 1
    assert result["stale_documents"] > 0
    assert result["gone_but_served"] == 1
    assert result["posts_lost"] >= 1
