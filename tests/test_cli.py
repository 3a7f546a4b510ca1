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
        "1 posts published, 0 scheduled, 0 categories, 0 tags, 3 broken",
    ]


def test_check_clean_sample_site_exits_0(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("0 broken\n")


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
