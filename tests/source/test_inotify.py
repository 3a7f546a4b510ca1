"""inotify: once its watch is trusted, a reload stats only what the kernel reported; full
scans still run for new folders, every few reloads, and when the watch is off or forked."""
from __future__ import annotations

import pytest

import feedsvc.source.store as store_module
from feedsvc.source.inotify import FULL_SCAN_EVERY


@pytest.fixture
def no_full_scan(monkeypatch):
    """Make any full scan fail loudly, once the store has had its two full scans."""

    def arm():
        def refuse(*args, **kwargs):
            raise AssertionError("a full scan ran")
        monkeypatch.setattr(store_module, "find_post_files", refuse)
    return arm


def test_watched_reload_sees_edits_adds_deletes_renames_without_a_scan(write_file, site_dir,
                                                                       no_full_scan, make_store):
    write_file("_posts/2022-05-11-a.md", "title: A")
    path_b = write_file("_posts/2022-05-12-b.md", "title: B")
    path_c = write_file("_posts/2022-05-13-c.md", "title: C")
    store = make_store()
    store.reload()
    store.reload()            # the watch predates this scan: from now on it is trusted
    no_full_scan()
    reads = store.reads
    path_b.write_text("---\ntitle: B2\n---\n")
    write_file("_posts/2022-05-14-d.md", "title: D")
    path_c.rename(site_dir / "_posts" / "2022-05-15-e.md")
    (site_dir / "_posts" / "2022-05-11-a.md").unlink()
    snapshot = store.reload()
    assert [p.title for p in snapshot.posts] == ["C", "D", "B2"]
    assert [p.path for p in snapshot.posts][0] == "_posts/2022-05-15-e.md"
    assert store.reads - reads == 3
    assert store.reload().posts == snapshot.posts   # nothing new: nothing read
    assert store.reads - reads == 3


def test_new_folder_makes_a_full_scan(write_file, make_store):
    write_file("_posts/2022-05-11-a.md", "title: A")
    store = make_store()
    store.reload()
    store.reload()
    write_file("news/_posts/2022-05-12-b.md", "title: B")
    assert sorted(p.title for p in store.reload().posts) == ["A", "B"]
    write_file("news/_posts/2022-05-13-c.md", "title: C")
    store.reload()    # the new folder's watch is new: scan once more
    assert sorted(p.title for p in store.reload().posts) == ["A", "B", "C"]


def test_full_scan_still_runs_every_few_reloads(write_file, monkeypatch, make_store):
    write_file("_posts/2022-05-11-a.md", "title: A")
    store = make_store()
    scans = []
    real = store_module.find_post_files
    monkeypatch.setattr(store_module, "find_post_files",
                        lambda *a, **k: scans.append(1) or real(*a, **k))
    for _ in range(2 + FULL_SCAN_EVERY + 1):
        store.reload()
    assert len(scans) == 3


def test_watch_off_or_forked_scans_every_time(write_file, monkeypatch, make_store):
    write_file("_posts/2022-05-11-a.md", "title: A")
    scans = []
    real = store_module.find_post_files
    monkeypatch.setattr(store_module, "find_post_files",
                        lambda *a, **k: scans.append(1) or real(*a, **k))
    store = make_store(watch=False)
    for _ in range(4):
        store.reload()
    assert len(scans) == 4 and store._watcher is None
    scans.clear()
    watched = make_store()
    watched.reload()
    watched.reload()
    watched._watcher.pid = -1        # as in a forked child: the watch is the parent's
    watched.reload()
    assert len(scans) == 3
