#!/usr/bin/env python3
"""Load with churn: wrk on ``feedsvc serve`` while posts are added, edited, renamed, deleted.

    python -m bench.reliability.soak [--duration 60] [--connections 64] [--posts 2000]
                                     [--workers 2] [--json OUT.json]

1. Generate a store of N posts (``python -m bench.make_store``) in a temporary folder.
2. Start ``feedsvc serve`` on it on 127.0.0.1, reloading every second
   (``FEEDSVC_RELOAD_INTERVAL=1``).
3. For DURATION seconds, at once:
   - wrk, CONNECTIONS connections, asks for every feed, page and format, plain, gzipped
     and conditional (bench/reliability/mix.lua), and records the status of each answer;
   - the churn (``python -m bench.reliability.churn``) adds, edits, renames or deletes a
     post every 200 ms, saving half of them in place;
   - the verifier (bench.reliability.verify) fetches documents and checks each 200 is
     well-formed and its ETag matches its bytes, and each 304 names the ETag sent.
4. Once the churn has stopped and a reload begun after its last write has run, compare every
   document with a from-scratch build of the final store, byte for byte.

Prints a table and a JSON summary (also written to --json); exits 0 when there was no
answer but 200/304, no ETag mismatch, no malformed body, no stale document and no lost post.
Loopback only; every child is stopped within a bounded time. Results: docs/reliability.md.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from bench.reliability import verify
from tests.support.net import NotAnswering, wait_until
from tests.support.procs import children
from tests.support.serve import PYTHON, ROOT, child_env, serving, started

HERE = Path(__file__).resolve().parent
START_LIMIT = 90.0      # seconds for the server (and the churn) to load the store
STOP_LIMIT = 15.0       # seconds for a child to stop before it is killed


class SoakError(Exception):
    """The soak could not run; the message says why."""


def make_store(posts: int, out: Path) -> None:
    done = subprocess.run([PYTHON, "-m", "bench.make_store", str(posts), str(out)],
                          cwd=ROOT, env=child_env(), capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise SoakError(f"bench.make_store failed: {done.stderr.strip()[-400:]}")


def write_targets(site: Path, environ: dict[str, str], out: Path) -> list[str]:
    """Write wrk's list of targets and ETags from a build of the store; return the paths."""
    documents = verify.scratch_build(site, environ).current.documents
    with out.open("w", encoding="utf-8") as handle:
        for path, document in sorted(documents.items()):
            handle.write(f"{quote(path, safe='/')}\t{document.etag}\t{document.gzip_etag}\n")
    return sorted(documents)


def wait_ready(process: subprocess.Popen, log: Path) -> None:
    """Wait for the churn to print "ready" (it has read the store)."""
    wait_until(lambda: "ready" in log.read_text(errors="replace"), "the churn to start",
               START_LIMIT, lambda: process.poll() is None,
               lambda: ": " + log.read_text(errors="replace")[-800:])


def run_wrk(base: str, args: argparse.Namespace, targets: Path) -> dict:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
               "--timeout", "10s", "-s", str(HERE / "mix.lua"), base, "--",
               str(targets), str(args.seed)]
    done = subprocess.run(command, capture_output=True, text=True,
                          timeout=args.duration + 60)
    match = re.search(r"^SOAK_JSON (.*)$", done.stdout, re.M)
    if done.returncode != 0 or match is None:
        raise SoakError(f"wrk failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return json.loads(match.group(1))


_ACCESS = re.compile(r'" (\d{3}) \d+ "')


def scan_log(log: Path) -> dict:
    """Count 5xx answers and tracebacks in the server's log (access lines and errors)."""
    text = log.read_text(errors="replace")
    statuses = [int(code) for code in _ACCESS.findall(text)]
    return {"access_lines": len(statuses), "5xx": sum(code >= 500 for code in statuses),
            "tracebacks": text.count("Traceback")}


def machine() -> dict:
    model = ""
    with contextlib.suppress(OSError):
        model = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(),
                          re.M).group(1)
    memory = ""
    with contextlib.suppress(OSError, AttributeError):
        kib = int(re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(),
                            re.M).group(1))
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    import gunicorn
    return {"cpu": model, "cpus": os.cpu_count(), "memory": memory,
            "kernel": platform.release(), "python": platform.python_version(),
            "gunicorn": gunicorn.__version__, "wrk": wrk_version.split(" [")[0].strip()}


def soak(args: argparse.Namespace, work: Path) -> dict:
    """Run the whole soak in *work*; return the summary."""
    site = work / "site"
    make_store(args.posts, site)
    env = {"FEEDSVC_RELOAD_INTERVAL": str(args.reload_interval), "FEEDSVC_LOG_LEVEL": "WARNING"}
    stable = write_targets(site, env, work / "targets.tsv")
    churn = [PYTHON, "-m", "bench.reliability.churn", "--site", str(site),
             "--period", str(args.period), "--duration", str(args.duration),
             "--seed", str(args.seed), "--report", str(work / "churn.json")]
    with serving(work / "serve.log", "--site", str(site), "--workers", str(args.workers),
                 env=child_env(**env), limit=START_LIMIT, grace=STOP_LIMIT) as server:
        base = server.base
        workers = children(server.process.pid)
        with started(churn, work / "churn.log", grace=STOP_LIMIT) as churner:
            wait_ready(churner, work / "churn.log")
            watcher = verify.Watcher(base, stable, threads=args.verifiers, seed=args.seed)
            watcher.start()
            try:
                load = run_wrk(base, args, work / "targets.tsv")
            finally:
                churner.wait(timeout=args.duration + 60)
                checked = watcher.finish()
        report = json.loads((work / "churn.json").read_text(encoding="utf-8"))
        final = verify.final_check(base, site, env, report["ended_at"], seen=watcher.seen,
                                   workers=workers, expected_posts=report["live_posts"],
                                   wait_limit=max(30.0, 10 * args.reload_interval))
        restarted = len(workers - children(server.process.pid))
    return summarize(args, load, checked, report, final, scan_log(work / "serve.log"),
                     restarted)


def summarize(args: argparse.Namespace, load: dict, checked: dict, churn: dict, final: dict,
              log: dict, restarted: int) -> dict:
    counts = checked["counts"]
    wrk_other = sum(n for code, n in load["statuses"].items() if code not in ("200", "304"))
    figures = {
        "requests_served": load["requests"] + checked["requests"],
        "non_200_304": wrk_other + counts.get("unexpected statuses", 0),
        "socket_errors": sum(load["socket_errors"].values())
        + counts.get("connection errors", 0),
        "etag_mismatches": counts.get("etag mismatches", 0),
        "malformed_bodies": counts.get("malformed bodies", 0),
        "posts_lost": final["posts_lost"],
        "stale_documents": final["stale_documents"] + final["gone_but_served"],
        "server_5xx_logged": log["5xx"],
        "server_tracebacks": log["tracebacks"],
        "workers_restarted": restarted,
    }
    return {
        "command": "python -m bench.reliability.soak " + " ".join(args.argv),
        "machine": machine(),
        "config": {"duration_s": args.duration, "connections": args.connections,
                   "wrk_threads": args.threads, "posts": args.posts, "workers": args.workers,
                   "reload_interval_s": args.reload_interval, "churn_period_s": args.period,
                   "verifier_threads": args.verifiers, "seed": args.seed},
        "figures": figures,
        "ok": figures["requests_served"] > 0 and not any(
            value for key, value in figures.items() if key != "requests_served"),
        "load": load,
        "verifier": checked,
        "churn": {k: churn[k] for k in ("operations", "writes", "live_posts")},
        "final": final,
        "server_log": log,
    }


TABLE = (
    ("requests_served", "requests served (wrk + verifier)"),
    ("non_200_304", "answers other than 200/304"),
    ("socket_errors", "socket errors / timeouts"),
    ("etag_mismatches", "ETag mismatches"),
    ("malformed_bodies", "malformed bodies"),
    ("posts_lost", "posts lost after churn"),
    ("stale_documents", "stale documents after churn"),
    ("server_5xx_logged", "5xx in the server's access log"),
    ("server_tracebacks", "tracebacks in the server's log"),
    ("workers_restarted", "workers restarted"),
)


def table(summary: dict) -> str:
    figures, load, checked = summary["figures"], summary["load"], summary["verifier"]
    churn, final = summary["churn"], summary["final"]
    rows = [(label, f"{figures[key]:,}") for key, label in TABLE]
    rows += [
        ("wrk requests/s", f"{load['requests'] / (load['duration_us'] / 1e6):,.0f}"),
        ("wrk statuses", ", ".join(f"{k}: {v:,}" for k, v in sorted(load["statuses"].items()))),
        ("wrk latency p50 / p99 / max", "{p50:.1f} / {p99:.1f} / {max:.1f} ms".format(
            **load["latency_ms"])),
        ("verifier checks", f"{checked['counts'].get('checked 200', 0):,} x 200, "
                            f"{checked['counts'].get('checked 304', 0):,} x 304, "
                            f"{checked['counts'].get('404 for a removed feed', 0):,} x 404 "
                            "(feeds the churn removed)"),
        ("churn operations", ", ".join(f"{k} {v}" for k, v in churn["operations"].items())),
        ("churn writes", ", ".join(f"{k} {v}" for k, v in churn["writes"].items())),
        ("final comparison", f"{final['documents']:,} documents x identity and gzip x "
                             f"{final['workers_compared']} workers + {final['gone_checked']} "
                             f"gone paths: {final['fetches']:,} fetches; waited "
                             f"{final['waited_seconds']} s for a reload"),
        ("posts in the final store", f"{final['posts_in_store']:,} "
                                     f"(churn expected {final['posts_expected']:,})"),
    ]
    width = max(len(label) for label, _ in rows)
    verdict = "PASS" if summary["ok"] else "FAIL"
    return "\n".join([f"soak: {verdict}  ({summary['command']})"]
                     + [f"  {label:<{width}}  {value}" for label, value in rows])


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability.soak",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds of load and churn")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--posts", type=int, default=2000, help="posts in the store")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--reload-interval", type=int, default=1, help="seconds")
    parser.add_argument("--period", type=float, default=0.2, help="seconds between churns")
    parser.add_argument("--verifiers", type=int, default=8, help="verifier threads")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if shutil.which("wrk") is None:
        print("soak: wrk is not installed (Debian: apt-get install wrk); it drives the load",
              file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="feedsvc-soak-"))
    try:
        summary = soak(args, work)
    except (SoakError, NotAnswering, TimeoutError, subprocess.TimeoutExpired) as exc:
        print(f"soak: {exc} (work folder: {work})", file=sys.stderr)
        return 2
    finally:
        if not args.keep and "summary" in locals():
            shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(summary, ensure_ascii=False, indent=1)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    print(table(summary), file=sys.stderr)
    if args.keep:
        print(f"soak: work folder kept: {work}", file=sys.stderr)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
