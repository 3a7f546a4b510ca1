"""Building a post from its file: dates to the exact instant and offset, which files are
posts, and the front-matter fields as Jekyll and jekyll-feed read them."""
from __future__ import annotations

import datetime as dt

import pytest

from feedsvc.errors import ContentError
from feedsvc.source.posts import load_post

CST = dt.timezone(dt.timedelta(hours=8))


# --- dates -----------------------------------------------------------------------------------

@pytest.mark.parametrize("front, expected", [
    ("date: 2022-05-11 17:16:04 +0800", dt.datetime(2022, 5, 11, 17, 16, 4, tzinfo=CST)),
    ("date: 2022-05-11T17:16:04+08:00", dt.datetime(2022, 5, 11, 17, 16, 4, tzinfo=CST)),
    ("date: '2022-05-11T09:16:04Z'", dt.datetime(2022, 5, 11, 9, 16, 4, tzinfo=dt.timezone.utc)),
    ("date: 2022-05-11 09:16:04 -0500", dt.datetime(2022, 5, 11, 9, 16, 4,
                                                    tzinfo=dt.timezone(dt.timedelta(hours=-5)))),
])
def test_zoned_dates_keep_their_instant_and_offset(write_file, front, expected, only_post):
    write_file("_posts/2022-05-11-a.md", f"title: A\n{front}")
    post = only_post()
    assert post.date == expected
    assert post.date.utcoffset() == expected.utcoffset()


def test_yaml_timestamp_with_zone_is_aware(write_file, only_post):
    # PyYAML turns an unquoted ISO timestamp into a datetime itself.
    write_file("_posts/2022-05-11-a.md", "title: A\ndate: 2022-05-11T17:16:04.500+08:00")
    post = only_post()
    assert post.date == dt.datetime(2022, 5, 11, 17, 16, 4, tzinfo=CST)
    assert post.date.microsecond == 0


def test_quoted_zoneless_date_uses_site_zone(write_file, only_post):
    write_file("_posts/2022-05-11-a.md", 'title: A\ndate: "2022-05-11 17:16:04"')
    post = only_post()
    assert post.date == dt.datetime(2022, 5, 11, 9, 16, 4, tzinfo=dt.timezone.utc)
    assert post.date.utcoffset() == dt.timedelta(hours=8)


def test_unquoted_zoneless_date_is_utc_like_jekyll(write_file, only_post):
    # Psych reads it as a YAML timestamp with Time.utc; Jekyll keeps that instant.
    write_file("_posts/2022-05-12-a.md", "title: A\ndate: 2022-05-12 23:30:00")
    post = only_post()
    assert post.date == dt.datetime(2022, 5, 12, 23, 30, tzinfo=dt.timezone.utc)
    assert post.url == "/2022/05/13/a.html"   # the instant's day in the site's zone


def test_zoneless_date_string_uses_site_zone(write_file, only_post):
    write_file("_posts/2022-05-11-a.md", "title: A\ndate: 'May 11, 2022 17:16'")
    assert only_post().date == dt.datetime(2022, 5, 11, 17, 16, tzinfo=CST)


def test_date_only_is_midnight_in_site_zone(write_file, only_post):
    write_file("_posts/2022-05-11-a.md", "title: A\ndate: 2022-05-12")
    post = only_post()
    assert post.date == dt.datetime(2022, 5, 12, 0, 0, tzinfo=CST)
    assert post.date.utcoffset() == dt.timedelta(hours=8)


def test_missing_date_takes_file_name_date_at_midnight(write_file, only_post):
    write_file("_posts/2022-05-11-a.md", "title: A")
    assert only_post().date == dt.datetime(2022, 5, 11, tzinfo=CST)


def test_site_zone_applies_daylight_saving(write_file, only_post):
    write_file("_posts/2022-07-01-a.md", "title: A\ndate: '2022-07-01 12:00:00'")
    post = only_post(timezone="America/New_York")
    assert post.date.utcoffset() == dt.timedelta(hours=-4)
    assert post.date == dt.datetime(2022, 7, 1, 16, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("value, reason", [
    ("not a date", "date: 'not a date' is not a date (unknown string format)"),
    ("'2022-13-45 10:00'", "date: '2022-13-45 10:00' is not a date (month must be in 1..12)"),
    ("2022-13-45 10:00:00", "invalid value in front matter: month must be in 1..12"),
    ("'1'", "date: '1' lacks a year, month or day"),
    ("[2022]", "date: [2022] is not a date"),
])
def test_unparseable_date_skips_post_with_reason(write_file, value, reason, make_store):
    write_file("_posts/2022-05-11-bad.md", f"title: Bad\ndate: {value}")
    write_file("_posts/2022-05-12-good.md", "title: Good")
    snapshot = make_store().reload()
    assert [p.title for p in snapshot.posts] == ["Good"]
    assert snapshot.errors == (ContentError("_posts/2022-05-11-bad.md", reason),)


def test_last_modified_at_sets_updated(write_file, only_post):
    write_file("_posts/2022-05-11-a.md",
               "title: A\ndate: 2022-05-11 10:00:00 +0800\n"
               "last_modified_at: 2022-06-01 08:00:00 +0800")
    post = only_post()
    assert post.updated == dt.datetime(2022, 6, 1, 8, 0, tzinfo=CST)
    assert post.date == dt.datetime(2022, 5, 11, 10, 0, tzinfo=CST)


def test_invalid_date_in_file_name(write_file, make_store):
    write_file("_posts/2022-02-30-a.md", "title: A")
    snapshot = make_store().reload()
    assert snapshot.errors[0].reason == "file name has an invalid date 2022-02-30"


# --- which files are posts -------------------------------------------------------------------

def test_file_without_front_matter_is_a_post_like_jekyll(write_file, make_store):
    # PostReader never checks for front matter: title from the slug, date from the name.
    write_file("_posts/2022-05-11-just-text.md", None, "just text\n")
    store = make_store()
    post = store.reload().posts[0]
    assert (post.title, post.url) == ("Just Text", "/2022/05/11/just-text.html")
    assert store.body_of(post) == "just text\n"


def test_a_yaml_file_under_posts_is_data_not_a_post(write_file, make_store):
    write_file("_posts/2022-05-11-data.yml", None, "title: x\n")
    snapshot = make_store().reload()
    assert snapshot.posts == () and snapshot.errors == ()


def test_unpublished_post_is_left_out(write_file, make_store):
    write_file("_posts/2022-05-11-a.md", "title: A\npublished: false")
    snapshot = make_store().reload()
    assert snapshot.posts == () and snapshot.errors == ()


def test_load_post_returns_none_for_unpublished(write_file, make_store):
    write_file("_posts/2022-05-11-a.md", "published: false")
    options = make_store().options
    assert load_post("_posts/2022-05-11-a.md", options) == (None, None)


def test_oversized_post_is_skipped(write_file, make_store):
    write_file("_posts/2022-05-11-big.md", "title: Big", "x" * 2000)
    write_file("_posts/2022-05-12-small.md", "title: Small")
    snapshot = make_store(max_post_bytes=1000).reload()
    assert [p.title for p in snapshot.posts] == ["Small"]
    assert snapshot.errors == (ContentError("_posts/2022-05-11-big.md",
                                            "larger than max_post_bytes (1000 bytes)"),)


# --- front matter fields ---------------------------------------------------------------------

def test_seed_shaped_post(write_file, make_store):
    write_file("_posts/2022-05-11-shi-gong.md",
               'layout: post\ntitle: "政策解读答疑、防疫知识科普……线上搭平台"\n'
               "date: 2022-05-11 17:16:04 +0800\ncategories: dongfangwang\ntags: 东方网新闻",
               "<p>正文</p>\n\n<http://example.org/a>\n\n"
               "[返回](//example.org/category/x.html)｜[首页](//example.org/)\n")
    store = make_store()
    snapshot = store.reload()
    post = snapshot.posts[0]
    assert post.title == "政策解读答疑、防疫知识科普……线上搭平台"
    assert post.categories == ("dongfangwang",)
    assert post.tags == ("东方网新闻",)
    assert post.url == "/dongfangwang/2022/05/11/shi-gong.html"
    assert post.markdown is True
    assert store.body_of(post).startswith("<p>正文</p>\n\n<http://example.org/a>")
    assert snapshot.posts_in("dongfangwang") == (post,)
    assert snapshot.posts_tagged("东方网新闻") == (post,)


def test_folder_posts_take_folder_names_as_categories(write_file, only_post):
    write_file("news/world/_posts/2022-05-11-a.md", "title: A\ncategories: extra world")
    post = only_post()
    assert post.categories == ("news", "world", "extra")
    assert post.url == "/news/world/extra/2022/05/11/a.html"


@pytest.mark.parametrize("front, categories, tags", [
    ("categories: a b  a\ntags: x y x", ("a", "b"), ("x", "y")),
    ("categories: [b, a, b]\ntags:\n  - 东方\n  - 新闻", ("b", "a"), ("东方", "新闻")),
    ("category: Big News\ntag: one two", ("Big News",), ("one two",)),   # taken whole
    ("category: solo\ncategories: [a]\ntags: [x]\ntag: y", ("a", "solo"), ("y",)),
    ("categories: 2022\ntags: [1, 2]", ("2022",), ("1", "2")),
    ("", (), ()),
])
def test_categories_and_tags(write_file, front, categories, tags, only_post):
    write_file("_posts/2022-05-11-a.md", f"title: A\n{front}")
    post = only_post()
    assert post.categories == categories
    assert post.tags == tags


@pytest.mark.parametrize("front", ["title:", "layout: post"])
def test_missing_title_is_titleized_slug(write_file, front, only_post):
    write_file("_posts/2022-05-11-hello-big-world.md", front)
    assert only_post().title == "Hello Big World"


def test_an_empty_title_stays_empty_like_jekyll(write_file, only_post):
    write_file("_posts/2022-05-11-hello.md", "title: ''")   # data["title"] ||= ... keeps ""
    assert only_post().title == ""


def test_carried_fields(write_file, only_post):
    write_file("_posts/2022-05-11-a.md",
               "title: A\nauthor: 李明\ndescription: 摘要\nimage: /img/a.jpg\nid: urn:uuid:1234\n"
               "excerpt_only: true")
    post = only_post()
    assert (post.author, post.summary, post.image, post.id, post.excerpt_only) == (
        "李明", "摘要", "/img/a.jpg", "urn:uuid:1234", True)


def test_author_and_image_mappings(write_file, only_post):
    write_file("_posts/2022-05-11-a.md",
               "title: A\nauthor: {name: Li Ming, email: li@example.com}\nexcerpt: short\n"
               "image: {path: /img/b.jpg, alt: B}")
    post = only_post()
    assert (post.author, post.summary, post.image) == ("Li Ming", "short", "/img/b.jpg")


def test_html_post_is_not_markdown(write_file, only_post):
    write_file("_posts/2022-05-11-a.html")
    assert only_post().markdown is False


# --- Jekyll's author, excerpt and defaults rules (tests/conformance checks them) -------------

def test_authors_resolve_as_jekyll_feed_does(write_file, site_dir, write_config, make_store):
    (site_dir / "_data").mkdir()
    (site_dir / "_data" / "authors.yml").write_text(
        "alice:\n  name: Alice Zhang\n  email: alice@example.com\n  uri: https://e.org/a\n")
    write_config("author:\n  name: Desk\n  email: desk@example.com\n")
    write_file("_posts/2022-01-01-a.md", "author: alice")
    write_file("_posts/2022-01-02-b.md", "authors: [alice, bob]")
    write_file("_posts/2022-01-03-c.md", "title: none")
    write_file("_posts/2022-01-04-d.md", "author: Jane Doe")
    posts = {p.slug: p for p in make_store().reload().posts}
    assert (posts["a"].author, posts["a"].author_email, posts["a"].author_uri) == \
        ("Alice Zhang", "alice@example.com", "https://e.org/a")
    assert posts["b"].author == "Alice Zhang"
    assert (posts["c"].author, posts["c"].author_email) == ("Desk", "desk@example.com")
    assert (posts["d"].author, posts["d"].author_email) == ("Jane Doe", "")


@pytest.mark.parametrize("front, summary, separator", [
    ("title: T", None, "\n\n"),                            # the body's excerpt
    ("excerpt: ''", "", "\n\n"),                           # an empty excerpt: no summary
    ("description: D\nexcerpt: E", "D", "\n\n"),
    ("excerpt_separator: <!--more-->", None, "<!--more-->"),
])
def test_summary_and_excerpt_separator_as_jekyll_reads_them(write_file, front, summary, separator,
                                                            only_post):
    write_file("_posts/2022-01-01-a.md", front)
    post = only_post()
    assert (post.summary, post.excerpt_separator) == (summary, separator)


def test_front_matter_defaults_of_the_site_apply(write_file, write_config, make_store):
    write_config(
        "defaults:\n  - scope: {path: _posts/d}\n    values: {author: Def, tags: [x]}\n")
    write_file("_posts/d/2022-01-01-a.md", "title: A")
    write_file("_posts/2022-01-02-b.md", "title: B")
    posts = {p.slug: p for p in make_store().reload().posts}
    assert (posts["a"].author, posts["a"].tags) == ("Def", ("x",))
    assert (posts["b"].author, posts["b"].tags) == ("", ())
