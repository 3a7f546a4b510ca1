"""The feedsvc command: config and check."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from feedsvc.cli import main


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    posts = tmp_path / "_posts"
    posts.mkdir()
    (tmp_path / "_config.yml").write_text("url: https://news.example.com\ntitle: T\n")
    (posts / "2022-05-11-good.md").write_text("---\ntitle: Good\n---\nbody\n")
    (posts / "2022-05-12-yaml.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    (posts / "2022-05-13-date.md").write_text("---\ntitle: D\ndate: someday\n---\nbody\n")
    (posts / "2022-05-14-bytes.md").write_bytes(b"---\ntitle: \xff\xfe\x80\n---\n")
    return tmp_path


def test_check_lists_each_broken_post_and_exits_1(broken_site, capsys):
    assert main(["check", "--site", str(broken_site)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "_posts/2022-05-12-yaml.md: invalid YAML front matter at line 3: "
        "did not find expected ',' or ']'",
        "_posts/2022-05-13-date.md: date: 'someday' is not a date (unknown string format)",
        "_posts/2022-05-14-bytes.md: not text: neither UTF-8 nor GB18030",
        "1 posts published, 0 scheduled, 0 categories, 0 tags, 3 broken, 0 warnings, "
        "0 files not posts",
    ]


def test_check_sample_site_exits_0_with_its_awkward_cases_reported(capsys):
    # The sample keeps an unquoted zone-less date and a README among its posts on purpose.
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("_posts/2024-07-01-summer-night-market.md: warning: date: ")
    assert "_posts/README.txt: not a post: no date in the name" in out
    assert out.endswith("0 broken, 1 warnings, 1 files not posts\n")


def test_check_warns_of_what_jekyll_reads_otherwise_than_meant_and_exits_0(tmp_path, capsys):
    posts = tmp_path / "_posts"
    posts.mkdir()
    (tmp_path / "_config.yml").write_text("url: https://news.example.com\n"
                                          "timezone: Asia/Shanghai\n")
    (posts / "2022-05-12-zoneless.md").write_text("---\ndate: 2022-05-12 23:30:00\n---\nx\n")
    (posts / "2022-05-13-quoted.md").write_text("---\ndate: '2022-05-13 23:30:00'\n---\nx\n")
    (posts / "2009-03-12-hash-#1.md").write_text("x\n")
    (posts / "notes.md").write_text("x\n")
    (posts / "2022-01-01-data.yml").write_text("a: 1\n")
    assert main(["check", "--site", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "_posts/2009-03-12-hash-#1.md: warning: the URL slug 'hash-#1' was cleaned to "
        "'hash-1' (Utils.slugify): the URL is /2009/03/12/hash-1.html",
        "_posts/2022-01-01-data.yml: not a post: a YAML data file (Document#read loads it as "
        "data)",
        "_posts/2022-05-12-zoneless.md: warning: date: 2022-05-12 23:30:00 has no zone and no "
        "quotes, so Jekyll (and feedsvc) read it as UTC: 2022-05-13 07:30 in Asia/Shanghai. "
        "Write 'date: 2022-05-12 23:30:00 +0800' for Asia/Shanghai time, or quote it "
        "('date: \"2022-05-12 23:30:00\"') to mean the site's zone",
        "_posts/notes.md: not a post: no date in the name: Jekyll reads only "
        "YYYY-MM-DD-slug.EXT files as posts",
        "3 posts published, 0 scheduled, 0 categories, 0 tags, 0 broken, 2 warnings, "
        "2 files not posts",
    ]


def test_config_prints_every_key_with_source(broken_site, capsys, monkeypatch):
    monkeypatch.setenv("FEEDSVC_FEED_LIMIT", "9")
    assert main(["config", "--site", str(broken_site), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["feed_limit"] == 9
    assert data["url"] == "https://news.example.com"
    assert main(["config", "--site", str(broken_site)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^feed_limit +9  # environment$", out, re.MULTILINE)


def test_bad_config_exits_2_naming_the_key(broken_site, capsys, monkeypatch):
    monkeypatch.setenv("FEEDSVC_CACHE_MAX_AGE", "forever")
    assert main(["config", "--site", str(broken_site)]) == 2
    assert "'cache_max_age'" in capsys.readouterr().err
