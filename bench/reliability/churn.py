#!/usr/bin/env python3
"""Churn a Jekyll store: add, edit, rename and delete posts every PERIOD seconds.

    python -m bench.reliability.churn --site DIR [--period 0.2] [--duration 60] [--seed 1]
                                      [--report churn.json]

Writes are done the ways editors and tools do them: half the writes go to a hidden temporary
file renamed over the post (rsync, most editors), half truncate the post and write it in two
parts with a pause between (an in-place save), so a reload can catch a post empty or cut in
its front matter. New posts are dated after everything in the store, so they go to the top
of the global feed and of their category and tag feeds.

Every category and tag the store has when the churn starts keeps at least one post, so each
of their feeds stays servable (the load generator asks for them); categories and tags the
churn invents (``churn-…``) come and go. The report (JSON) lists what was done and the posts
the store holds at the end. Stops after DURATION seconds or on SIGTERM/SIGINT.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import random
import re
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from feedsvc.config import load_settings
from feedsvc.source import Store

ZONE = dt.timezone(dt.timedelta(hours=8))
FIRST_DATE = dt.datetime(2024, 6, 1, 8, 0, tzinfo=ZONE)   # after everything make_store writes
OPERATIONS = (("add", 35), ("edit", 30), ("rename", 15), ("delete", 20))
INVENTED = 6   # churn-only categories and tags to draw from


@dataclasses.dataclass
class Live:
    """One post the churn knows of."""

    rel: str
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    title: str
    churned: bool            # written by the churn (else one of the store's own)


class Churn:
    """The state of the store as the churn left it, and the operations on it."""

    def __init__(self, site: Path, seed: int) -> None:
        self.site = site
        self.rng = random.Random(seed)
        self.live: dict[str, Live] = {}
        self.counts: Counter[str] = Counter()   # "c:name" / "t:name" -> live posts
        self.protected: set[str] = set()
        self.done: Counter[str] = Counter()
        self.modes: Counter[str] = Counter()
        self.serial = 0
        self.deleted: list[str] = []
        self.touched: set[str] = set()   # live posts the churn added, edited or renamed
        self._read_store()

    def _read_store(self) -> None:
        settings = load_settings({"site_dir": str(self.site), "auto_reload": False},
                                 environ={})
        snapshot = Store.from_settings(settings).reload()
        for post in snapshot.posts:
            self._track(Live(post.path, post.categories, post.tags, post.title, False),
                        touched=False)
        self.protected = set(self.counts)
        self.categories = sorted(snapshot.categories)
        self.tags = sorted(snapshot.tags)

    def _track(self, post: Live, touched: bool = True) -> None:
        self.live[post.rel] = post
        self.counts.update(_names(post))
        if touched:
            self.touched.add(post.rel)

    def _untrack(self, rel: str) -> Live:
        post = self.live.pop(rel)
        self.counts.subtract(_names(post))
        self.touched.discard(rel)
        return post

    def _removable(self, post: Live, keep: tuple[str, ...] = ()) -> bool:
        """Return whether *post* may lose its names (all but *keep*) and every store name
        keeps a post."""
        return all(self.counts[name] > 1 or name not in self.protected or name in keep
                   for name in _names(post))

    # --- operations ----------------------------------------------------------------------

    def step(self) -> None:
        """Do one operation, chosen at random."""
        names, weights = zip(*OPERATIONS)
        operation = self.rng.choices(names, weights)[0]
        if operation != "add" and not self.live:
            operation = "add"
        getattr(self, operation)()
        self.done[operation] += 1

    def add(self) -> None:
        self.serial += 1
        date = FIRST_DATE + dt.timedelta(minutes=self.serial)
        rel = f"_posts/{date:%Y-%m-%d}-churn-{self.serial:05d}.md"
        post = Live(rel, self._pick(self.categories, "churn-cat", 1),
                    self._pick(self.tags, "churn-tag", self.rng.randint(1, 3)),
                    f"Churn {self.serial} 新闻 <b>&amp;</b> ]]> v1", True)
        self._write(rel, render(post, date, 1))
        self._track(post)

    def edit(self) -> None:
        rel = self.rng.choice(sorted(self.live))
        old = self.live[rel]
        version = int(re.search(r" v(\d+)$", old.title).group(1)) + 1 \
            if re.search(r" v(\d+)$", old.title) else 2
        base = re.sub(r" v\d+$", "", old.title)
        new = Live(rel, old.categories, old.tags, f"{base} v{version}", old.churned)
        if self.rng.random() < 0.5:   # move it to other tags, when the store can spare it
            tags = self._pick(self.tags, "churn-tag", self.rng.randint(1, 3))
            candidate = dataclasses.replace(new, tags=tags)
            if self._removable(old, keep=_names(candidate)):
                new = candidate
        text = (self.site / rel).read_text(encoding="utf-8")
        self._write(rel, rewrite(text, new))
        self._untrack(rel)
        self._track(new)

    def rename(self) -> None:
        rel = self.rng.choice(sorted(self.live))
        self.serial += 1
        stem, ext = rel.rsplit(".", 1)
        stem = re.sub(r"-r\d+$", "", stem)
        new_rel = f"{stem}-r{self.serial}.{ext}"
        os.rename(self.site / rel, self.site / new_rel)
        post = self._untrack(rel)
        self._track(dataclasses.replace(post, rel=new_rel))
        self.modes["rename"] += 1

    def delete(self) -> None:
        candidates = [rel for rel, post in sorted(self.live.items()) if self._removable(post)]
        if not candidates:
            self.add()
            return
        rel = self.rng.choice(candidates)
        (self.site / rel).unlink()
        self._untrack(rel)
        self.deleted.append(rel)
        self.modes["unlink"] += 1

    def _pick(self, names: list[str], invented: str, count: int) -> tuple[str, ...]:
        chosen = []
        for _ in range(count):
            if self.rng.random() < 0.15:
                chosen.append(f"{invented}-{self.rng.randrange(INVENTED)}")
            else:
                chosen.append(self.rng.choice(names))
        return tuple(dict.fromkeys(chosen))

    def _write(self, rel: str, text: str) -> None:
        data = text.encode("utf-8")
        path = self.site / rel
        if self.rng.random() < 0.5:
            temporary = path.with_name(f".{path.name}.tmp")   # hidden: never read as a post
            temporary.write_bytes(data)
            os.replace(temporary, path)
            self.modes["replace"] += 1
            return
        cut = self.rng.randrange(len(data))
        with open(path, "wb") as handle:                      # truncates: the file is empty
            handle.write(data[:cut])
            handle.flush()
            time.sleep(self.rng.uniform(0.001, 0.02))        # a reload may read it now
            handle.write(data[cut:])
        self.modes["in place"] += 1

    def report(self, started: float, ended: float) -> dict:
        return {
            "started_at": started, "ended_at": ended,
            "operations": dict(sorted(self.done.items())),
            "writes": dict(sorted(self.modes.items())),
            "live_posts": len(self.live),
            "churned_live": sorted(rel for rel, post in self.live.items() if post.churned),
            "deleted": self.deleted,
            "touched": {rel: self.live[rel].title for rel in sorted(self.touched)},
        }


def _names(post: Live) -> tuple[str, ...]:
    return tuple(f"c:{name}" for name in post.categories) + tuple(f"t:{name}" for name in post.tags)


def _yaml_list(names: tuple[str, ...]) -> str:
    return json.dumps(list(names), ensure_ascii=False)   # a JSON list is a YAML flow list


def render(post: Live, date: dt.datetime, version: int) -> str:
    """Return the whole file of a post the churn adds."""
    return (f"---\nlayout: post\ntitle: {json.dumps(post.title, ensure_ascii=False)}\n"
            f"date: {date:%Y-%m-%d %H:%M:%S} +0800\n"
            f"categories: {_yaml_list(post.categories)}\ntags: {_yaml_list(post.tags)}\n---\n"
            f"<p>Written by the churn, version {version}. 正文 ]]&gt; &amp; "
            f"<a href=\"/x\">a link</a></p>\n")


def rewrite(text: str, post: Live) -> str:
    """Return *text* with the title, categories and tags lines of *post*."""
    lines = {"title": f"title: {json.dumps(post.title, ensure_ascii=False)}",
             "categories": f"categories: {_yaml_list(post.categories)}",
             "tags": f"tags: {_yaml_list(post.tags)}"}
    head, sep, body = text[4:].partition("\n---\n")
    out = []
    for line in head.split("\n"):
        key = line.split(":", 1)[0]
        out.append(lines.pop(key) if key in lines else line)
    out.extend(lines.values())
    return "---\n" + "\n".join(out) + sep + body + f"<p>Edited: {post.title}</p>\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability.churn",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", required=True, type=Path)
    parser.add_argument("--period", type=float, default=0.2, help="seconds between operations")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)
    churn = Churn(args.site, args.seed)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print("ready", flush=True)   # the store is read; the soak starts the clock now
    started = time.time()
    deadline = time.monotonic() + args.duration
    while not stop.is_set() and time.monotonic() < deadline:
        churn.step()
        stop.wait(args.period)
    ended = time.time()
    report = churn.report(started, ended)
    text = json.dumps(report, ensure_ascii=False, indent=1)
    if args.report:
        args.report.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
