"""Finding post files: which files under which folders are posts, the site's exclude list,
symlinks, unreadable folders."""
from __future__ import annotations

import os

from feedsvc.errors import ContentError
from feedsvc.source.scan import find_post_files


def test_only_dated_post_files_under_posts_folders_are_read(write_file, site_dir):
    write_file("_posts/2022-05-11-a.md")
    write_file("_posts/2022-05-12-b.markdown")
    write_file("_posts/2022-05-13-c.html")
    write_file("_posts/sub/2022-05-14-d.md")
    write_file("_posts/2022-05-15-e.txt")
    write_file("_posts/README.txt")
    write_file("_posts/notes.md")
    write_file("_posts/.2022-05-16-hidden.md")
    write_file("_posts/2022-05-17-backup.md~")
    write_file("_drafts/2022-05-18-draft.md")
    write_file("2022-05-19-outside.md")
    write_file("_site/_posts/2022-05-20-built.md")
    write_file("node_modules/x/_posts/2022-05-21-dep.md")
    write_file("vendor/bundle/_posts/2022-05-22-gem.md")
    write_file("vendor/_posts/2022-05-23-vendor.md")       # only vendor/bundle/ etc. are excluded
    write_file("_posts/_x/2022-05-24-special-first.md")
    write_file("_posts/sub/_x/2022-05-25-special-deeper.md")   # special? tests only the first part
    write_file("_posts/22-05-26-short-year.md")
    found = sorted(rel for rel, _ in find_post_files(site_dir))
    assert found == ["_posts/2022-05-11-a.md", "_posts/2022-05-12-b.markdown",
                     "_posts/2022-05-13-c.html", "_posts/2022-05-15-e.txt",
                     "_posts/22-05-26-short-year.md", "_posts/sub/2022-05-14-d.md",
                     "_posts/sub/_x/2022-05-25-special-deeper.md",
                     "vendor/_posts/2022-05-23-vendor.md"]


def test_the_sites_exclude_list_is_not_walked(write_file, write_config, make_store):
    write_config("exclude: [drafts-old, /content]\n")
    write_file("_posts/2022-01-01-a.md")
    write_file("drafts-old/_posts/2022-01-02-b.md")
    write_file("content/_posts/2022-01-03-c.md")
    write_file("kept/_posts/2022-01-04-d.md")
    assert [p.path for p in make_store().reload().posts] == \
        ["kept/_posts/2022-01-04-d.md", "_posts/2022-01-01-a.md"]


def test_symlink_outside_site_is_not_followed(write_file, site_dir, tmp_path_factory, make_store):
    outside = tmp_path_factory.mktemp("outside") / "2022-05-11-secret.md"
    outside.write_text("---\ntitle: Secret\n---\n")
    os.symlink(outside, site_dir / "_posts" / "2022-05-11-secret.md")
    write_file("_posts/2022-05-12-inside.md", "title: Inside")
    posts = site_dir / "_posts"
    os.symlink(posts / "2022-05-12-inside.md", posts / "2022-05-13-alias.md")
    snapshot = make_store().reload()
    assert sorted(p.title for p in snapshot.posts) == ["Inside", "Inside"]
    assert snapshot.errors == (ContentError("_posts/2022-05-11-secret.md",
                                            "symlink leads outside the site; not followed"),)


def test_symlink_loop_is_reported_not_fatal(write_file, site_dir, make_store):
    os.symlink("2022-05-11-loop.md", site_dir / "_posts" / "2022-05-11-loop.md")
    os.symlink(site_dir, site_dir / "_posts" / "again")
    write_file("_posts/2022-05-12-ok.md", "title: OK")
    snapshot = make_store().reload()
    assert [p.title for p in snapshot.posts] == ["OK"]
    assert [e.path for e in snapshot.errors] == ["_posts/2022-05-11-loop.md"]


def test_unlistable_posts_folder_keeps_its_posts(write_file, monkeypatch, make_store):
    write_file("_posts/2022-05-11-a.md", "title: A")
    write_file("news/_posts/2022-05-12-b.md", "title: B")
    store = make_store()
    store.reload()
    real_scandir = os.scandir

    def failing_scandir(path):
        if str(path).endswith(os.path.join("news", "_posts")):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", failing_scandir)
    snapshot = store.reload()
    assert sorted(p.title for p in snapshot.posts) == ["A", "B"]
    assert snapshot.errors == (ContentError("news/_posts",
                                            "cannot list folder: Permission denied"),)
    monkeypatch.undo()
    assert store.reload().errors == ()
