#!/usr/bin/env python3
"""The measured process: load a site with feedsvc's public API and print one JSON line.

Run by ``python -m bench.run`` in a fresh interpreter for every sample, so each cold start pays for
imports and a cold process heap, as a restart does (the OS page cache stays warm: the
figures are for a restart, not for a machine that just booted).

    python -m bench.measure cold   --site DIR [--cache-dir DIR] [--load-only]
    python -m bench.measure reload --site DIR [--repeats 5] [--load-only]
    python -m bench.measure profile --site DIR --out FILE.html [--load-only]

From the repository root: ``python -m`` puts it first on ``sys.path``, so this checkout's
feedsvc is the one measured whether or not a copy is installed.

``cold``: time ``Site(settings).reload()`` (every feed and page built), or with ``--load-only``
(or when ``feedsvc.site`` cannot be imported yet) ``Store.from_settings(settings).reload()``.
``reload``: after a first load, time reloads with nothing changed, then edit the newest post
(its title) and time the reload until ``/feeds/all.atom`` serves the new bytes; the post is
restored at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

STARTED = time.perf_counter()

from feedsvc.config import load_settings  # noqa: E402  (timed: imports are part of a start)
from feedsvc.source import Store  # noqa: E402

FEED = "/feeds/all.atom"


class Loader:
    """Whatever of feedsvc can be measured: the full Site, or only the Store."""

    def __init__(self, site_dir: str, cache_dir: str = "", load_only: bool = False) -> None:
        settings = load_settings({"site_dir": site_dir, "cache_dir": cache_dir})
        self.what = "store"
        self.site = None
        if not load_only:
            try:
                from feedsvc.site import Site
            except ImportError as exc:  # feeds/pages not landed yet: measure the loader
                self.why_store = f"feedsvc.site not importable: {exc}"
            else:
                self.site = Site(settings)
                self.what = "site"
        self.store = self.site.store if self.site is not None else Store.from_settings(settings)

    def reload(self) -> None:
        """Reload the store (and rebuild every feed and page if the Site works)."""
        if self.site is not None:
            self.site.reload()
        else:
            self.store.reload()

    def served(self) -> bytes:
        """Return what is served at /feeds/all.atom (Site), or the newest title (Store)."""
        if self.site is not None:
            document = self.site.document(FEED)
            return b"" if document is None else document.body
        return self.store.snapshot.posts[0].title.encode("utf-8")

    def counts(self) -> dict[str, Any]:
        """Return the sizes that show what was measured."""
        snapshot = self.store.snapshot
        counts = {"posts": len(snapshot.posts), "errors": len(snapshot.errors),
                  "categories": len(snapshot.categories), "tags": len(snapshot.tags),
                  "parsed_files": self.store.reads}
        if self.site is not None:
            counts["documents"] = len(self.site.current.documents)
        return counts


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mb() -> float:
    """Return the largest peak RSS of any finished child (e.g. a parsing pool), in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def cold(args: argparse.Namespace) -> dict[str, Any]:
    """Load once from a fresh process."""
    loader = Loader(args.site, args.cache_dir, args.load_only)
    begin = time.perf_counter()
    loader.reload()
    done = time.perf_counter()
    return {"what": loader.what, "reload_s": done - begin, "since_start_s": done - STARTED,
            "peak_rss_mb": peak_rss_mb(), "children_peak_rss_mb": children_peak_rss_mb(),
            **loader.counts()}


def newest_post(loader: Loader) -> Path:
    """Return the file of the newest post (it is in every 'all' feed)."""
    return Path(loader.store.root) / loader.store.snapshot.posts[0].path


def edit(path: Path, original: bytes, number: int) -> None:
    """Change the title of the post at *path* and make sure its signature changes."""
    text = original.decode("utf-8").replace('title: "', f'title: "（更新{number}）', 1)
    path.write_bytes(text.encode("utf-8"))
    stat = path.stat()
    # Same-size edits within one mtime tick must still look changed: bump mtime by 1 ms.
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000 * number))


def timed(action: Callable[[], None]) -> float:
    begin = time.perf_counter()
    action()
    return time.perf_counter() - begin


def reload(args: argparse.Namespace) -> dict[str, Any]:
    """Time reloads with nothing changed, then with one post edited."""
    loader = Loader(args.site, args.cache_dir, args.load_only)
    loader.reload()
    unchanged = [timed(loader.reload) for _ in range(args.repeats)]
    path = newest_post(loader)
    original = path.read_bytes()
    changed, until_served = [], []
    try:
        for number in range(1, args.repeats + 1):
            before = loader.served()
            edit(path, original, number)
            begin = time.perf_counter()
            loader.reload()
            changed.append(time.perf_counter() - begin)
            if loader.served() == before:
                raise RuntimeError(f"{FEED} did not change after editing {path}")
            until_served.append(time.perf_counter() - begin)
    finally:
        path.write_bytes(original)
        loader.reload()
    return {"what": loader.what, "unchanged_s": unchanged, "changed_s": changed,
            "until_served_s": until_served,
            "unchanged_median_s": statistics.median(unchanged),
            "until_served_median_s": statistics.median(until_served),
            "peak_rss_mb": peak_rss_mb(), **loader.counts()}


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """Profile one cold load with pyinstrument; write HTML and text reports."""
    from pyinstrument import Profiler
    loader = Loader(args.site, args.cache_dir, args.load_only)
    profiler = Profiler(interval=0.001)
    profiler.start()
    loader.reload()
    profiler.stop()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(profiler.output_html(), encoding="utf-8")
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    out.with_suffix(".txt").write_text(text, encoding="utf-8")
    return {"what": loader.what, "html": str(out), "text": str(out.with_suffix(".txt")),
            "peak_rss_mb": peak_rss_mb(), **loader.counts()}


def main() -> None:
    """Run one measurement and print its result as one JSON line on stdout."""
    parser = argparse.ArgumentParser(prog="python -m bench.measure",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("cold", "reload", "profile"))
    parser.add_argument("--site", required=True)
    parser.add_argument("--cache-dir", default="")
    parser.add_argument("--load-only", action="store_true", help="measure Store, not Site")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="bench/results/profile.html")
    args = parser.parse_args()
    result = {"cold": cold, "reload": reload, "profile": profile}[args.mode](args)
    print(json.dumps(result), flush=True)
    # A restart is over when the new process serves: skip tearing down the heap of 100k
    # posts (seconds at 100k), which would otherwise count in the parent's wall time.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
