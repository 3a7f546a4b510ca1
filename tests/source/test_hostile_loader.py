"""Hostile files at the loader: every file is a post, a non-post, or a reported error."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from feedsvc.errors import ContentError
from feedsvc.source import ParseOptions, Post
from feedsvc.source.posts import load_post
from tests.support.profiles import examples

REL = "_posts/2022-05-11-x.md"

yaml_like = st.lists(st.one_of(
    st.sampled_from(["---", "...", "title: ", "date: ", "tags: [", "categories:", "- ", "  ",
                     "published: false", "&a", "*a", "!!python/object:os.system", "{", "}",
                     "date: 2022-13-45", "date: 2022-05-11 17:16:04 +0800", ": ", "\t", "'", '"',
                     "%YAML 1.1", "<<: *a", "? ", "|", ">", "\\x00", "\ufeff"]),
    st.text(max_size=12)), max_size=30).map("\n".join)


@pytest.fixture
def options(make_settings) -> ParseOptions:
    """Return the parse options of the test's site (tests/conftest.py's ``site_dir``)."""
    return ParseOptions.from_settings(make_settings())


@pytest.fixture
def check(site_dir: Path, options: ParseOptions) -> Callable[[bytes], None]:
    """Return a function writing *data* as a post file and checking how the loader takes it:
    a post, a non-post, or a ContentError naming the file and why; nothing else escapes."""
    return lambda data: _check(site_dir, options, data)


def _check(site: Path, options: ParseOptions, data: bytes) -> None:
    (site / REL).write_bytes(data)
    try:
        post, body = load_post(REL, options)
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


def test_arbitrary_bytes_never_escape(check):
    @settings(max_examples=examples(300), suppress_health_check=[HealthCheck.too_slow])
    @given(st.binary(max_size=400))
    def check_bytes(data):
        check(b"---\n" + data)
        check(data)

    check_bytes()


def test_yaml_like_front_matter_never_escapes(check):
    @settings(max_examples=examples(400), suppress_health_check=[HealthCheck.too_slow])
    @given(yaml_like, st.text(max_size=50))
    def check_front(front, body):
        check(f"---\n{front}\n---\n{body}".encode("utf-8", "surrogatepass"))

    check_front()


def test_python_tags_are_refused_not_executed(site_dir, options):
    (site_dir / REL).write_text(
        "---\ntitle: !!python/object/apply:os.system ['touch pwned']\n---\n")
    try:
        load_post(REL, options)
    except ContentError as exc:
        assert "could not determine a constructor" in exc.reason
    else:
        raise AssertionError("an unsafe YAML tag was accepted")
    assert not (site_dir / "pwned").exists()


def test_billion_laughs_is_bounded(site_dir, options):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]" for i in range(1, 9)]
    (site_dir / REL).write_text("---\n" + "\n".join(lines) + "\ntitle: T\n---\nbody\n")
    post, _ = load_post(REL, options)   # aliases share objects: no blow-up
    assert post is not None and post.title == "T"
