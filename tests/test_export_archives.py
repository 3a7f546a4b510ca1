"""``feedsvc build --archives``: every archive page as a file, walkable from the feed files."""
from __future__ import annotations

import os
from pathlib import Path

import feedparser
import pytest

from feedsvc.cli import main
from tests.conftest import SITE_URL as SITE

COUNT = 15


def date(n: int) -> str:
    return f"2024-01-{1 + n:02d} 10:00:00 +0800"


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setenv("FEEDSVC_FEED_LIMIT", "3")
    monkeypatch.setenv("FEEDSVC_ARCHIVE_PAGE_SIZE", "4")


@pytest.fixture
def site(site_dir, write_post):
    for n in range(COUNT):
        write_post(f"p{n:02d}", date=date(n), title=f"Post {n}", categories=["news"])
    return site_dir


def file_of(out: Path, url: str) -> Path:
    assert url.startswith(SITE + "/")
    return out / url[len(SITE) + 1:]


def walk(out: Path, start: str) -> tuple[list[str], list[Path]]:
    parsed = feedparser.parse((out / start).read_bytes())
    titles, files = [e.title for e in parsed.entries], []
    while prev := {l.rel: l.href for l in parsed.feed.links}.get("prev-archive"):
        files.append(file_of(out, prev))
        parsed = feedparser.parse(files[-1].read_bytes())
        titles += [e.title for e in parsed.entries]
    return titles, files


def test_build_archives_writes_every_page_walkable_from_the_feed_files(site, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["build", "--site", str(site), "--out", str(out), "--archives"]) == 0
    assert "and the archive pages" in capsys.readouterr().out
    for feed in ("feeds/all.rss", "feeds/categories/news.atom"):
        titles, files = walk(out, feed)
        assert sorted(titles) == sorted(f"Post {n}" for n in range(COUNT))
        assert len(files) == 3 and all(Path(f"{f}.gz").is_file() for f in files)
    folder = out / "feeds" / "archive" / "all"
    assert (folder / "0.atom").is_symlink()
    assert (folder / "0.atom").read_bytes() == next(folder.glob("0-*.atom")).read_bytes()
    assert (folder / "3.json").resolve() == (out / "feeds" / "all.json").resolve()


def test_a_rebuild_links_the_pages_it_has_and_renders_only_new_ones(site, tmp_path,
                                                                     write_post):
    out = tmp_path / "out"
    assert main(["build", "--site", str(site), "--out", str(out), "--archives"]) == 0
    full = {p.name: p.stat().st_ino for p in (out / "feeds/archive/all").glob("0-*")}
    write_post("p99", date=date(COUNT), title="Newest", categories=["news"])
    assert main(["build", "--site", str(site), "--out", str(out), "--archives"]) == 0
    again = {p.name: p.stat().st_ino for p in (out / "feeds/archive/all").glob("0-*")}
    assert again == full                      # the same files, hard-linked, not rendered
    titles, _ = walk(out, "feeds/all.atom")
    assert len(titles) == len(set(titles)) == COUNT + 1


def test_with_archives_in_the_settings_build_writes_them_without_the_flag(site, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("FEEDSVC_ARCHIVES", "true")
    out = tmp_path / "out"
    assert main(["build", "--site", str(site), "--out", str(out)]) == 0
    titles, files = walk(out, "feeds/all.atom")
    assert len(titles) == COUNT and all(os.path.isfile(f) for f in files)
