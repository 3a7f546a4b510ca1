#!/usr/bin/env python3
"""Run feedsvc's benchmarks and print the table of docs/benchmarks.md.

    python -m bench.run --smoke                       # N=200, every part briefly (CI)
    python -m bench.run --sizes 1000,10000,100000     # the full run (about 30 minutes)
    python -m bench.run --sizes 10000 --parts jekyll --timeout 900

Parts: cold (fresh process: load + build every feed), warm (restart with a warm parse
cache), reload (nothing changed; one post changed until /feeds/all.atom has new bytes),
http (wrk against ``feedsvc serve`` and nginx serving the same bytes), fresh (edit → new bytes
over HTTP), profile (pyinstrument of one cold load), jekyll and hugo (same posts, 1k and 10k
only unless --builder-sizes says otherwise). Timings are medians of --repeats runs; HTTP
ratios come from runs alternated in the same invocation; --servers gthread,sync:4,granian
measures several ways of running feedsvc serve, each against nginx. Exit 0 when every part
that could run ran; 1 when a part broke (a missing Jekyll, Hugo, nginx or wrk is a skip, not
a break).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable

from bench import builders, httpbench, make_store
from bench.procs import PYTHON, ROOT, BenchError, median, run

ALL_PARTS = ("cold", "warm", "reload", "http", "fresh", "profile", "jekyll", "hugo")
MEASURE = "bench.measure"   # run as ``python -m bench.measure`` from ROOT


def store_for(n: int, stores: Path, hugo: bool = False) -> Path:
    """Return the generated site of *n* posts, writing it unless it is there already."""
    out = stores / (f"{n}-hugo" if hugo else str(n))
    marker = out / make_store.MARKER
    if not (marker.is_file() and marker.read_text().strip() == str(n)):
        print(f"  generating {out} ...", file=sys.stderr, flush=True)
        make_store.write_site(n, out, hugo)
    return out


def newest_post(site: Path, n: int) -> Path:
    """Return the file of the newest post; bench.make_store gives it the index n-1."""
    found = list((site / "_posts").glob(f"*-{n - 1:06d}.md"))
    if len(found) != 1:
        raise BenchError(f"cannot find the newest post of {site}")
    return found[0]


def measure(mode: str, site: Path, timeout: float, *extra: str) -> dict[str, Any]:
    """Run bench.measure in a fresh process; return its JSON plus wall time and peak RSS."""
    done = run([PYTHON, "-m", MEASURE, mode, "--site", str(site), *extra], timeout)
    if done.timed_out:
        raise BenchError(f"bench.measure {mode} took longer than {timeout:.0f} s")
    if done.returncode != 0:
        raise BenchError(f"bench.measure {mode} failed: {done.stderr.strip()[-800:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = done.wall_s
    result["process_peak_rss_mb"] = done.peak_rss_mb
    return result


def part_cold(n: int, site: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Cold start, repeated in fresh processes."""
    runs = [measure("cold", site, args.timeout) for _ in range(args.repeats)]
    return _summary(runs)


def part_warm(n: int, site: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Restart with a warm parse cache: one run fills the cache, the next ones are timed."""
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:
        first = measure("cold", site, args.timeout, "--cache-dir", cache)
        runs = [measure("cold", site, args.timeout, "--cache-dir", cache)
                for _ in range(args.repeats)]
        files = sum(len(f) for _, _, f in os.walk(cache))
    return {"filling_run_s": first["process_wall_s"], "cache_files": files, **_summary(runs)}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"what": runs[0]["what"], "counts": {k: runs[0][k] for k in runs[0]
                                                if k in ("posts", "documents", "parsed_files")},
            "wall_s": [r["process_wall_s"] for r in runs],
            "wall_median_s": median([r["process_wall_s"] for r in runs]),
            "reload_median_s": median([r["reload_s"] for r in runs]),
            "peak_rss_median_mb": median([r["process_peak_rss_mb"] for r in runs])}


def part_reload(n: int, site: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Reloads in one process: nothing changed, then one post changed."""
    return measure("reload", site, args.timeout, "--repeats", str(args.repeats))


def part_profile(n: int, site: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Profile one cold load; the reports go next to --out."""
    out = Path(args.out).with_name(f"profile-{n}.html")
    return measure("profile", site, args.timeout, "--out", str(out))


def part_http(n: int, site: Path, args: argparse.Namespace) -> dict[str, Any]:
    """wrk against feedsvc serve and nginx, alternated."""
    _need("nginx", "wrk")
    return httpbench.compare(site, args.workers, args.connections, args.http_seconds,
                             args.http_repeats, args.timeout, args.servers)


def part_fresh(n: int, site: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Edit → new bytes over HTTP."""
    return httpbench.freshness(site, newest_post(site, n), args.workers,
                               min(args.repeats, 3), args.timeout)


def part_builder(tool: str) -> Callable[[int, Path, argparse.Namespace], dict[str, Any]]:
    def part(n: int, site: Path, args: argparse.Namespace) -> dict[str, Any]:
        _need(tool)
        source = store_for(n, args.stores, hugo=True) if tool == "hugo" else site
        # One Jekyll build of 10k posts takes minutes: repeat only the short ones.
        repeats = args.repeats if tool == "hugo" or n < 5000 else 1
        return builders.measure_build(tool, source, repeats, args.timeout)
    part.__doc__ = f"Build the same posts with {tool}."
    return part


class Skip(Exception):
    """A part cannot run on this machine (a tool is missing); not a failure."""


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise Skip(f"not installed: {', '.join(missing)}")


PARTS = {"cold": part_cold, "warm": part_warm, "reload": part_reload, "http": part_http,
         "fresh": part_fresh, "profile": part_profile,
         "jekyll": part_builder("jekyll"), "hugo": part_builder("hugo")}


def run_parts(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """Run every chosen part at every size; return (results, whether something broke)."""
    results: dict[str, Any] = {}
    broke = False
    for n in args.sizes:
        site = store_for(n, args.stores)
        for name in args.parts:
            if name in ("jekyll", "hugo") and n not in args.builder_sizes:
                continue
            print(f"[{n}] {name} ...", file=sys.stderr, flush=True)
            try:
                result = PARTS[name](n, site, args)
            except Skip as exc:
                result = {"skipped": str(exc)}
            except (BenchError, OSError, subprocess.SubprocessError) as exc:
                result, broke = {"error": str(exc)}, True
            except Exception as exc:  # report and go on: one broken part must not hide the rest
                traceback.print_exc()
                result, broke = {"error": f"{type(exc).__name__}: {exc}"}, True
            print(f"[{n}] {name}: {json.dumps(_brief(result), ensure_ascii=False)}",
                  file=sys.stderr, flush=True)
            results.setdefault(str(n), {})[name] = result
    return results, broke


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if not isinstance(v, (list, dict)) or k == "counts"}


def machine() -> dict[str, Any]:
    """Return what the figures were measured on."""
    model = ""
    if shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                      if line.startswith("Model name")), "")
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "0")
    return {"nproc": os.cpu_count(), "cpu": model, "memory_gb": round(int(memory) / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            **{tool: builders.tool_version(tool) for tool in ("jekyll", "hugo", "nginx", "wrk")}}


# --- the table ----------------------------------------------------------------------------

def _get(results: dict[str, Any], n: int, *keys: Any) -> Any:
    value: Any = results.get(str(n), {})
    for key in keys:
        if isinstance(value, dict) and ("error" in value or "skipped" in value):
            return "error" if "error" in value else "skipped"
        if isinstance(value, list) and isinstance(key, int) and key < len(value):
            value = value[key]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        else:
            return None
    return value


def _cell(value: Any, unit: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if unit == "s":
        return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "x":
        return f"{value:.2f}×"
    if unit == "rps":
        return f"{value:,.0f}"
    return f"{value:.1f} {unit}"


# (label, part path, unit, {n: (limit, "≤" or "≥")})
ROWS: list[tuple[str, tuple[Any, ...], str, dict[int, tuple[float, str]]]] = [
    ("Cold start, load + build every feed: process wall (median)", ("cold", "wall_median_s"),
     "s", {10_000: (1.5, "≤"), 100_000: (10.0, "≤")}),
    ("Cold start: Site.reload() alone", ("cold", "reload_median_s"), "s", {}),
    ("Cold start: peak RSS", ("cold", "peak_rss_median_mb"), "MB", {100_000: (300, "≤")}),
    ("Restart with a warm parse cache: process wall", ("warm", "wall_median_s"), "s",
     {100_000: (3.0, "≤")}),
    ("Reload, nothing changed", ("reload", "unchanged_median_s"), "s", {}),
    ("Reload, one post changed → new bytes of /feeds/all.atom", ("reload",
     "until_served_median_s"), "s", {100_000: (0.3, "≤")}),
    ("Edit → new bytes over HTTP (reload_interval = 1 s)", ("fresh", "median_s"), "s", {}),
]


def http_rows(results: dict[str, Any], sizes: list[int]) -> list[tuple]:
    """Return the HTTP rows: one per (server, status, connections) and figure.

    With one server spec (the default) the labels do not name it.
    """
    first = next((results[str(n)]["http"] for n in sizes
                  if isinstance(_get(results, n, "http", "rows"), list)), None)
    servers = (first or {}).get("servers") or {"": {"rows": (first or {}).get("rows", [])}}
    rows = []
    for spec, measured in servers.items():
        where = ("http", "servers", spec, "rows") if len(servers) > 1 else ("http", "rows")
        name = f", {spec}" if len(servers) > 1 else ""
        for index, row in enumerate(measured["rows"]):
            label = f"HTTP {row['status']}, {row['connections']} connections{name}"
            limit = 0.35 if row["status"] == 200 else 0.15
            rows += [(f"{label}: feedsvc req/s", (*where, index, "feedsvc_rps"), "rps", {}),
                     (f"{label}: nginx req/s", (*where, index, "nginx_rps"), "rps", {}),
                     (f"{label}: feedsvc / nginx", (*where, index, "ratio"), "x",
                      {n: (limit, "≥") for n in sizes}),
                     (f"{label}: p99 feedsvc", (*where, index, "feedsvc_p99_ms"), "ms", {}),
                     (f"{label}: p99 nginx", (*where, index, "nginx_p99_ms"), "ms", {})]
    return rows


def builder_rows() -> list[tuple]:
    """Return the Jekyll and Hugo rows."""
    return [(f"{tool}: {what}", (tool, key), unit, {})
            for tool, name in (("jekyll", "jekyll build + jekyll-feed"), ("hugo", "hugo"))
            for what, key, unit in ((f"{name}, wall (median)", "wall_median_s", "s"),
                                    (f"{name}, peak RSS", "peak_rss_median_mb", "MB"))]


def table(results: dict[str, Any], sizes: list[int]) -> str:
    """Return the Markdown table of every row at every size, with targets and verdicts."""
    head = "| Measure | " + " | ".join(f"N = {n:,}" for n in sizes) + " | Target | Met |"
    lines = [head, "|" + "---|" * (len(sizes) + 3)]
    for label, path, unit, targets in ROWS + http_rows(results, sizes) + builder_rows():
        values = [_get(results, n, *path) for n in sizes]
        if all(v is None for v in values):
            continue
        verdicts, wanted = [], []
        for n, value in zip(sizes, values):
            if n in targets:
                limit, sense = targets[n]
                wanted.append(f"{sense} {_cell(limit, unit)} at {n:,}")
                if isinstance(value, (int, float)):
                    ok = value <= limit if sense == "≤" else value >= limit
                    verdicts.append(f"{'yes' if ok else 'NO'} ({n:,})")
        if len({targets[n] for n in sizes if n in targets}) == 1 and len(wanted) > 1:
            limit, sense = next(iter(targets.values()))
            wanted = [f"{sense} {_cell(limit, unit)}"]   # one target for every size
        cells = " | ".join(_cell(v, unit) for v in values)
        lines.append(f"| {label} | {cells} | {'; '.join(wanted)} | "
                     f"{', '.join(verdicts)} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; --smoke and --quick set short defaults."""
    ints = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    parser = argparse.ArgumentParser(prog="python -m bench.run",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=ints, default=[1000, 10_000, 100_000])
    parser.add_argument("--parts", type=lambda t: t.split(","), default=list(ALL_PARTS))
    parser.add_argument("--builder-sizes", type=ints, default=[1000, 10_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="feedsvc and nginx workers")
    parser.add_argument("--connections", type=ints, default=[32, 64])
    parser.add_argument("--http-seconds", type=int, default=10)
    parser.add_argument("--http-repeats", type=int, default=3)
    parser.add_argument("--servers", type=lambda t: [x for x in t.split(",") if x],
                        default=["gthread"],
                        help="how to run feedsvc serve in the http part, each against nginx: "
                        "NAME[-nolog][:WORKERS], NAME one of " + ", ".join(httpbench.SERVERS)
                        + " (default: gthread)")
    parser.add_argument("--timeout", type=float, default=900, help="limit of one step, s")
    parser.add_argument("--stores", type=Path, default=ROOT / "bench" / "stores")
    parser.add_argument("--out", default=None, help="JSON results file")
    parser.add_argument("--quick", action="store_true", help="3 repeats, 5 s HTTP runs")
    parser.add_argument("--smoke", action="store_true", help="N=200, every part briefly")
    args = parser.parse_args(argv)
    unknown = set(args.parts) - set(ALL_PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    for spec in args.servers:
        try:
            httpbench.server_flags(spec, args.workers)
        except BenchError as exc:
            parser.error(str(exc))
    if args.quick:
        args.repeats, args.http_seconds, args.http_repeats = 3, 5, 1
    if args.smoke:
        args.sizes = args.builder_sizes = [200]
        args.repeats, args.http_seconds, args.http_repeats, args.timeout = 1, 2, 1, 300
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out = args.out or str(ROOT / "bench" / "results" / f"run-{stamp}.json")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, write the JSON, print the table; exit 1 if a part broke."""
    args = parse_args(argv)
    info = machine()
    results, broke = run_parts(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": info, "argv": sys.argv[1:], "results": results},
                              ensure_ascii=False, indent=1), encoding="utf-8")
    print(table(results, args.sizes))
    print(f"\nresults: {out}", file=sys.stderr)
    for n, parts in results.items():
        for name, result in parts.items():
            if "error" in result or "skipped" in result:
                print(f"  N={n} {name}: {result.get('error') or 'skipped: ' + result['skipped']}",
                      file=sys.stderr)
    return 1 if broke else 0


if __name__ == "__main__":
    sys.exit(main())
