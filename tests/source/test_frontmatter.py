"""Reading a post file's text and front matter: encodings, broken YAML, the fast path."""
from __future__ import annotations

import pytest

from feedsvc.errors import ContentError


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


SIMPLE_CASES = [
    'title: "政策解读……线上搭平台"\ndate: 2022-05-11 17:16:04 +0800\ncategories: a b',
    "title: 'it''s'\ntags: [东方, 新闻]\nlayout: post",
    "title: 2022\npublished: false", "title: yes", "on: x", "title: ~", "title:",
    "title: 0x10", "title: 1.5", "title: a # comment", "title: a: b", "tags: []",
    "tags: [a, , b]", "tags: [a, b,]", 'title: "a\\"b"', "title: -x", "title: [a, [b]]",
    "date: 2024-06-01T08:00:00+08:00", "date: 2024-07-02", "title: a\n  continued",
    "title: x\ntitle: y", "title: \x07bell", "title: &a x\nother: *a", "key with space: v",
    "title: 'unterminated", 'title: "a" trailing', "title: {a: 1}", "title: a\t#c",
    "title: a\u2028b", "title: a\x85b", "title: a\ufeffb",
]


@pytest.mark.parametrize("source", SIMPLE_CASES)
def test_fast_front_matter_matches_pyyaml(source):
    import yaml
    from feedsvc.source.frontmatter import parse_simple_yaml
    fast = parse_simple_yaml(source + "\n")
    try:
        expected = yaml.safe_load(source + "\n")
    except yaml.YAMLError:
        assert fast is None
        return
    if fast is not None:
        assert fast == expected and all(type(fast[k]) is type(expected[k]) for k in fast)


def test_fast_front_matter_property():
    import yaml
    from hypothesis import given, settings, strategies as st
    from feedsvc.source.frontmatter import parse_simple_yaml

    keys = st.sampled_from(["title", "date", "tags", "categories", "author", "x_y", "on", "null"])
    values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
    lines = st.lists(st.tuples(keys, values), max_size=5)

    @settings(max_examples=400, deadline=None)
    @given(lines)
    def check(pairs):
        source = "".join(f"{k}: {v}\n" for k, v in pairs)
        fast = parse_simple_yaml(source)
        if fast is None:
            return
        assert fast == (yaml.safe_load(source) or {})

    check()
