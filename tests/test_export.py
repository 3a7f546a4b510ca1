"""Static export: the file of every document, atomic swaps, failures that keep OUT, --watch."""
from __future__ import annotations

import errno
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest

from feedsvc import export as export_module
from feedsvc.cli import main
from feedsvc.documents import make_document
from feedsvc.export import ExportError, document_file, export, export_continuously
from feedsvc.site import Site
from tests.support.net import wait_until
from tests.support.serve import PYTHON, started

WAIT = 15.0   # bound of every wait on another thread or process


@pytest.fixture
def make_site(make_settings, clock) -> Callable[[], Site]:
    """Return a function loading ``site_dir`` as written so far into a reloaded Site."""
    def make_site() -> Site:
        site = Site(make_settings(), clock)
        site.reload()
        return site
    return make_site


def tree(out: Path) -> dict[str, bytes]:
    """Return every file under OUT (through its symlink) by relative path."""
    files = {}
    for folder, _, names in os.walk(out, followlinks=True):
        for name in names:
            path = Path(folder, name)
            files[path.relative_to(out).as_posix()] = path.read_bytes()
    return files


def builds(out: Path) -> list[str]:
    return sorted(p.name for p in out.with_name(out.name + ".d").iterdir()
                  if not p.name.startswith("."))


# --- paths to files ------------------------------------------------------------------------

@pytest.mark.parametrize("path, kind, expected", [
    ("/", "html", "index.html"),
    ("/feeds/categories/metro", "html", "feeds/categories/metro.html"),
    ("/feeds/tags/a.html", "html", "feeds/tags/a.html.html"),   # never the page of "a"
    ("/feeds/all.rss", "rss", "feeds/all.rss"),
    ("/feeds/categories/东方网新闻.atom", "atom", "feeds/categories/东方网新闻.atom"),
    ("/feeds/categories/a/b.json", "json", "feeds/categories/a/b.json"),   # '/' in a name
    ("/feeds/tags/...rss", "rss", "feeds/tags/...rss"),        # the feed of the tag ".."
    ("/feed.xml", "atom", "feed.xml"),
    ("/feeds.opml", "opml", "feeds.opml"),
])
def test_document_file_of_a_path(path, kind, expected):
    assert document_file(path, make_document(b"x", kind, None)) == (expected, "")


@pytest.mark.parametrize("path", [
    "/feeds/categories/../../etc.rss", "/feeds/categories/..", "/feeds/tags/.",
    "/feeds/categories/a//b.rss", "relative.rss", "/feeds/nul\0.rss",
])
def test_unsafe_paths_have_no_file(path):
    rel, reason = document_file(path, make_document(b"x", "rss", None))
    assert rel is None
    assert reason.startswith("unsafe file name")


# --- what an export writes -------------------------------------------------------------------

def test_export_writes_every_document_and_its_gzip(make_site, write_post, tmp_path):
    write_post("one", date="2024-12-31 08:00:00 +0800", title="One",
               categories=["metro", "a/b", "../../etc"], tags=["东方网新闻", ".."])
    site = make_site()
    out = tmp_path / "public" / "site"
    result = export(site.current.documents, out)
    files = tree(out)
    assert result.changed and out.is_symlink()
    assert out.resolve() == result.build
    expected = {}
    for path, document in site.current.documents.items():
        rel, _ = document_file(path, document)
        if rel is not None:
            expected[rel] = document.body
            expected[rel + ".gz"] = document.gzip
    assert files == expected
    assert files["feeds/categories/a/b.rss"] == \
        site.current.documents["/feeds/categories/a/b.rss"].body
    assert files["feeds/tags/东方网新闻.html"] == \
        site.current.documents["/feeds/tags/东方网新闻"].body
    assert files["feeds/tags/...atom"] == site.current.documents["/feeds/tags/...atom"].body
    # Nothing escaped: "../../etc" is skipped and reported, in every format and its page;
    # so is the page of the tag ".." (its URL, /feeds/tags/%2E%2E, means /feeds/ to nginx),
    # and the category's jekyll-feed path.
    assert sorted(s.path for s in result.skipped) == [
        "/feed/../../etc.xml", "/feeds/categories/../../etc",
        "/feeds/categories/../../etc.atom", "/feeds/categories/../../etc.json",
        "/feeds/categories/../../etc.rss", "/feeds/tags/.."]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public", "site"]
    assert sorted(p.name for p in (tmp_path / "public").iterdir()) == ["site", "site.d"]
    entries = feedparser.parse(files["feeds/all.atom"]).entries
    assert [e.title for e in entries] == ["One"]


def test_unchanged_documents_export_nothing(make_site, write_post, tmp_path):
    write_post("one", date="2024-12-31 08:00:00 +0800")
    site = make_site()
    out = tmp_path / "export" / "site"
    first = export(site.current.documents, out)
    again = export(site.reload().documents, out)
    assert not again.changed
    assert again.build == first.build
    assert builds(out) == [first.build.name]


def test_changed_export_keeps_unchanged_files_and_the_previous_build(make_site, write_post,
                                                                     tmp_path):
    write_post("metro", date="2024-12-30 08:00:00 +0800", categories="metro", title="M")
    write_post("sport", date="2024-12-31 08:00:00 +0800", categories="sports", title="S")
    site = make_site()
    out = tmp_path / "export" / "site"
    first = export(site.current.documents, out)
    sports, metro = "feeds/categories/sports.rss", "feeds/categories/metro.rss"
    before = {rel: os.stat(out / rel) for rel in (sports, metro)}
    write_post("metro", date="2024-12-30 08:00:00 +0800", categories="metro", title="M2")
    second = export(site.reload().documents, out)
    after = {rel: os.stat(out / rel) for rel in (sports, metro)}
    # An unchanged file is the same inode (a hard link): same mtime, so the same nginx
    # ETag (mtime-size) and Last-Modified; a changed one gets a later mtime.
    assert after[sports].st_ino == before[sports].st_ino
    assert after[sports].st_mtime == before[sports].st_mtime
    assert after[metro].st_ino != before[metro].st_ino
    assert int(after[metro].st_mtime) > int(before[metro].st_mtime)
    assert second.linked > 0 and second.written > 0
    write_post("sport", date="2024-12-31 08:00:00 +0800", categories="sports", title="S2")
    third = export(site.reload().documents, out)
    # The previous build stays for readers still inside it; older ones go.
    assert builds(out) == sorted([second.build.name, third.build.name])
    assert not first.build.exists()


def test_out_that_is_not_an_export_is_left_alone(make_site, write_post, tmp_path):
    write_post("one", date="2024-12-31 08:00:00 +0800")
    site = make_site()
    out = tmp_path / "export" / "site"
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not a symlink made by 'feedsvc build'"):
        export(site.current.documents, out)
    assert (out / "keep.txt").read_text() == "mine"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.symlink_to(tmp_path)
    with pytest.raises(ExportError, match="is a symlink to"):
        export(site.current.documents, elsewhere)


# --- failures never leave a half-written OUT --------------------------------------------------

@pytest.fixture
def fill_disk(monkeypatch):
    """Return a switch that makes the export's file writes fail with ENOSPC after *n* files."""
    real = export_module._write_file

    def fill_disk(after: int) -> None:
        written = []

        def write_file(path: str, data: bytes) -> None:
            if len(written) >= after:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
            written.append(path)
            real(path, data)
        monkeypatch.setattr(export_module, "_write_file", write_file)
    return fill_disk


def test_disk_full_keeps_the_old_export(make_site, write_post, tmp_path, fill_disk):
    write_post("one", date="2024-12-31 08:00:00 +0800", title="One")
    site = make_site()
    out = tmp_path / "export" / "site"
    first = export(site.current.documents, out)
    old = tree(out)
    write_post("two", date="2025-01-01 08:00:00 +0800", title="Two")
    fill_disk(after=5)
    with pytest.raises(ExportError, match="No space left on device") as caught:
        export(site.reload().documents, out)
    assert "the previous export is still served" in str(caught.value)
    assert os.path.realpath(out) == str(first.build)
    assert tree(out) == old
    assert builds(out) == [first.build.name]       # the half build is gone


def test_build_command_reports_a_full_disk_and_exits_1(site_dir, write_post, tmp_path,
                                                      fill_disk, capsys):
    write_post("one", date="2024-12-31 08:00:00 +0800")
    fill_disk(after=5)
    out = tmp_path / "export" / "site"
    assert main(["build", "--site", str(site_dir), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "feedsvc build:" in err and "No space left on device" in err
    assert not os.path.lexists(out)


def test_build_command_exports_and_says_so(site_dir, write_post, tmp_path, capsys):
    write_post("one", date="2024-12-31 08:00:00 +0800", categories="../../etc")
    out = tmp_path / "export" / "site"
    assert main(["build", "--site", str(site_dir), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("exported ")
    assert "skipped '/feeds/categories/../../etc.rss': unsafe file name" in captured.err
    assert (out / "feeds" / "all.rss").is_file()
    assert main(["build", "--site", str(site_dir), "--out", str(out)]) == 0
    assert "already holds these documents" in capsys.readouterr().out


def test_build_command_reports_a_missing_site(tmp_path, capsys):
    assert main(["build", "--site", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "site_dir" in capsys.readouterr().err


def test_reader_never_sees_a_missing_or_partial_file(tmp_path):
    out = tmp_path / "export" / "site"
    paths = [f"/feeds/categories/c{n}.rss" for n in range(40)] + ["/"]

    def generation(number: int) -> dict:
        body = (f"<rss>generation {number:04d}" + "x" * 20_000 + "</rss>").encode()
        return {path: make_document(body, "html" if path == "/" else "rss", None)
                for path in paths}
    export(generation(0), out)
    seen: set[bytes] = set()
    problems: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            for rel in ("feeds/categories/c0.rss", "feeds/categories/c39.rss", "index.html"):
                try:
                    data = (out / rel).read_bytes()
                except OSError as exc:
                    problems.append(f"{rel}: {exc}")
                    continue
                if not (data.startswith(b"<rss>generation ") and data.endswith(b"</rss>")
                        and len(data) == 20_026):
                    problems.append(f"{rel}: partial, {len(data)} bytes")
                seen.add(data[:20])
    reader = threading.Thread(target=read)
    reader.start()
    try:
        for number in range(1, 31):
            assert export(generation(number), out).changed
    finally:
        done.set()
        reader.join(WAIT)
    assert problems == []
    assert len(seen) > 1          # the reader did see exports change under it
    assert len(builds(out)) == 2


# --- --watch ------------------------------------------------------------------------------------

def titles(out: Path) -> list[str]:
    try:
        data = (out / "feeds" / "all.atom").read_bytes()
    except OSError:
        return []
    return [e.title for e in feedparser.parse(data).entries]


def test_export_continuously_exports_changes_and_only_changes(make_site, write_post, tmp_path):
    write_post("one", date="2024-12-31 08:00:00 +0800", title="One")
    site = make_site()
    out = tmp_path / "export" / "site"
    export(site.current.documents, out)
    stop = threading.Event()
    watcher = threading.Thread(target=export_continuously, args=(site, out, 0.02, stop))
    watcher.start()
    try:
        write_post("two", date="2025-01-01 08:00:00 +0800", title="Two")
        wait_until(lambda: titles(out) == ["Two", "One"], "the new post in the export", WAIT)
        build, builds_made = os.path.realpath(out), site.builder.builds
        reloads = site.status.reloads
        wait_until(lambda: site.status.reloads >= reloads + 5, "five more reloads", WAIT)
        assert os.path.realpath(out) == build     # nothing changed: no new build
        assert site.builder.builds == builds_made
    finally:
        stop.set()
        watcher.join(WAIT)
    assert not watcher.is_alive()


def test_build_watch_stops_cleanly_on_sigterm(site_dir, write_post, tmp_path):
    write_post("one", date="2024-12-31 08:00:00 +0800", title="One")
    out, log = tmp_path / "export" / "site", tmp_path / "build.log"
    command = [PYTHON, "-m", "feedsvc.cli", "build", "--site", str(site_dir),
               "--out", str(out), "--watch", "--interval", "1"]
    with started(command, log) as process:
        def alive() -> bool:
            return process.poll() is None

        def why() -> str:
            return "\n" + log.read_text(errors="replace")
        wait_until(lambda: titles(out) == ["One"], "the first export", WAIT, alive, why)
        write_post("two", date="2025-01-01 08:00:00 +0800", title="Two")
        wait_until(lambda: titles(out) == ["Two", "One"], "the watched change", WAIT, alive,
                   why)
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
    assert b"Traceback" not in log.read_bytes()
