"""Faults: the store vanishes, cannot be read, loops, is half-written; the disk fills up.

For each fault the service keeps serving the last good documents byte for byte, /healthz
reports the failed reload by reason only (no path), goes 503 "degraded" once the snapshot is
older than ``stale_after`` (docs/service.md), and the first reload after the fault clears
publishes exactly what a from-scratch build of the store gives, without a restart. A failed
``feedsvc build --out`` leaves OUT as it was. Figures and the list: docs/reliability.md.
"""
from __future__ import annotations

import errno
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from feedsvc import export as export_module
from feedsvc.cli import main
from feedsvc.config import load_settings
from feedsvc.errors import FeedsvcError
from feedsvc.site import Site

ROOT = Path(__file__).resolve().parent.parent
STALE_AFTER = 300   # the default: /healthz turns 503 when the snapshot is older than this
POST = """---
title: "{title}"
date: {date}
categories: {category}
tags: [东方网新闻, {tag}]
---
<p>{title} 正文 body.</p>
"""


def post_text(title: str, day: int, category: str = "metro", tag: str = "早高峰") -> str:
    return POST.format(title=title, date=f"2024-12-{day:02d} 08:00:00 +0800",
                       category=category, tag=tag)


@pytest.fixture
def store(site_dir: Path) -> Path:
    """Write three posts in two categories and three tags; return the _posts folder."""
    posts = site_dir / "_posts"
    (posts / "2024-12-01-one.md").write_text(post_text("One", 1), encoding="utf-8")
    (posts / "2024-12-02-two.md").write_text(post_text("Two", 2, "world", "国际"),
                                             encoding="utf-8")
    (posts / "2024-12-03-three.md").write_text(post_text("Three", 3), encoding="utf-8")
    return posts


@pytest.fixture
def service(store, make_app):
    """Return (app, site, client) of the store, loaded once."""
    app = make_app()
    return app, app.state.site, app.test_client()


def url(path: str) -> str:
    return quote(path, safe="/")


def served(client, paths) -> dict[str, tuple[int, bytes, str]]:
    """Return status, body and ETag of every path, as a client gets them."""
    answers = {}
    for path in paths:
        response = client.get(url(path))
        answers[path] = (response.status_code, response.data, response.headers.get("ETag"))
    return answers


def reload(site: Site) -> bool:
    """Reload as the scheduler does: a failure is recorded and logged, not raised further."""
    try:
        site.reload()
    except FeedsvcError:
        return False
    return True


def scratch(site_dir: Path, clock) -> dict[str, bytes]:
    """Return the bytes of every document a fresh build of the store publishes."""
    fresh = Site(load_settings({"site_dir": str(site_dir), "auto_reload": False}), clock)
    return {path: document.body for path, document in fresh.reload().documents.items()}


def health(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    return response.status_code, response.get_json()


def assert_still_serving(client, before, reason: str, failures: int = 1) -> None:
    """Check the last good documents are served and /healthz reports *reason*."""
    assert served(client, before) == before
    path, (_, _, etag) = next(iter(sorted(before.items())))
    assert client.get(url(path), headers={"If-None-Match": etag}).status_code == 304
    code, body = health(client)
    assert (code, body["status"], body["failures"]) == (200, "ok", failures)
    assert body["last_error"] == reason


def assert_degraded_once_stale(client, clock, reason: str) -> None:
    """Check /healthz goes 503 "degraded", still saying why, once the snapshot is stale."""
    clock.advance(STALE_AFTER + 1)
    code, body = health(client)
    assert (code, body["status"], body["last_error"]) == (503, "degraded", reason)
    assert client.get("/feeds/all.rss").status_code == 200   # feeds are still served


def assert_recovered(client, site, site_dir, clock) -> None:
    """Check one reload publishes exactly what a fresh build gives and /healthz is ok."""
    assert reload(site)
    expected = scratch(site_dir, clock)
    assert {path: body for path, (_, body, _) in served(client, expected).items()} == expected
    assert sorted(site.current.documents) == sorted(expected)
    code, body = health(client)
    assert (code, body["status"], body["snapshot_age_seconds"]) == (200, "ok", 0.0)


def no_paths(reason: str, *roots: Path) -> bool:
    return "/" not in reason and not any(str(root) in reason for root in roots)


# --- the store folder goes away --------------------------------------------------------------

@pytest.mark.parametrize("gone, reason", [
    ("site", "cannot read the site folder: site folder is missing"),
    # What an unmounted volume or a deploy that swaps _posts/ looks like for a moment: the
    # site folder is there, the posts folder is not. Publishing an empty site would 404
    # every category feed; feedsvc keeps the last good posts and says why.
    ("posts", "no _posts folder left in the site folder; keeping the last good posts"),
])
def test_store_folder_removed_keeps_serving_then_recovers(gone, reason, service, site_dir,
                                                          store, clock, tmp_path):
    _, site, client = service
    folder = site_dir if gone == "site" else store
    before = served(client, site.current.documents)
    kept = tmp_path / "kept"
    shutil.move(folder, kept)
    assert not reload(site)
    assert_still_serving(client, before, reason)
    assert no_paths(site.status.last_error, site_dir)
    assert_degraded_once_stale(client, clock, reason)
    shutil.move(kept, folder)
    (store / "2024-12-04-four.md").write_text(post_text("Four", 4, "new"), encoding="utf-8")
    assert_recovered(client, site, site_dir, clock)
    assert client.get("/feeds/categories/new.rss").status_code == 200


def test_emptied_posts_folder_is_an_edit_not_a_fault(service, store, clock):
    # The difference with the fault above: _posts/ is there and empty. Deleting every post
    # is something an editor does; it is published.
    _, site, client = service
    for path in store.iterdir():
        path.unlink()
    assert reload(site)
    assert site.current.snapshot.posts == ()
    assert client.get("/feeds/categories/metro.rss").status_code == 404
    assert health(client)[1]["posts"] == 0


# --- the store cannot be read ----------------------------------------------------------------

def deny(monkeypatch, site_dir: Path, *, scandir: bool = True, opening: bool = True) -> None:
    """Make listing and opening anything under *site_dir* fail as an unreadable folder does.

    The tests run as root, for whom chmod 000 blocks nothing: the calls are patched instead.
    """
    real_scandir, real_open, real_os_open = os.scandir, open, os.open
    inside = str(os.path.realpath(site_dir))

    def is_inside(path) -> bool:
        return str(os.path.realpath(os.fspath(path))).startswith(inside)

    def failing_scandir(path="."):
        if is_inside(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_scandir(path)

    def failing_open(file, *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and is_inside(file):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    def failing_os_open(file, *args, **kwargs):
        if is_inside(file):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_os_open(file, *args, **kwargs)

    if scandir:
        monkeypatch.setattr(os, "scandir", failing_scandir)
    if opening:
        monkeypatch.setattr("builtins.open", failing_open)
        monkeypatch.setattr(os, "open", failing_os_open)   # the store reads posts with it


def test_unreadable_site_folder_keeps_serving_then_recovers(service, site_dir, store, clock,
                                                            monkeypatch):
    _, site, client = service
    before = served(client, site.current.documents)
    deny(monkeypatch, site_dir)
    (store / "2024-12-04-four.md").write_bytes(post_text("Four", 4).encode())
    assert not reload(site)
    reason = "cannot read the site folder: Permission denied"
    assert_still_serving(client, before, reason)
    assert_degraded_once_stale(client, clock, reason)
    monkeypatch.undo()
    assert_recovered(client, site, site_dir, clock)
    assert "Four" in client.get("/feeds/all.json").get_json()["items"][0]["title"]


def test_posts_that_cannot_be_opened_keep_their_last_good_version(service, site_dir, store,
                                                                   clock, monkeypatch):
    # The folder lists but its files cannot be opened (a permission change half applied):
    # each edited post keeps its last good version and is counted as broken; the reload
    # itself succeeds, so /healthz stays ok with no last_error.
    _, site, client = service
    before = served(client, site.current.documents)
    (store / "2024-12-01-one.md").write_text(post_text("One, edited", 1), encoding="utf-8")
    deny(monkeypatch, site_dir, scandir=False)
    assert reload(site)
    monkeypatch.undo()
    assert served(client, before) == before
    code, body = health(client)
    assert (code, body["status"], body["broken_posts"], body["last_error"]) == (200, "ok", 1, None)
    assert [(e.path, e.reason) for e in site.current.snapshot.errors] == [
        ("_posts/2024-12-01-one.md", "cannot read: Permission denied")]
    assert_recovered(client, site, site_dir, clock)
    assert health(client)[1]["broken_posts"] == 0
    assert "One, edited" in client.get("/feeds/categories/metro.rss").get_data(as_text=True)


# --- symlink loops ---------------------------------------------------------------------------

@pytest.mark.parametrize("which, reason", [
    ("site", "cannot read the site folder: site folder is missing"),
    ("_posts", "cannot read the site folder: Too many levels of symbolic links"),
])
def test_folder_replaced_by_a_symlink_loop(service, site_dir, store, clock, tmp_path, which,
                                           reason):
    _, site, client = service
    before = served(client, site.current.documents)
    folder = site_dir if which == "site" else store
    kept = tmp_path / "kept"
    shutil.move(folder, kept)
    os.symlink(folder.name, folder)          # folder -> folder: ELOOP on every lookup
    assert not reload(site)
    assert_still_serving(client, before, reason)
    assert no_paths(site.status.last_error, site_dir)
    assert_degraded_once_stale(client, clock, reason)
    folder.unlink()
    shutil.move(kept, folder)
    assert_recovered(client, site, site_dir, clock)


# --- a post half-written ---------------------------------------------------------------------

EDITED = post_text("One, rewritten with a longer title", 1, "metro", "晚高峰")


def cut_points() -> list[tuple[str, int]]:
    """Return where an in-place save can be caught: before and inside the front matter."""
    title_line = EDITED.index("title:")
    closing = EDITED.index("---", 3)
    return [("empty", 0), ("opening dashes", 2), ("after the opening line", 4),
            ("inside the title", title_line + 12), ("inside the tags", EDITED.index("tags") + 9),
            ("before the closing line", closing), ("inside the closing line", closing + 2)]


@pytest.mark.parametrize("where, cut", cut_points(), ids=[name for name, _ in cut_points()])
def test_half_written_edit_keeps_the_last_good_version(service, site_dir, store, clock, where,
                                                       cut):
    _, site, client = service
    before = served(client, site.current.documents)
    path = store / "2024-12-01-one.md"
    path.write_bytes(EDITED.encode()[:cut])          # the editor is still writing
    assert reload(site)
    assert served(client, before) == before
    code, body = health(client)
    assert (code, body["status"], body["broken_posts"], body["posts"]) == (200, "ok", 1, 3)
    [error] = site.current.snapshot.errors
    assert error.path == "_posts/2024-12-01-one.md"
    path.write_text(EDITED, encoding="utf-8")        # ... and has finished
    assert_recovered(client, site, site_dir, clock)
    assert client.get("/feeds/tags/%E6%99%9A%E9%AB%98%E5%B3%B0.rss").status_code == 200


def test_half_written_new_post_waits_until_it_is_whole(service, site_dir, store, clock):
    _, site, client = service
    before = served(client, site.current.documents)
    path = store / "2024-12-04-four.md"
    whole = post_text("Four", 4, "new")
    path.write_text(whole[:whole.index("categories")], encoding="utf-8")
    assert reload(site)
    assert served(client, before) == before
    assert client.get("/feeds/categories/new.rss").status_code == 404
    assert health(client)[1]["broken_posts"] == 1
    path.write_text(whole, encoding="utf-8")
    assert_recovered(client, site, site_dir, clock)
    assert client.get("/feeds/categories/new.rss").status_code == 200


# --- the disk fills up during `feedsvc build --out` ------------------------------------------

def export_tree(out: Path) -> dict[str, bytes]:
    files = {}
    for folder, _, names in os.walk(out, followlinks=True):
        for name in names:
            files[Path(folder, name).relative_to(out).as_posix()] = Path(folder, name).read_bytes()
    return files


def leftovers(out: Path) -> list[str]:
    """Return what a failed export could leave behind: stray builds, temporary symlinks."""
    builds = [p.name for p in out.with_name(out.name + ".d").iterdir()
              if not p.name.startswith(".") and p.resolve() != out.resolve()]
    temporary = [p.name for p in out.parent.glob(f".{out.name}.*.tmp")]
    return builds + temporary


class FillingDisk:
    """Files the export creates, whose writes stop with ENOSPC once *room* bytes are used.

    The file is really half-written on disk when the error comes, as on a full disk.
    """

    def __init__(self, room: int) -> None:
        self.room = room
        self.failed = 0

    def open(self, path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)
        if not any(flag in mode for flag in "wx"):
            return handle
        return FillingFile(self, handle, os.fspath(path))


class FillingFile:
    """One file being written to a disk that is filling up."""

    def __init__(self, disk: FillingDisk, handle, path: str) -> None:
        self.disk, self.handle, self.path = disk, handle, path

    def write(self, data: bytes) -> int:
        if len(data) > self.disk.room:
            self.handle.write(bytes(data)[:self.disk.room])
            self.handle.flush()
            self.disk.room = 0
            self.disk.failed += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.path)
        self.disk.room -= len(data)
        return self.handle.write(data)

    def __enter__(self) -> FillingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def test_disk_full_during_build_keeps_the_previous_export(site_dir, store, tmp_path,
                                                          monkeypatch, capsys):
    out = tmp_path / "export" / "site"
    assert main(["build", "--site", str(site_dir), "--out", str(out)]) == 0
    before = export_tree(out)
    (store / "2024-12-04-four.md").write_text(post_text("Four", 4, "new"), encoding="utf-8")
    disk = FillingDisk(room=6000)
    monkeypatch.setattr(export_module, "open", disk.open, raising=False)
    capsys.readouterr()
    assert main(["build", "--site", str(site_dir), "--out", str(out)]) == 1
    assert disk.failed == 1
    assert "No space left on device" in capsys.readouterr().err
    assert export_tree(out) == before
    assert leftovers(out) == []
    monkeypatch.undo()                                   # space was freed
    assert main(["build", "--site", str(site_dir), "--out", str(out)]) == 0
    fresh = Site(load_settings({"site_dir": str(site_dir)})).reload().documents
    assert export_tree(out)["feeds/categories/new.rss"] == fresh["/feeds/categories/new.rss"].body
    assert export_tree(out)["feeds/all.json"] == fresh["/feeds/all.json"].body


def test_real_write_limit_during_build_keeps_the_previous_export(site_dir, store, tmp_path):
    # The kernel refuses the writes here (RLIMIT_FSIZE: EFBIG past the limit, a real short
    # write); no monkeypatching. The same path as ENOSPC: the whole export fails.
    out = tmp_path / "export" / "site"
    command = [sys.executable, "-m", "feedsvc.cli", "build", "--site", str(site_dir),
               "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    before = export_tree(out)
    (store / "2024-12-04-four.md").write_text(post_text("Four", 4, "new"), encoding="utf-8")

    def limit_writes() -> None:   # Python ignores SIGXFSZ, so the write fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, preexec_fn=limit_writes)
    assert done.returncode == 1
    assert "feedsvc build:" in done.stderr and "File too large" in done.stderr
    assert "Traceback" not in done.stderr
    assert export_tree(out) == before
    assert leftovers(out) == []
