"""Build the same generated site with Jekyll (+ jekyll-feed) and Hugo: wall time, peak RSS."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.procs import BenchError, Finished, median, run


def tool_version(tool: str) -> str | None:
    """Return the first line of ``tool version``, or None if the tool is not installed."""
    if shutil.which(tool) is None:
        return None
    flag = {"hugo": "version", "nginx": "-v", "wrk": "--version"}.get(tool, "--version")
    done = subprocess.run([tool, flag], capture_output=True, text=True, timeout=30)
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else tool


def build_command(tool: str, source: Path, dest: Path) -> list[str]:
    """Return the command that builds *source* into *dest* from scratch."""
    if tool == "jekyll":
        # --disable-disk-cache: every build is a clean one, as after a fresh checkout.
        return ["jekyll", "build", "--quiet", "--disable-disk-cache",
                "--source", str(source), "--destination", str(dest)]
    return ["hugo", "--quiet", "--source", str(source), "--destination", str(dest),
            "--cacheDir", str(dest.parent / "hugo-cache")]


def check_output(tool: str, dest: Path) -> int:
    """Return how many feed files the build wrote; raise BenchError if the main one is missing."""
    main = dest / ("feed.xml" if tool == "jekyll" else "index.xml")
    if not main.is_file():
        raise BenchError(f"{tool} build wrote no {main.name}")
    pattern = "feed*/**/*.xml" if tool == "jekyll" else "**/index.xml"
    return len(list(dest.glob(pattern))) + (1 if tool == "jekyll" else 0)


def measure_build(tool: str, source: Path, repeats: int, timeout: float) -> dict[str, Any]:
    """Build *source* *repeats* times, each into an empty folder; return the medians."""
    runs: list[Finished] = []
    feeds = 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-") as tmp:
            dest = Path(tmp) / "out"
            done = run(build_command(tool, source, dest), timeout, cwd=Path(tmp))
            if done.timed_out:
                return {"tool": tool, "timed_out": True, "timeout_s": timeout,
                        "runs": len(runs)}
            if done.returncode != 0:
                raise BenchError(f"{tool} build failed ({done.returncode}): "
                                 f"{done.stderr.strip()[-500:]}")
            feeds = check_output(tool, dest)
            runs.append(done)
    return {"tool": tool, "runs": len(runs), "feeds": feeds,
            "wall_s": [r.wall_s for r in runs], "peak_rss_mb": [r.peak_rss_mb for r in runs],
            "wall_median_s": median([r.wall_s for r in runs]),
            "peak_rss_median_mb": median([r.peak_rss_mb for r in runs])}
