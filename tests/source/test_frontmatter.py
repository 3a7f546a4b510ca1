"""Reading a post file's text and front matter: encodings, broken YAML, the fast path."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from feedsvc.errors import ContentError
from feedsvc.source import frontmatter
from feedsvc.source.frontmatter import parse_simple_yaml, split_front_matter
from tests.support.profiles import examples


# --- text encodings --------------------------------------------------------------------------

def test_utf8_bom_and_crlf(write_file, make_store):
    text = "\ufeff---\r\ntitle: 标题\r\ntags: a b\r\n---\r\n<p>x</p>\r\n"
    write_file("_posts/2022-05-11-a.md", raw=text.encode("utf-8"))
    store = make_store()
    post = store.reload().posts[0]
    assert (post.title, post.tags) == ("标题", ("a", "b"))
    assert store.body_of(post) == "<p>x</p>\r\n"   # kept, as Jekyll keeps it


def test_gb18030_file_is_read(write_file, only_post):
    text = "---\ntitle: 东方网新闻\n---\n<p>正文</p>\n"
    write_file("_posts/2022-05-11-a.md", raw=text.encode("gb18030"))
    assert only_post().title == "东方网新闻"


def test_binary_file_is_skipped_and_reported(write_file, make_store):
    write_file("_posts/2022-05-11-a.md", raw=b"---\ntitle: \xff\xfe\x80\x80\xff\n---\n")
    snapshot = make_store().reload()
    assert snapshot.posts == ()
    assert snapshot.errors == (ContentError("_posts/2022-05-11-a.md",
                                            "not text: neither UTF-8 nor GB18030"),)


def test_unclosed_front_matter_is_reported(write_file, make_store):
    write_file("_posts/2022-05-11-a.md", raw=b"---\ntitle: Half-writ")
    snapshot = make_store().reload()
    assert snapshot.errors == (ContentError("_posts/2022-05-11-a.md",
                                            "front matter has no closing '---' line"),)


def test_yaml_error_reports_file_line(write_file, make_store):
    write_file("_posts/2022-05-11-a.md", "title: A\ntags: [unclosed\nauthor: x")
    snapshot = make_store().reload()
    assert len(snapshot.errors) == 1
    assert snapshot.errors[0].reason.startswith("invalid YAML front matter at line ")


def test_front_matter_must_be_a_mapping(write_file, make_store):
    write_file("_posts/2022-05-11-a.md", "- just\n- a list")
    snapshot = make_store().reload()
    assert snapshot.errors[0].reason == "front matter is not a mapping of keys to values"


# --- the fast front-matter path: taken for the common shapes, always what PyYAML gives -----
# split_front_matter reads simple "key: value" lines itself (parse_simple_yaml) and hands
# anything else to PyYAML. A fast path that declined everything would still give the right
# answers, only slowly: so these tests say which shapes it must take, check it agrees with
# PyYAML on each, and check that where it declines, split_front_matter gives PyYAML's answer.

# The front matter of a real post of the news site (2022-05-11-shi-gong-jing-lian.md).
REAL_POST = """\
layout: post
title: "政策解读答疑、防疫知识科普、助力复工复产……市工经联线上搭平台优服务"
date: 2022-05-11 17:16:04 +0800
categories: dongfangwang
tags: 东方网新闻
"""

COMMON_SHAPES = [
    REAL_POST,
    "layout: post\n",
    "title: Metro line 5 opens\n",
    "title: 地铁夜间延时运营\n",                               # CJK, unquoted
    "title: 100% 上海, C++ & Rust\n",
    'title: "Metro line 5: opens at 6 # sharp"\n',         # double-quoted
    'title: "政策解读……线上搭平台"\n',                         # double-quoted CJK
    "title: 'it''s a \"quoted\" title'\n",                  # single-quoted
    "title:\n",                                             # empty: None
    "date: 2022-05-11 17:16:04 +0800\n",                    # Jekyll's date form is a string
    "categories: dongfangwang\n",
    "categories: metro world\n",
    "categories: [metro, dongfangwang]\n",                  # flow lists
    "tags: [交通, 东方网新闻]\n",
    "tags: []\n",
    "author: 王记者\ndescription: 今天天气晴朗。\nimage: /img/sun.jpg\n",
    "permalink: /special/hello/\nid: urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a\n",
    "excerpt_separator: <!--more-->\n",
]

# Edge cases, and whether the fast path takes them (True) or hands them to PyYAML (False).
EDGE_CASES = [
    ('title: "政策解读……线上搭平台"\ndate: 2022-05-11 17:16:04 +0800\ncategories: a b', True),
    ("title: 'it''s'\ntags: [东方, 新闻]\nlayout: post", True),
    ("title:", True), ("tags: []", True),
    ("title: 2022\npublished: false", False), ("title: yes", False), ("on: x", False),
    ("title: ~", False), ("title: 0x10", False), ("title: 1.5", False),
    ("title: a # comment", False), ("title: a: b", False), ("tags: [a, , b]", False),
    ("tags: [a, b,]", False), ('title: "a\\"b"', False), ("title: -x", False),
    ("title: [a, [b]]", False), ("date: 2024-06-01T08:00:00+08:00", False),
    ("date: 2024-07-02", False), ("title: a\n  continued", False), ("title: x\ntitle: y", False),
    ("title: \x07bell", False), ("title: &a x\nother: *a", False), ("key with space: v", False),
    ("title: 'unterminated", False), ('title: "a" trailing', False), ("title: {a: 1}", False),
    ("title: a\t#c", False), ("title: a\u2028b", False), ("title: a\x85b", False),
    ("title: a\ufeffb", False), ("published: true", False),
]


# The parser split_front_matter falls back to (libyaml's safe loader when PyYAML has it).
FULL_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def typed(value: object) -> object:
    """Return *value* with the type of every scalar in it: equal means equal and same types."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


@pytest.mark.parametrize("source", COMMON_SHAPES)
def test_fast_path_takes_the_common_shapes_and_gives_what_pyyaml_gives(source):
    fast = parse_simple_yaml(source)
    assert fast is not None, "handed to PyYAML"
    assert typed(fast) == typed(yaml.safe_load(source))


@pytest.mark.parametrize("source, taken", EDGE_CASES)
def test_fast_path_takes_only_simple_lines_and_agrees_with_pyyaml(source, taken):
    fast = parse_simple_yaml(source + "\n")
    assert (fast is not None) is taken
    try:
        expected = yaml.safe_load(source + "\n")
    except yaml.YAMLError:
        assert fast is None       # PyYAML refuses it: so must the fast path
    else:
        assert fast is None or typed(fast) == typed(expected)


@pytest.mark.parametrize("source", COMMON_SHAPES + [source for source, _ in EDGE_CASES])
def test_front_matter_is_what_the_full_yaml_parser_reads_taken_or_declined(source):
    text = f"---\n{source.rstrip(chr(10))}\n---\nbody\n"
    try:
        expected = yaml.load(source, Loader=FULL_LOADER) or {}
    except yaml.YAMLError:
        with pytest.raises(ContentError, match="invalid YAML front matter"):
            split_front_matter(text, "_posts/2022-05-11-a.md")
        return
    front, body = split_front_matter(text, "_posts/2022-05-11-a.md")
    assert typed(front) == typed(expected) and body == "body\n"


@pytest.fixture
def without_pyyaml(monkeypatch) -> Callable[[], None]:
    """Return a function after which any call of PyYAML's loader fails the test (call it
    once the settings are loaded: they are YAML too)."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("PyYAML was asked")
    return lambda: monkeypatch.setattr(frontmatter.yaml, "load", refuse)


def test_front_matter_of_the_real_post_is_read_by_the_fast_path(write_file, make_store,
                                                                without_pyyaml):
    write_file("_posts/2022-05-11-shi-gong-jing-lian.md", REAL_POST.rstrip("\n"))
    store = make_store()
    without_pyyaml()
    [post] = store.reload().posts
    assert post.title.startswith("政策解读答疑") and post.tags == ("东方网新闻",)
    assert post.categories == ("dongfangwang",)


def test_news_shaped_posts_are_read_by_the_fast_path(write_post, make_store, without_pyyaml):
    # tests/conftest.py's write_post writes the news site's shape: layout, a double-quoted
    # title, Jekyll's date, names as words or a flow list of plain words. (A list given as
    # a Python list is written as JSON, quoted items, which the fast path hands to PyYAML.)
    write_post("a", title="地铁夜间延时运营", categories="dongfangwang", tags="东方网新闻")
    write_post("b", date="2022-05-12 08:00:00 +0800", title="It's 'quoted' & 100%",
               categories="metro world", tags="[交通, 早高峰]")
    write_post("c", date="2022-05-13 08:00:00 +0800", tags="[]")
    store = make_store()
    without_pyyaml()
    posts = {post.slug: post for post in store.reload().posts}
    assert (posts["a"].title, posts["a"].categories, posts["a"].tags) == \
        ("地铁夜间延时运营", ("dongfangwang",), ("东方网新闻",))
    assert (posts["b"].title, posts["b"].categories, posts["b"].tags) == \
        ("It's 'quoted' & 100%", ("metro", "world"), ("交通", "早高峰"))
    assert (posts["c"].title, posts["c"].tags) == ("C", ())


def test_fast_path_agrees_with_pyyaml_on_any_value():
    keys = st.sampled_from(["title", "date", "tags", "categories", "author", "x_y", "on", "null"])
    values = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20)
    taken = []

    @settings(max_examples=examples(400))
    @given(st.lists(st.tuples(keys, values), max_size=5))
    def check(pairs):
        source = "".join(f"{k}: {v}\n" for k, v in pairs)
        fast = parse_simple_yaml(source)
        if fast is not None:
            taken.append(source)
            assert typed(fast) == typed(yaml.safe_load(source) or {})

    check()
    # Most random text is not simple, but some is: a path that took none checked nothing.
    assert len(taken) >= examples(400) // 50


def _is_str(plain: str) -> bool:
    """Return whether PyYAML reads *plain* as a string (the oracle, not the fast path)."""
    return isinstance(yaml.safe_load(f"k: {plain}")["k"], str)


_WORDS = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=8).filter(_is_str)
_PHRASES = st.lists(_WORDS, min_size=1, max_size=4).map(" ".join).filter(_is_str)
_QUOTED = st.text(st.characters(categories=("L", "N", "Zs", "P", "S"), exclude_characters='"\\'),
                  max_size=20)
_VALUES = st.one_of(
    _PHRASES,                                                           # plain
    _QUOTED.map(lambda text: f'"{text}"'),                              # double-quoted
    _QUOTED.map(lambda text: "'" + text.replace("'", "''") + "'"),      # single-quoted
    st.lists(_WORDS, max_size=4).map(lambda words: f"[{', '.join(words)}]"),   # flow list
)
_KEYS = st.sampled_from(["title", "date", "categories", "tags", "layout", "author",
                         "description", "image", "permalink", "id"])


@settings(max_examples=examples(200))
@given(st.lists(st.tuples(_KEYS, _VALUES), min_size=1, max_size=6, unique_by=lambda kv: kv[0]))
def test_fast_path_takes_any_front_matter_of_the_common_shapes(pairs):
    source = "".join(f"{key}: {value}\n" for key, value in pairs)
    fast = parse_simple_yaml(source)
    assert fast is not None, "handed to PyYAML"
    assert typed(fast) == typed(yaml.safe_load(source))
