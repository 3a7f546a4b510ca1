"""Entry ids: tag URIs that survive moves, front-matter ids, duplicates resolved oldest first.

The incremental id registry must always give what assigning every id from scratch gives,
and a reload with colliding ids the bytes of a fresh build.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import types

import hypothesis
import pytest
from hypothesis import strategies as st

from feedsvc.feeds import FeedBuilder
from feedsvc.feeds.ids import IdRegistry, assign_ids, tag_uri
from feedsvc.source import ParseOptions, Store
from feedsvc.source.posts import make_post
from tests.feeds.news import CST, POST_1, POST_2, POST_3, parse, xml
from tests.support.profiles import examples


def test_default_ids_are_tag_uris_that_survive_scheme_and_path_changes(news, build):
    expected = ["tag:news.example.com,2022-05-11:_posts/2022-05-11-shi-gong-jing-lian",
                "tag:news.example.com,2022-05-10:_posts/2022-05-10-metro-line",
                "tag:news.example.com,2022-05-09:_posts/2022-05-09-weather"]
    feeds = build()
    moved = build(url="http://news.example.com", baseurl="/blog")
    for result in (feeds, moved):
        assert [e.id for e in parse(result, "all", "", "atom").entries] == expected
        assert [e.id for e in parse(result, "all", "", "rss").entries] == expected
        assert [i["id"] for i in parse(result, "all", "", "json")["items"]] == expected
    assert parse(moved, "all", "", "atom").entries[0].link == \
        "http://news.example.com/blog/dongfangwang/2022/05/11/shi-gong-jing-lian.html"


def test_front_matter_id_wins_and_rss_guid_is_not_a_permalink(write, build):
    write("2022-05-11-a.md", "title: A\nid: urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a")
    feeds = build()
    guid = xml(feeds, "all", "", "rss").find("channel/item/guid")
    assert guid.text == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert guid.get("isPermaLink") == "false"
    assert parse(feeds, "all", "", "atom").entries[0].id == guid.text


def test_jekyll_feed_id_style_is_the_url_without_html(news, build):
    feeds = build(id_style="jekyll-feed")
    assert [e.id for e in parse(feeds, "all", "", "atom").entries] == [
        POST_1.removesuffix(".html"), POST_2.removesuffix(".html"), POST_3.removesuffix(".html")]
    pretty = build(id_style="jekyll-feed", permalink="pretty")
    assert parse(pretty, "all", "", "atom").entries[0].id == POST_1.removesuffix(".html")


def test_duplicate_ids_are_reported_and_resolved_oldest_first(write, caplog, build):
    write("2022-05-09-old.md", "title: Old\nid: same")
    write("2022-05-10-mid.md", "title: Mid\nid: same")
    write("2022-05-11-new.md", "title: New\nid: same")
    write("2022-05-12-clash.md", "title: Clash\nid: 'same#2'")
    with caplog.at_level(logging.WARNING, logger="feedsvc.feeds"):
        feeds = build()
    ids = {e.title: e.id for e in parse(feeds, "all", "", "atom").entries}
    assert ids == {"Clash": "same#2", "New": "same#4", "Mid": "same#3", "Old": "same"}
    assert feeds.duplicate_ids == ("same",)
    assert "same" in caplog.text


def test_assign_ids_gives_the_oldest_post_the_plain_id():
    posts = [types.SimpleNamespace(path=p) for p in ("c", "b", "a")]   # newest first
    ids, duplicates = assign_ids(posts, {"a": "x", "b": "x", "c": "y"})
    assert ids == {"a": "x", "b": "x#2", "c": "y"} and duplicates == ("x",)


@dataclasses.dataclass(frozen=True)
class _Version:
    """What the id registry reads of a post: path, epoch, digest (and here the id it asks)."""

    path: str
    epoch: int
    digest: str
    id: str


# Ids that collide, that look like another id's suffix (a#2, a#2#2), and near misses.
_ASKED_IDS = st.sampled_from(["a", "a#2", "a#3", "a#2#2", "b", "b#2", "#2", "2", "a#", "a#x"])
_OPERATIONS = st.lists(st.tuples(
    st.sampled_from(["put", "put", "touch", "reread", "delete"]),
    st.sampled_from([f"_posts/p{i}.md" for i in range(8)]),
    st.integers(0, 3),      # few epochs: many ties, broken by path
    _ASKED_IDS), max_size=40)


@hypothesis.settings(max_examples=examples(300))
@hypothesis.given(operations=_OPERATIONS)
def test_incremental_ids_always_equal_assign_ids_from_scratch(operations):
    registry = IdRegistry(lambda post: post.id)
    store: dict[str, _Version] = {}
    for number, (operation, path, epoch, asked) in enumerate(operations):
        old = store.get(path)
        if operation == "delete":
            store.pop(path, None)
        elif operation == "put":            # add, or edit date and id
            store[path] = _Version(path, epoch, f"d{number}", asked)
        elif operation == "touch" and old:  # edit the body only: same id and date
            store[path] = dataclasses.replace(old, digest=f"d{number}")
        elif operation == "reread" and old:  # the same file read again: a new object
            store[path] = dataclasses.replace(old)
        posts = sorted(store.values(), key=lambda p: (p.epoch, p.path), reverse=True)
        expected = assign_ids(posts, {post.path: post.id for post in posts})
        assert (dict(registry.update(posts)), registry.duplicates) == expected


@pytest.mark.parametrize("before, after", [
    ({"a": ("x", 1), "b": ("x", 2)}, {"a": ("x", 1), "b": ("x", 2), "c": ("x#2", 0)}),
    ({"a": ("x", 1), "b": ("x", 2), "c": ("x#2", 0)}, {"a": ("x", 1), "b": ("x", 2)}),
    ({"a": ("x", 1), "b": ("x", 2), "c": ("x", 3)}, {"a": ("x", 4), "b": ("x", 2), "c": ("x", 3)}),
    ({"a": ("x", 1), "b": ("x", 2)}, {"a": ("y", 1), "b": ("x", 2)}),
    ({"a": ("x", 1), "b": ("x", 2)}, {"b": ("x", 2)}),
])
def test_incremental_ids_follow_edits_of_colliding_posts(before, after):
    registry = IdRegistry(lambda post: post.id)

    def posts(table):
        versions = [_Version(path, epoch, f"{asked}{epoch}", asked)
                    for path, (asked, epoch) in table.items()]
        return sorted(versions, key=lambda p: (p.epoch, p.path), reverse=True)

    registry.update(posts(before))
    expected = assign_ids(posts(after), {p.path: p.id for p in posts(after)})
    assert (dict(registry.update(posts(after))), registry.duplicates) == expected


def test_reloads_with_colliding_ids_give_the_bytes_of_a_fresh_build(write, store_and_builder,
                                                                    feed_settings, site_dir):
    store, builder = store_and_builder()
    write("2022-05-09-old.md", "title: Old\nid: same\ncategories: c")
    write("2022-05-10-mid.md", "title: Mid\nid: same\ntags: t")
    edits = [
        lambda: write("2022-05-12-clash.md", "title: Clash\nid: 'same#2'"),
        lambda: write("2022-05-08-older.md", "title: Older\nid: same\ntags: t"),
        lambda: write("2022-05-10-mid.md", "title: Mid\nid: other\ntags: t"),
        lambda: (site_dir / "_posts" / "2022-05-12-clash.md").unlink(),
        lambda: write("2022-05-10-mid.md", "title: Mid again\nid: same\ntags: t"),
        lambda: (site_dir / "_posts" / "2022-05-08-older.md").unlink(),
    ]
    builder.build(store.reload(), store)
    for edit in edits:
        edit()
        snapshot = store.reload()
        incremental = builder.build(snapshot, store)
        fresh = FeedBuilder.from_settings(feed_settings()).build(snapshot, store)
        assert {k: d.body for k, d in incremental.feeds.items()} == \
            {k: d.body for k, d in fresh.feeds.items()}
        assert incremental.duplicate_ids == fresh.duplicate_ids


def test_tag_uri_date_is_the_file_name_date_not_the_post_date(write, feed_settings, clock):
    write("2022-05-11-a.md", "title: A\ndate: 2022-05-11 23:30:00 -0100")
    post = Store.from_settings(feed_settings(), clock=clock).reload().posts[0]
    assert post.date.astimezone(CST).date() == dt.date(2022, 5, 12)
    assert tag_uri(post, "news.example.com") == \
        "tag:news.example.com,2022-05-11:_posts/2022-05-11-a"


@pytest.mark.parametrize("path, expected", [
    ("_posts/2022-05-11-a.md", "2022-05-11:_posts/2022-05-11-a"),
    ("_posts/2022-5-1-a b.markdown", "2022-05-01:_posts/2022-5-1-a%20b"),
    ("news/_posts/x/2022-05-01-东方.html",
     "2022-05-01:news/_posts/x/2022-05-01-%E4%B8%9C%E6%96%B9"),
    ("_posts/2022-05-11-a%20b~c.md", "2022-05-11:_posts/2022-05-11-a%2520b~c"),
    ("_posts/2022-05-11-a+b=c?.md", "2022-05-11:_posts/2022-05-11-a%2Bb%3Dc%3F"),
    ("_posts/0999-12-31-old.md", "0999-12-31:_posts/0999-12-31-old"),
    ("_posts/2022-1-09-x.md", "2022-01-09:_posts/2022-1-09-x"),
])
def test_tag_uri_date_and_path_are_normalised(path, expected, feed_settings):
    post = make_post(path, {"title": "A"}, ParseOptions.from_settings(feed_settings()), "d")
    assert tag_uri(post, "news.example.com") == f"tag:news.example.com,{expected}"
