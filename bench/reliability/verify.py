#!/usr/bin/env python3
"""Check what ``feedsvc serve`` answers while a store churns, and once it has settled.

During the churn (:class:`Watcher`): a few threads fetch documents over keep-alive
connections, plain, gzipped and conditional (If-None-Match with the ETag they last saw, as a
feed reader does), and check every answer:

- a 200 body is well-formed for its type (XML in lxml's strict parser, JSON, a whole HTML
  page) and its ETag is the one the body's bytes give: ``"<blake2b-16 hex of the identity
  body>"``, with ``-gz`` before the closing quote for the gzip copy (feedsvc/documents.py);
- a 304 carries the ETag the request named;
- a 404 is allowed only for a feed the churn may have removed (one it invented);
- anything else counts as an unexpected status.

After the churn (:func:`final_check`): wait for a reload that started after the churn's last
write, build the final store from scratch in this process, and compare every document the
service serves with it, byte for byte and ETag for ETag, identity and gzip, over fresh
connections (so both workers answer); every feed that is gone must be 404.

    python -m bench.reliability.verify final --base http://127.0.0.1:PORT --site DIR \\
        [--since UNIX_TIME]
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import http.client
import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from lxml import etree

from feedsvc.config import load_settings
from feedsvc.documents import Document
from feedsvc.site import Site
from tests.support.procs import socket_owner

EXAMPLES = 5            # problems kept as examples in the report, per kind
TIMEOUT = 10.0          # seconds per request
_XML = etree.XMLParser(resolve_entities=False, no_network=True)


def target(path: str) -> str:
    """Return the request target of a decoded document path."""
    return quote(path, safe="/")


def etag_of(body: bytes, gzipped: bool) -> str:
    """Return the ETag feedsvc gives a body (the identity bytes), as documents.py does."""
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    return f'"{digest}-gz"' if gzipped else f'"{digest}"'


def malformed(path: str, content_type: str, body: bytes) -> str | None:
    """Return why *body* is not a well-formed document of its type, or None."""
    kind = content_type.split(";")[0].strip()
    try:
        if kind.endswith("+json"):
            feed = json.loads(body.decode("utf-8"))
            if feed.get("version") != "https://jsonfeed.org/version/1.1":
                return "JSON Feed without its version"
        elif kind.endswith("xml") or kind == "text/x-opml":
            etree.fromstring(body, _XML)
        elif kind == "text/html":
            text = body.decode("utf-8")
            if not text.lower().startswith("<!doctype html>") or not text.rstrip().endswith(
                    "</html>"):
                return "HTML page cut short"
        else:
            return f"unexpected Content-Type {content_type!r}"
    except (ValueError, etree.XMLSyntaxError) as exc:   # JSONDecodeError is a ValueError
        return f"{type(exc).__name__}: {str(exc)[:120]}"
    return None


class Tally:
    """Counts and a few examples of each problem, shared by the watcher's threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def add(self, name: str, example: str | None = None) -> None:
        with self.lock:
            self.counts[name] += 1
            if example is not None and len(self.examples.setdefault(name, [])) < EXAMPLES:
                self.examples[name].append(example)

    def status(self, code: int) -> None:
        with self.lock:
            self.statuses[str(code)] += 1


class Watcher:
    """Fetch and check documents on a few threads until stopped."""

    def __init__(self, base: str, stable: Iterable[str], threads: int = 3,
                 seed: int = 1) -> None:
        split = urlsplit(base)
        self.host, self.port = split.hostname, split.port
        self.base = base
        self.stable = set(stable)              # paths that must always be served
        self.paths = sorted(self.stable)
        self.seen: set[str] = set(self.stable)  # every path ever listed (for the final check)
        self.threads = threads
        self.seed = seed
        self.tally = Tally()
        self.stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def start(self) -> None:
        self._workers = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(self.threads)]
        self._workers.append(threading.Thread(target=self._discover, daemon=True))
        for worker in self._workers:
            worker.start()

    def finish(self) -> dict:
        self.stop.set()
        for worker in self._workers:
            worker.join(TIMEOUT * 2)
        tally = self.tally
        return {"requests": sum(tally.statuses.values()), "statuses": dict(tally.statuses),
                "counts": dict(tally.counts), "examples": tally.examples,
                "paths_known": len(self.seen)}

    def _discover(self) -> None:
        """Learn the feeds the churn invents from /feeds.opml, every two seconds."""
        prefix = None
        while not self.stop.wait(2.0):
            try:
                status, _, body = self._get(None, "/feeds.opml", {})
                if status != 200:
                    continue
                for outline in etree.fromstring(body, _XML).iter("outline"):
                    url = outline.get("xmlUrl")
                    if not url:
                        continue
                    prefix = prefix or url[:url.index("/feeds/")]
                    path = unquote(url[len(prefix):])
                    stem = path.rsplit(".", 1)[0]
                    found = {f"{stem}.{fmt}" for fmt in ("rss", "atom", "json")} | {stem}
                    new = {p for p in found if p not in self.seen}
                    if new:
                        self.seen |= new
                        self.paths = sorted(self.seen)
            except (OSError, http.client.HTTPException, etree.XMLSyntaxError, ValueError):
                continue

    def _get(self, conn: http.client.HTTPConnection | None, path: str,
             headers: Mapping[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
        own = conn is None
        conn = conn or http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            conn.request("GET", path, headers=dict(headers))
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            if own:
                conn.close()

    def _run(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        known: dict[tuple[str, bool], str] = {}      # (path, gzip) -> last ETag seen
        conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        while not self.stop.is_set():
            path = rng.choice(self.paths)
            gzipped = rng.random() < 0.4
            headers = {"Accept-Encoding": "gzip"} if gzipped else {}
            sent = known.get((path, gzipped)) if rng.random() < 0.5 else None
            if sent:
                headers["If-None-Match"] = sent
            try:
                status, answer, body = self._get(conn, target(path), headers)
            except (OSError, http.client.HTTPException) as exc:
                self.tally.add("connection errors", f"{path}: {exc!r}")
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
                continue
            self.tally.status(status)
            self._check(path, gzipped, sent, status, answer, body, known)
        conn.close()

    def _check(self, path: str, gzipped: bool, sent: str | None, status: int,
               answer: http.client.HTTPMessage, body: bytes,
               known: dict[tuple[str, bool], str]) -> None:
        tally = self.tally
        if status == 304:
            tally.add("checked 304")
            if answer.get("ETag") != sent:
                tally.add("etag mismatches", f"{path}: 304 with {answer.get('ETag')}, sent {sent}")
            return
        if status == 404 and path not in self.stable:
            tally.add("404 for a removed feed")
            return
        if status != 200:
            tally.add("unexpected statuses", f"{status} for {path}")
            return
        tally.add("checked 200")
        if answer.get("Content-Encoding") == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as exc:
                tally.add("malformed bodies", f"{path}: bad gzip: {exc}")
                return
        elif gzipped:
            tally.add("unexpected statuses", f"{path}: asked for gzip, got identity")
        etag = answer.get("ETag")
        if etag != etag_of(body, gzipped):
            tally.add("etag mismatches",
                      f"{path}: ETag {etag}, bytes give {etag_of(body, gzipped)}")
        problem = malformed(path, answer.get("Content-Type", ""), body)
        if problem:
            tally.add("malformed bodies", f"{path}: {problem}")
        known[(path, gzipped)] = etag


# --- after the churn -------------------------------------------------------------------------

class Link:
    """Requests to the service: over one keep-alive connection a known worker holds, or
    over a fresh connection each time (whichever worker the kernel hands it to)."""

    def __init__(self, host: str, port: int, conn: http.client.HTTPConnection | None = None,
                 worker: int | None = None) -> None:
        self.host, self.port, self.conn, self.worker = host, port, conn, worker

    def get(self, path: str, gzipped: bool = False) -> tuple[int, str | None, bytes]:
        """Return status, ETag and body of a GET of decoded *path*."""
        headers = {"Accept-Encoding": "gzip"} if gzipped else {}
        conn = self.conn or http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        if self.conn is None:
            headers["Connection"] = "close"
        try:
            conn.request("GET", target(path), headers=headers)
            response = conn.getresponse()
            return response.status, response.getheader("ETag"), response.read()
        finally:
            if self.conn is None:
                conn.close()

    def health(self) -> dict:
        return json.loads(self.get("/healthz")[2])

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def link_to(host: str, port: int, worker: int, workers: Iterable[int], tries: int = 64) -> Link:
    """Return a keep-alive link that *worker* serves: connect until the kernel hands one to it."""
    for _ in range(tries):
        conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        link = Link(host, port, conn, worker)
        link.get("/healthz")                          # answered, so accepted by a worker
        if socket_owner(port, conn.sock.getsockname()[1], workers) == worker:
            return link
        conn.close()
    raise TimeoutError(f"no connection reached worker {worker} in {tries} tries")


def wait_for_reload_after(link: Link, since: float, limit: float) -> float:
    """Wait until *link*'s worker has run a reload begun after *since*; return seconds waited.

    A fresh-connection link asks 12 times in a row (any worker may answer each time).
    """
    began = time.monotonic()
    in_a_row, needed = 0, 1 if link.conn is not None else 12
    while in_a_row < needed:
        if time.monotonic() - began > limit:
            raise TimeoutError(f"no reload after the churn within {limit:.0f} s")
        body = link.health()
        last = body.get("last_reload")
        started = (dt.datetime.fromisoformat(last).timestamp()
                   - (body["last_reload_seconds"] or 0)) if last else 0.0
        in_a_row = in_a_row + 1 if started > since else 0
        if in_a_row == 0:
            time.sleep(0.1)
    return time.monotonic() - began


def scratch_build(site_dir: Path, environ: Mapping[str, str]) -> Site:
    """Return a Site of *site_dir* loaded from scratch, with the server's settings."""
    site = Site(load_settings({"site_dir": str(site_dir)}, environ=dict(environ)))
    site.reload()
    return site


def final_check(base: str, site_dir: Path, environ: Mapping[str, str], since: float,
                seen: Iterable[str] = (), workers: Iterable[int] = (),
                expected_posts: int | None = None, wait_limit: float = 60.0) -> dict:
    """Compare everything the service serves with a from-scratch build of the final store.

    With the pids of the *workers*, every worker is asked for every document (over a
    connection it holds); without, each document is fetched twice over fresh connections.
    """
    split = urlsplit(base)
    host, port = split.hostname, split.port
    workers = sorted(workers)
    built = time.perf_counter()
    site = scratch_build(site_dir, environ)
    build_seconds = time.perf_counter() - built
    documents = site.current.documents
    gone = sorted(set(seen) - set(documents))
    tally, waited, posts_served, lost = Tally(), 0.0, set(), set()
    for worker in workers or [None, None]:
        link = link_to(host, port, worker, workers) if worker else Link(host, port)
        try:
            waited = max(waited, wait_for_reload_after(link, since, wait_limit))
            _compare_all(link, documents, gone, tally)
            lost |= _lost_posts(link, site)
            posts_served.add(link.health()["posts"])
        finally:
            link.close()
    snapshot = site.current.snapshot
    missing = max(0, len(snapshot.posts) - min(posts_served))
    if expected_posts is not None:
        missing += max(0, expected_posts - len(snapshot.posts))
    return {
        "waited_seconds": round(waited, 2),
        "scratch_build_seconds": round(build_seconds, 2),
        "workers_compared": len(workers) or None,
        "documents": len(documents),
        "fetches": sum(tally.counts.values()),
        "posts_in_store": len(snapshot.posts),
        "posts_expected": expected_posts,
        "unreadable_posts": len(snapshot.errors),
        "healthz_posts": sorted(posts_served),
        "stale_documents": tally.counts["stale documents"],
        "gone_but_served": tally.counts["gone but served"],
        "gone_checked": len(gone),
        "posts_lost": len(lost) + missing,
        "examples": {**tally.examples, **({"lost": sorted(lost)[:EXAMPLES]} if lost else {})},
    }


def _compare_all(link: Link, documents: Mapping[str, Document], gone: list[str],
                 tally: Tally) -> None:
    """Compare every document, identity and gzip; check every gone path is 404."""
    for path, document in sorted(documents.items()):
        for gzipped in (False, True):
            status, etag, body = link.get(path, gzipped)
            expected = (200, document.gzip_etag if gzipped else document.etag,
                        document.gzip if gzipped else document.body)
            tally.add("compared")
            if (status, etag, body) != expected:
                tally.add("stale documents", f"{path} ({'gzip' if gzipped else 'identity'}) "
                          f"from worker {link.worker}: {status}, ETag {etag}, "
                          f"expected {expected[1]}")
    for path in gone:
        status, _, _ = link.get(path)
        tally.add("compared")
        if status != 404:
            tally.add("gone but served", f"{status} for {path} from worker {link.worker}")


def _lost_posts(link: Link, site: Site) -> set[str]:
    """Return the entry ids a scratch build shows in some JSON feed that the service lacks."""
    lost: set[str] = set()
    for path, document in site.current.documents.items():
        if not document.content_type.startswith("application/feed+json"):
            continue
        wanted = {item["id"] for item in json.loads(document.body)["items"]}
        status, _, body = link.get(path)
        served = {item["id"] for item in json.loads(body)["items"]} if status == 200 else set()
        lost |= wanted - served
    return lost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability.verify",
                                     description="Compare a running feedsvc with a scratch "
                                                 "build of its store.")
    sub = parser.add_subparsers(dest="command", required=True)
    final = sub.add_parser("final")
    final.add_argument("--base", required=True, help="e.g. http://127.0.0.1:8000")
    final.add_argument("--site", required=True, type=Path)
    final.add_argument("--since", type=float, default=0.0,
                       help="Unix time of the store's last change")
    final.add_argument("--workers", type=int, nargs="*", default=(),
                       help="pids of the server's workers: compare each one's documents")
    args = parser.parse_args(argv)
    result = final_check(args.base, args.site, {}, args.since, workers=args.workers)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    ok = not (result["stale_documents"] or result["gone_but_served"] or result["posts_lost"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
