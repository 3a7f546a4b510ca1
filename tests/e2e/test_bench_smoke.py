"""The benchmark's smoke run (N = 200, every part briefly) so bench/ does not rot.

No thresholds: this checks that every part ran and produced figures, not how fast they are
(docs/benchmarks.md has the figures; ``python -m bench.run`` produces them).
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.serve import PYTHON, ROOT, child_env


def test_bench_smoke_run_measures_every_part(tmp_path):
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            pytest.fail(f"{tool} is not installed: bash .ci/run installs it (Debian package)")
    out = tmp_path / "smoke.json"
    run = subprocess.run(
        [PYTHON, "-m", "bench.run", "--smoke",
         "--stores", str(tmp_path / "stores"), "--out", str(out)],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(out.read_text())["results"]["200"]

    cold, warm, reload = results["cold"], results["warm"], results["reload"]
    assert cold["counts"]["posts"] == 200 and cold["counts"]["parsed_files"] == 200
    assert cold["wall_median_s"] > 0 and cold["peak_rss_median_mb"] > 0
    assert warm["counts"]["parsed_files"] == 0          # the parse cache served every post
    assert reload["until_served_median_s"] > 0 and reload["unchanged_median_s"] > 0
    assert results["fresh"]["median_s"] > 0            # an edit reached HTTP clients
    assert Path(results["profile"]["text"]).is_file()

    rows = results["http"]["rows"]
    assert {(row["status"], row["connections"]) for row in rows} == {
        (200, 32), (304, 32), (200, 64), (304, 64)}
    for row in rows:
        assert row["errors"] == 0, row
        assert row["feedsvc_rps"] > 0 and row["nginx_rps"] > 0 and row["ratio"] > 0
    assert "| Cold start" in run.stdout      # the Markdown table docs/benchmarks.md quotes
