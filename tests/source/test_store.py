"""The store: reloads re-read only what changed, keep the last good version, swap immutable
snapshots, and patch them to exactly what a fresh load gives."""
from __future__ import annotations

import datetime as dt
import shutil

import pytest
from hypothesis import given, settings, strategies as st

import feedsvc.source.store as store_module
from feedsvc.errors import ContentError
from feedsvc.feeds import FeedBuilder, FeedOptions
from feedsvc.source import Snapshot, Store
from tests.support.profiles import examples

CST = dt.timezone(dt.timedelta(hours=8))


# --- reload ----------------------------------------------------------------------------------

def test_reload_rereads_only_changed_files(write_file, make_store):
    write_file("_posts/2022-05-11-a.md", "title: A")
    path_b = write_file("_posts/2022-05-12-b.md", "title: B")
    store = make_store()
    store.reload()
    assert store.reads == 2
    store.reload()
    assert store.reads == 2
    path_b.write_text("---\ntitle: B2 longer\n---\n")
    snapshot = store.reload()
    assert store.reads == 3
    assert [p.title for p in snapshot.posts] == ["B2 longer", "A"]


def test_reload_notices_deletes_and_renames(write_file, site_dir, make_store):
    path_a = write_file("_posts/2022-05-11-a.md", "title: A")
    path_b = write_file("_posts/2022-05-12-b.md", "title: B")
    store = make_store()
    store.reload()
    path_a.unlink()
    path_b.rename(site_dir / "_posts" / "2022-05-13-c.md")
    snapshot = store.reload()
    assert [(p.title, p.path) for p in snapshot.posts] == [("B", "_posts/2022-05-13-c.md")]


def test_broken_edit_keeps_last_good_version(write_file, make_store):
    path = write_file("_posts/2022-05-11-a.md", "title: Good\ntags: x")
    store = make_store()
    first = store.reload()
    path.write_text("---\ntitle: Half\ntags: [x\n")   # a half-saved edit
    second = store.reload()
    assert second.posts == first.posts
    assert [e.path for e in second.errors] == ["_posts/2022-05-11-a.md"]
    path.write_text("---\ntitle: Fixed\n---\n")
    third = store.reload()
    assert [p.title for p in third.posts] == ["Fixed"] and third.errors == ()


def test_a_post_emptied_by_a_save_in_progress_keeps_its_last_good_version(write_file, make_store):
    # Jekyll would publish an empty file as a post (no front matter needed); a live store
    # sees an in-place save between truncating and writing, and waits for the content.
    path = write_file("_posts/2022-05-11-a.md", "title: Good")
    store = make_store()
    assert store.reload().posts[0].title == "Good"
    path.write_bytes(b"")
    snapshot = store.reload()
    assert [p.title for p in snapshot.posts] == ["Good"]
    assert "file cut short" in snapshot.errors[0].reason


def test_snapshot_is_immutable_and_swapped(write_file, make_store):
    write_file("_posts/2022-05-11-a.md", "title: A\ncategories: c")
    store = make_store()
    first = store.reload()
    with pytest.raises(AttributeError):
        first.posts = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.categories["d"] = ()  # type: ignore[index]
    second = store.reload()
    assert store.snapshot is second and second is not first
    assert second.categories == {"c": second.posts}


def test_unchanged_reload_keeps_posts_and_order(write_file, make_store):
    write_file("_posts/2022-05-11-a.md", "title: A\ncategories: c")
    store = make_store()
    first = store.reload()
    second = store.reload()
    assert second is not first
    assert second.posts is first.posts and second.categories is first.categories


def test_equal_dates_order_is_stable(write_file, make_store):
    for slug in ("b", "a", "c"):
        write_file(f"_posts/2022-05-11-{slug}.md", "title: X\ndate: 2022-05-11 10:00:00 +0800")
    paths = [p.path for p in make_store().reload().posts]
    assert paths == ["_posts/2022-05-11-c.md", "_posts/2022-05-11-b.md", "_posts/2022-05-11-a.md"]


def test_future_post_waits_and_snapshot_knows_when_it_is_due(write_file, make_store, clock):
    write_file("_posts/2022-05-11-old.md", "title: Old")
    write_file("_posts/2030-01-01-future.md", "title: Future\ndate: 2030-01-01 08:00:00 +0800")
    write_file("_posts/2031-01-01-later.md", "title: Later")
    store = make_store()
    snapshot = store.reload()
    assert [p.title for p in snapshot.posts] == ["Old"]
    assert snapshot.next_due == dt.datetime(2030, 1, 1, 0, 0, tzinfo=dt.timezone.utc)
    assert snapshot.pending == 2
    clock.now = dt.datetime(2030, 1, 1, 0, 0, tzinfo=dt.timezone.utc)
    snapshot = store.reload()
    assert [p.title for p in snapshot.posts] == ["Future", "Old"]
    assert snapshot.next_due == dt.datetime(2031, 1, 1, tzinfo=CST)


def test_missing_site_folder_raises_content_error(site_dir, make_store):
    store = make_store()
    site_dir.rename(site_dir.with_name(site_dir.name + "-gone"))
    with pytest.raises(ContentError):
        store.reload()


def test_feeds_read_bodies_only_of_posts_they_show(write_file, make_settings, make_store):
    for day in range(1, 8):
        write_file(f"_posts/2022-05-0{day}-p{day}.md", f"title: P{day}\ncategories: c{day % 2}")
    store = make_store()
    snapshot = store.reload()
    read = []

    class RecordingReader:
        def body_of(self, post):
            read.append(post.path)
            return store.body_of(post)
    options = FeedOptions.from_settings(make_settings(feed_limit=2))
    FeedBuilder(options).build(snapshot, RecordingReader())
    # global top 2: days 7, 6; c1 top 2: 7, 5; c0 top 2: 6, 4; each read once
    assert sorted(read) == [f"_posts/2022-05-0{d}-p{d}.md" for d in (4, 5, 6, 7)]


def test_parallel_parse_gives_the_same_snapshot(write_file, monkeypatch, make_store):
    for day in range(1, 29):
        write_file(f"_posts/2022-02-{day:02d}-p{day}.md", f"title: P{day}\ntags: t{day % 3}")
    write_file("_posts/2022-03-01-bad.md", "title: [x")
    sequential = make_store().reload()
    monkeypatch.setattr(store_module, "PARALLEL_MIN", 2)
    monkeypatch.setattr(store_module, "can_fork", lambda: True)
    parallel_store = make_store()
    parallel = parallel_store.reload()
    assert parallel_store.reads == 29
    assert parallel.posts == sequential.posts
    assert parallel.errors == sequential.errors
    # Posts pickled back from the pool share their names' tuples again, as a parse does.
    tagged = [post.tags for post in parallel.posts if post.tags == ("t1",)]
    assert len(tagged) > 1 and all(tags is tagged[0] for tags in tagged)


def test_patched_snapshots_equal_a_fresh_load(site_dir, tmp_path_factory, make_store):
    """Any sequence of adds, edits, renames and deletes: the incrementally patched snapshot
    is exactly what a fresh store reads from the same files."""
    ops = st.lists(st.tuples(
        st.sampled_from(["add", "edit", "delete", "rename", "break"]),
        st.integers(0, 7),                      # which file
        st.integers(1, 28),                     # day
        st.sampled_from(["a", "b", "a b", ""]),  # categories
        st.sampled_from(["x", "y z", ""]),       # tags
    ), min_size=1, max_size=12)

    @settings(max_examples=examples(25))
    @given(ops)
    def check(steps):
        site = tmp_path_factory.mktemp("patch")        # a fresh site for each example
        (site / "_posts").mkdir()
        shutil.copy(site_dir / "_config.yml", site)

        def fresh_store() -> Store:
            return make_store(site_dir=str(site), feed_limit=3)
        store = fresh_store()
        store.reload()
        store.reload()
        for op, n, day, cats, tags in steps:
            existing = sorted((site / "_posts").glob(f"*-p{n}.md"))
            if op in ("add", "edit"):
                for old in existing:
                    old.unlink()
                (site / "_posts" / f"2022-02-{day:02d}-p{n}.md").write_text(
                    f"---\ntitle: P{n} {day}\ncategories: {cats}\ntags: {tags}\n---\nbody {day}\n")
            elif op == "delete":
                for old in existing:
                    old.unlink()
            elif op == "rename" and existing:
                existing[0].rename(site / "_posts" / f"2022-03-{day:02d}-p{n}.md")
            elif op == "break" and existing:
                existing[0].write_text("---\ntitle: [broken\n")
            patched = store.reload()
            # the same states, assembled from scratch
            expected = [_fresh_with(store, fresh_store())]
            if not any(s.error and s.post for s in store._files.values()):
                expected.append(fresh_store().reload())   # a fresh read
            for other in expected:
                assert patched.posts == other.posts
                assert dict(patched.categories) == dict(other.categories)
                assert dict(patched.tags) == dict(other.tags)
                assert patched.errors == other.errors

    check()


def _fresh_with(store: Store, fresh: Store) -> Snapshot:
    """Assemble in *fresh* from scratch what *store* holds (last good versions included)."""
    files = {rel: type(state)(state.signature, state.post, state.error)
             for rel, state in store._files.items()}
    errors = tuple(sorted((s.error for s in files.values() if s.error), key=lambda e: e.path))
    return fresh._assemble(files, errors, fresh.clock(), 0.0)
