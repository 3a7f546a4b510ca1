"""Hostile files at the loader: every file is a post, a non-post, or a reported error."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from feedsvc.config import load_settings
from feedsvc.errors import ContentError
from feedsvc.source import ParseOptions, Post
from feedsvc.source.posts import load_post

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
REL = "_posts/2022-05-11-x.md"

yaml_like = st.lists(st.one_of(
    st.sampled_from(["---", "...", "title: ", "date: ", "tags: [", "categories:", "- ", "  ",
                     "published: false", "&a", "*a", "!!python/object:os.system", "{", "}",
                     "date: 2022-13-45", "date: 2022-05-11 17:16:04 +0800", ": ", "\t", "'", '"',
                     "%YAML 1.1", "<<: *a", "? ", "|", ">", "\\x00", "\ufeff"]),
    st.text(max_size=12)), max_size=30).map("\n".join)


def _options(site: Path) -> ParseOptions:
    return ParseOptions.from_settings(load_settings(
        {"site_dir": str(site), "url": "https://news.example.com", "timezone": "Asia/Shanghai"},
        environ={}))


def _check(site: Path, data: bytes) -> None:
    (site / REL).write_bytes(data)
    try:
        post, body = load_post(REL, _options(site))
    except ContentError as exc:
        assert exc.path == REL and exc.reason
        return
    if post is None:
        assert body is None
        return
    assert isinstance(post, Post) and isinstance(body, str)
    assert post.date.tzinfo is not None and post.updated.tzinfo is not None
    assert all(isinstance(n, str) and n for n in post.categories + post.tags)
    assert isinstance(post.title, str) and post.title


def _site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("hostile")
    (site / "_posts").mkdir()
    return site


def test_arbitrary_bytes_never_escape(tmp_path_factory):
    site = _site(tmp_path_factory)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.binary(max_size=400))
    def check(data):
        _check(site, b"---\n" + data)
        _check(site, data)

    check()


def test_yaml_like_front_matter_never_escapes(tmp_path_factory):
    site = _site(tmp_path_factory)

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(yaml_like, st.text(max_size=50))
    def check(front, body):
        _check(site, f"---\n{front}\n---\n{body}".encode("utf-8", "surrogatepass"))

    check()


def test_python_tags_are_refused_not_executed(tmp_path_factory):
    site = _site(tmp_path_factory)
    (site / REL).write_text("---\ntitle: !!python/object/apply:os.system ['touch pwned']\n---\n")
    try:
        load_post(REL, _options(site))
    except ContentError as exc:
        assert "could not determine a constructor" in exc.reason
    else:
        raise AssertionError("an unsafe YAML tag was accepted")
    assert not (site / "pwned").exists()


def test_billion_laughs_is_bounded(tmp_path_factory):
    site = _site(tmp_path_factory)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]" for i in range(1, 9)]
    (site / REL).write_text("---\n" + "\n".join(lines) + "\ntitle: T\n---\nbody\n")
    post, _ = load_post(REL, _options(site))   # aliases share objects: no blow-up
    assert post is not None and post.title == "T"
