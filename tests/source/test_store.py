"""Loader tests: Jekyll's rules, dates to the exact instant and offset, bad input, reload."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import pytest

from feedsvc.config import load_settings
from feedsvc.errors import ContentError
from feedsvc.feeds import FeedBuilder, FeedOptions
from feedsvc.source import Store
from feedsvc.source.posts import load_post
from feedsvc.source.scan import find_post_files

ROOT = Path(__file__).resolve().parent.parent

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2025, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "_posts").mkdir()
    return tmp_path


@pytest.fixture
def write(site: Path):
    def write(rel: str, front: str | None = "title: T", body: str = "<p>body</p>\n",
              raw: bytes | None = None) -> Path:
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if raw is None:
            text = body if front is None else f"---\n{front}\n---\n{body}"
            raw = text.encode("utf-8")
        path.write_bytes(raw)
        return path
    return write


def make_store(site: Path, clock=lambda: NOW, **overrides) -> Store:
    settings = load_settings({"site_dir": str(site), "url": "https://news.example.com",
                              "timezone": "Asia/Shanghai", **overrides}, environ={})
    return Store.from_settings(settings, clock=clock)


def only_post(site: Path, **overrides):
    snapshot = make_store(site, **overrides).reload()
    assert snapshot.errors == ()
    assert len(snapshot.posts) == 1
    return snapshot.posts[0]


# --- dates -----------------------------------------------------------------------------------

@pytest.mark.parametrize("front, expected", [
    ("date: 2022-05-11 17:16:04 +0800", dt.datetime(2022, 5, 11, 17, 16, 4, tzinfo=CST)),
    ("date: 2022-05-11T17:16:04+08:00", dt.datetime(2022, 5, 11, 17, 16, 4, tzinfo=CST)),
    ("date: '2022-05-11T09:16:04Z'", dt.datetime(2022, 5, 11, 9, 16, 4, tzinfo=dt.timezone.utc)),
    ("date: 2022-05-11 09:16:04 -0500", dt.datetime(2022, 5, 11, 9, 16, 4,
                                                    tzinfo=dt.timezone(dt.timedelta(hours=-5)))),
])
def test_zoned_dates_keep_their_instant_and_offset(write, site, front, expected):
    write("_posts/2022-05-11-a.md", f"title: A\n{front}")
    post = only_post(site)
    assert post.date == expected
    assert post.date.utcoffset() == expected.utcoffset()


def test_yaml_timestamp_with_zone_is_aware(write, site):
    # PyYAML turns an unquoted ISO timestamp into a datetime itself.
    write("_posts/2022-05-11-a.md", "title: A\ndate: 2022-05-11T17:16:04.500+08:00")
    post = only_post(site)
    assert post.date == dt.datetime(2022, 5, 11, 17, 16, 4, tzinfo=CST)
    assert post.date.microsecond == 0


def test_quoted_zoneless_date_uses_site_zone(write, site):
    write("_posts/2022-05-11-a.md", 'title: A\ndate: "2022-05-11 17:16:04"')
    post = only_post(site)
    assert post.date == dt.datetime(2022, 5, 11, 9, 16, 4, tzinfo=dt.timezone.utc)
    assert post.date.utcoffset() == dt.timedelta(hours=8)


def test_unquoted_zoneless_date_is_utc_like_jekyll(write, site):
    # Psych reads it as a YAML timestamp with Time.utc; Jekyll keeps that instant.
    write("_posts/2022-05-12-a.md", "title: A\ndate: 2022-05-12 23:30:00")
    post = only_post(site)
    assert post.date == dt.datetime(2022, 5, 12, 23, 30, tzinfo=dt.timezone.utc)
    assert post.url == "/2022/05/13/a.html"   # the instant's day in the site's zone


def test_zoneless_date_string_uses_site_zone(write, site):
    write("_posts/2022-05-11-a.md", "title: A\ndate: 'May 11, 2022 17:16'")
    assert only_post(site).date == dt.datetime(2022, 5, 11, 17, 16, tzinfo=CST)


def test_date_only_is_midnight_in_site_zone(write, site):
    write("_posts/2022-05-11-a.md", "title: A\ndate: 2022-05-12")
    post = only_post(site)
    assert post.date == dt.datetime(2022, 5, 12, 0, 0, tzinfo=CST)
    assert post.date.utcoffset() == dt.timedelta(hours=8)


def test_missing_date_takes_file_name_date_at_midnight(write, site):
    write("_posts/2022-05-11-a.md", "title: A")
    assert only_post(site).date == dt.datetime(2022, 5, 11, tzinfo=CST)


def test_site_zone_applies_daylight_saving(write, site):
    write("_posts/2022-07-01-a.md", "title: A\ndate: '2022-07-01 12:00:00'")
    post = only_post(site, timezone="America/New_York")
    assert post.date.utcoffset() == dt.timedelta(hours=-4)
    assert post.date == dt.datetime(2022, 7, 1, 16, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("value, reason", [
    ("not a date", "date: 'not a date' is not a date (unknown string format)"),
    ("'2022-13-45 10:00'", "date: '2022-13-45 10:00' is not a date (month must be in 1..12)"),
    ("2022-13-45 10:00:00", "invalid value in front matter: month must be in 1..12"),
    ("'1'", "date: '1' lacks a year, month or day"),
    ("[2022]", "date: [2022] is not a date"),
])
def test_unparseable_date_skips_post_with_reason(write, site, value, reason):
    write("_posts/2022-05-11-bad.md", f"title: Bad\ndate: {value}")
    write("_posts/2022-05-12-good.md", "title: Good")
    snapshot = make_store(site).reload()
    assert [p.title for p in snapshot.posts] == ["Good"]
    assert snapshot.errors == (ContentError("_posts/2022-05-11-bad.md", reason),)


def test_last_modified_at_sets_updated(write, site):
    write("_posts/2022-05-11-a.md",
          "title: A\ndate: 2022-05-11 10:00:00 +0800\nlast_modified_at: 2022-06-01 08:00:00 +0800")
    post = only_post(site)
    assert post.updated == dt.datetime(2022, 6, 1, 8, 0, tzinfo=CST)
    assert post.date == dt.datetime(2022, 5, 11, 10, 0, tzinfo=CST)


# --- which files are posts -------------------------------------------------------------------

def test_only_dated_post_files_under_posts_folders_are_read(write, site):
    write("_posts/2022-05-11-a.md")
    write("_posts/2022-05-12-b.markdown")
    write("_posts/2022-05-13-c.html")
    write("_posts/sub/2022-05-14-d.md")
    write("_posts/2022-05-15-e.txt")
    write("_posts/README.txt")
    write("_posts/notes.md")
    write("_posts/.2022-05-16-hidden.md")
    write("_posts/2022-05-17-backup.md~")
    write("_drafts/2022-05-18-draft.md")
    write("2022-05-19-outside.md")
    write("_site/_posts/2022-05-20-built.md")
    write("node_modules/x/_posts/2022-05-21-dep.md")
    write("vendor/bundle/_posts/2022-05-22-gem.md")
    write("vendor/_posts/2022-05-23-vendor.md")       # only vendor/bundle/ etc. are excluded
    write("_posts/_x/2022-05-24-special-first.md")
    write("_posts/sub/_x/2022-05-25-special-deeper.md")   # special? tests only the first part
    write("_posts/22-05-26-short-year.md")
    found = sorted(rel for rel, _ in find_post_files(site))
    assert found == ["_posts/2022-05-11-a.md", "_posts/2022-05-12-b.markdown",
                     "_posts/2022-05-13-c.html", "_posts/2022-05-15-e.txt",
                     "_posts/22-05-26-short-year.md", "_posts/sub/2022-05-14-d.md",
                     "_posts/sub/_x/2022-05-25-special-deeper.md",
                     "vendor/_posts/2022-05-23-vendor.md"]


def test_unclosed_front_matter_is_reported(write, site):
    write("_posts/2022-05-11-a.md", raw=b"---\ntitle: Half-writ")
    snapshot = make_store(site).reload()
    assert snapshot.errors == (ContentError("_posts/2022-05-11-a.md",
                                            "front matter has no closing '---' line"),)


def test_file_without_front_matter_is_a_post_like_jekyll(write, site):
    # PostReader never checks for front matter: title from the slug, date from the name.
    write("_posts/2022-05-11-just-text.md", None, "just text\n")
    store = make_store(site)
    post = store.reload().posts[0]
    assert (post.title, post.url) == ("Just Text", "/2022/05/11/just-text.html")
    assert store.body_of(post) == "just text\n"


def test_a_yaml_file_under_posts_is_data_not_a_post(write, site):
    write("_posts/2022-05-11-data.yml", None, "title: x\n")
    snapshot = make_store(site).reload()
    assert snapshot.posts == () and snapshot.errors == ()


def test_folder_posts_take_folder_names_as_categories(write, site):
    write("news/world/_posts/2022-05-11-a.md", "title: A\ncategories: extra world")
    post = only_post(site)
    assert post.categories == ("news", "world", "extra")
    assert post.url == "/news/world/extra/2022/05/11/a.html"


def test_unpublished_post_is_left_out(write, site):
    write("_posts/2022-05-11-a.md", "title: A\npublished: false")
    snapshot = make_store(site).reload()
    assert snapshot.posts == () and snapshot.errors == ()


def test_future_post_waits_and_snapshot_knows_when_it_is_due(write, site):
    write("_posts/2022-05-11-old.md", "title: Old")
    write("_posts/2030-01-01-future.md", "title: Future\ndate: 2030-01-01 08:00:00 +0800")
    write("_posts/2031-01-01-later.md", "title: Later")
    now = [NOW]
    store = make_store(site, clock=lambda: now[0])
    snapshot = store.reload()
    assert [p.title for p in snapshot.posts] == ["Old"]
    assert snapshot.next_due == dt.datetime(2030, 1, 1, 0, 0, tzinfo=dt.timezone.utc)
    assert snapshot.pending == 2
    now[0] = dt.datetime(2030, 1, 1, 0, 0, tzinfo=dt.timezone.utc)
    snapshot = store.reload()
    assert [p.title for p in snapshot.posts] == ["Future", "Old"]
    assert snapshot.next_due == dt.datetime(2031, 1, 1, tzinfo=CST)


# --- front matter fields ---------------------------------------------------------------------

def test_seed_shaped_post(write, site):
    write("_posts/2022-05-11-shi-gong.md",
          'layout: post\ntitle: "政策解读答疑、防疫知识科普……线上搭平台"\n'
          "date: 2022-05-11 17:16:04 +0800\ncategories: dongfangwang\ntags: 东方网新闻",
          "<p>正文</p>\n\n<http://example.org/a>\n\n[返回](//example.org/category/x.html)｜[首页](//example.org/)\n")
    store = make_store(site)
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


@pytest.mark.parametrize("front, categories, tags", [
    ("categories: a b  a\ntags: x y x", ("a", "b"), ("x", "y")),
    ("categories: [b, a, b]\ntags:\n  - 东方\n  - 新闻", ("b", "a"), ("东方", "新闻")),
    ("category: Big News\ntag: one two", ("Big News",), ("one two",)),   # taken whole
    ("category: solo\ncategories: [a]\ntags: [x]\ntag: y", ("a", "solo"), ("y",)),
    ("categories: 2022\ntags: [1, 2]", ("2022",), ("1", "2")),
    ("", (), ()),
])
def test_categories_and_tags(write, site, front, categories, tags):
    write("_posts/2022-05-11-a.md", f"title: A\n{front}")
    post = only_post(site)
    assert post.categories == categories
    assert post.tags == tags


@pytest.mark.parametrize("front", ["title:", "layout: post"])
def test_missing_title_is_titleized_slug(write, site, front):
    write("_posts/2022-05-11-hello-big-world.md", front)
    assert only_post(site).title == "Hello Big World"


def test_an_empty_title_stays_empty_like_jekyll(write, site):
    write("_posts/2022-05-11-hello.md", "title: ''")   # data["title"] ||= ... keeps ""
    assert only_post(site).title == ""


@pytest.mark.parametrize("permalink, expected", [
    ("date", "/news/2022/05/11/my-post.html"),
    ("pretty", "/news/2022/05/11/my-post/"),
    ("none", "/news/my-post.html"),
    ("ordinal", "/news/2022/131/my-post.html"),
    ("/:year/:i_month/:i_day/:slug:output_ext", "/2022/5/11/my-post.html"),
    ("/archive/:short_year/:title/", "/archive/22/my-post/"),
])
def test_site_permalink_patterns(write, site, permalink, expected):
    write("_posts/2022-05-11-my-post.md", "title: A\ncategories: News\ndate: 2022-05-11 23:30:00 +0800")
    assert only_post(site, permalink=permalink).url == expected


def test_permalink_date_parts_use_site_zone(write, site):
    # 16:30 UTC on the 11th is already the 12th in Shanghai.
    write("_posts/2022-05-11-a.md", "title: A\ndate: 2022-05-11T16:30:00Z")
    assert only_post(site).url == "/2022/05/12/a.html"


def test_front_matter_permalink_wins(write, site):
    write("_posts/2022-05-11-a.md", "title: A\npermalink: /special/hello/")
    assert only_post(site).url == "/special/hello/"


def test_url_is_percent_encoded(write, site):
    write("_posts/2022-05-11-中文.md", "title: A\ncategories: 新闻")
    assert only_post(site).url == "/%E6%96%B0%E9%97%BB/2022/05/11/%E4%B8%AD%E6%96%87.html"


def test_carried_fields(write, site):
    write("_posts/2022-05-11-a.md",
          "title: A\nauthor: 李明\ndescription: 摘要\nimage: /img/a.jpg\nid: urn:uuid:1234\n"
          "excerpt_only: true")
    post = only_post(site)
    assert (post.author, post.summary, post.image, post.id, post.excerpt_only) == (
        "李明", "摘要", "/img/a.jpg", "urn:uuid:1234", True)


def test_author_and_image_mappings(write, site):
    write("_posts/2022-05-11-a.md",
          "title: A\nauthor: {name: Li Ming, email: li@example.com}\nexcerpt: short\n"
          "image: {path: /img/b.jpg, alt: B}")
    post = only_post(site)
    assert (post.author, post.summary, post.image) == ("Li Ming", "short", "/img/b.jpg")


def test_html_post_is_not_markdown(write, site):
    write("_posts/2022-05-11-a.html")
    assert only_post(site).markdown is False


# --- text encodings --------------------------------------------------------------------------

def test_utf8_bom_and_crlf(write, site):
    write("_posts/2022-05-11-a.md", raw="\ufeff---\r\ntitle: 标题\r\ntags: a b\r\n---\r\n<p>x</p>\r\n"
          .encode("utf-8"))
    store = make_store(site)
    post = store.reload().posts[0]
    assert (post.title, post.tags) == ("标题", ("a", "b"))
    assert store.body_of(post) == "<p>x</p>\r\n"   # kept, as Jekyll keeps it


def test_gb18030_file_is_read(write, site):
    write("_posts/2022-05-11-a.md", raw="---\ntitle: 东方网新闻\n---\n<p>正文</p>\n".encode("gb18030"))
    assert only_post(site).title == "东方网新闻"


def test_binary_file_is_skipped_and_reported(write, site):
    write("_posts/2022-05-11-a.md", raw=b"---\ntitle: \xff\xfe\x80\x80\xff\n---\n")
    snapshot = make_store(site).reload()
    assert snapshot.posts == ()
    assert snapshot.errors == (ContentError("_posts/2022-05-11-a.md",
                                            "not text: neither UTF-8 nor GB18030"),)


# --- broken posts ----------------------------------------------------------------------------

def test_yaml_error_reports_file_line(write, site):
    write("_posts/2022-05-11-a.md", "title: A\ntags: [unclosed\nauthor: x")
    snapshot = make_store(site).reload()
    assert len(snapshot.errors) == 1
    assert snapshot.errors[0].reason.startswith("invalid YAML front matter at line ")


def test_front_matter_must_be_a_mapping(write, site):
    write("_posts/2022-05-11-a.md", "- just\n- a list")
    snapshot = make_store(site).reload()
    assert snapshot.errors[0].reason == "front matter is not a mapping of keys to values"


def test_invalid_date_in_file_name(write, site):
    write("_posts/2022-02-30-a.md", "title: A")
    snapshot = make_store(site).reload()
    assert snapshot.errors[0].reason == "file name has an invalid date 2022-02-30"


def test_oversized_post_is_skipped(write, site):
    write("_posts/2022-05-11-big.md", "title: Big", "x" * 2000)
    write("_posts/2022-05-12-small.md", "title: Small")
    snapshot = make_store(site, max_post_bytes=1000).reload()
    assert [p.title for p in snapshot.posts] == ["Small"]
    assert snapshot.errors == (ContentError("_posts/2022-05-11-big.md",
                                            "larger than max_post_bytes (1000 bytes)"),)


def test_symlink_outside_site_is_not_followed(write, site, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "2022-05-11-secret.md"
    outside.write_text("---\ntitle: Secret\n---\n")
    os.symlink(outside, site / "_posts" / "2022-05-11-secret.md")
    write("_posts/2022-05-12-inside.md", "title: Inside")
    os.symlink(site / "_posts" / "2022-05-12-inside.md", site / "_posts" / "2022-05-13-alias.md")
    snapshot = make_store(site).reload()
    assert sorted(p.title for p in snapshot.posts) == ["Inside", "Inside"]
    assert snapshot.errors == (ContentError("_posts/2022-05-11-secret.md",
                                            "symlink leads outside the site; not followed"),)


def test_symlink_loop_is_reported_not_fatal(write, site):
    os.symlink("2022-05-11-loop.md", site / "_posts" / "2022-05-11-loop.md")
    os.symlink(site, site / "_posts" / "again")
    write("_posts/2022-05-12-ok.md", "title: OK")
    snapshot = make_store(site).reload()
    assert [p.title for p in snapshot.posts] == ["OK"]
    assert [e.path for e in snapshot.errors] == ["_posts/2022-05-11-loop.md"]


def test_missing_site_folder_raises_content_error(tmp_path):
    store = make_store(tmp_path)
    (tmp_path).rename(tmp_path.with_name(tmp_path.name + "-gone"))
    with pytest.raises(ContentError):
        store.reload()


def test_load_post_returns_none_for_unpublished(site, write):
    write("_posts/2022-05-11-a.md", "published: false")
    options = make_store(site).options
    assert load_post("_posts/2022-05-11-a.md", options) == (None, None)


# --- reload ----------------------------------------------------------------------------------

def test_reload_rereads_only_changed_files(write, site):
    write("_posts/2022-05-11-a.md", "title: A")
    path_b = write("_posts/2022-05-12-b.md", "title: B")
    store = make_store(site)
    store.reload()
    assert store.reads == 2
    store.reload()
    assert store.reads == 2
    path_b.write_text("---\ntitle: B2 longer\n---\n")
    snapshot = store.reload()
    assert store.reads == 3
    assert [p.title for p in snapshot.posts] == ["B2 longer", "A"]


def test_reload_notices_deletes_and_renames(write, site):
    path_a = write("_posts/2022-05-11-a.md", "title: A")
    path_b = write("_posts/2022-05-12-b.md", "title: B")
    store = make_store(site)
    store.reload()
    path_a.unlink()
    path_b.rename(site / "_posts" / "2022-05-13-c.md")
    snapshot = store.reload()
    assert [(p.title, p.path) for p in snapshot.posts] == [("B", "_posts/2022-05-13-c.md")]


def test_broken_edit_keeps_last_good_version(write, site):
    path = write("_posts/2022-05-11-a.md", "title: Good\ntags: x")
    store = make_store(site)
    first = store.reload()
    path.write_text("---\ntitle: Half\ntags: [x\n")   # a half-saved edit
    second = store.reload()
    assert second.posts == first.posts
    assert [e.path for e in second.errors] == ["_posts/2022-05-11-a.md"]
    path.write_text("---\ntitle: Fixed\n---\n")
    third = store.reload()
    assert [p.title for p in third.posts] == ["Fixed"] and third.errors == ()


def test_snapshot_is_immutable_and_swapped(write, site):
    write("_posts/2022-05-11-a.md", "title: A\ncategories: c")
    store = make_store(site)
    first = store.reload()
    with pytest.raises(AttributeError):
        first.posts = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.categories["d"] = ()  # type: ignore[index]
    second = store.reload()
    assert store.snapshot is second and second is not first
    assert second.categories == {"c": second.posts}


def test_equal_dates_order_is_stable(write, site):
    for slug in ("b", "a", "c"):
        write(f"_posts/2022-05-11-{slug}.md", "title: X\ndate: 2022-05-11 10:00:00 +0800")
    paths = [p.path for p in make_store(site).reload().posts]
    assert paths == ["_posts/2022-05-11-c.md", "_posts/2022-05-11-b.md", "_posts/2022-05-11-a.md"]


def test_feeds_read_bodies_only_of_posts_they_show(write, site):
    for day in range(1, 8):
        write(f"_posts/2022-05-0{day}-p{day}.md", f"title: P{day}\ncategories: c{day % 2}")
    store = make_store(site)
    snapshot = store.reload()
    read = []

    class RecordingReader:
        def body_of(self, post):
            read.append(post.path)
            return store.body_of(post)
    options = FeedOptions.from_settings(load_settings(
        {"site_dir": str(site), "url": "https://news.example.com", "feed_limit": 2},
        environ={}))
    FeedBuilder(options).build(snapshot, RecordingReader())
    # global top 2: days 7, 6; c1 top 2: 7, 5; c0 top 2: 6, 4; each read once
    assert sorted(read) == [f"_posts/2022-05-0{d}-p{d}.md" for d in (4, 5, 6, 7)]


# --- the fast front-matter path gives exactly what PyYAML gives -----------------------------

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


# --- the persistent parse cache --------------------------------------------------------------

def test_warm_restart_parses_only_changed_files(write, site, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    write("_posts/2022-05-11-a.md", "title: A\ncategories: c")
    path_b = write("_posts/2022-05-12-b.md", "title: B")
    write("_posts/2022-05-13-broken.md", "title: [x")
    first = make_store(site, cache_dir=str(cache))
    snap1 = first.reload()
    assert first.reads == 3
    path_b.write_text("---\ntitle: B changed\n---\n")
    second = make_store(site, cache_dir=str(cache))
    snap2 = second.reload()
    assert second.reads == 1
    assert [p.title for p in snap2.posts] == ["B changed", "A"]
    assert snap2.errors == snap1.errors
    assert _same_post(snap2.posts[1], snap1.posts[1])
    assert second.body_of(snap2.posts[1]) == "<p>body</p>\n"


def _same_post(a, b) -> bool:
    """Equal field by field, with datetimes equal as instants and in their zone's offset."""
    return a == b and all(
        (x.utcoffset(), x.tzinfo.tzname(x), x.fold) == (y.utcoffset(), y.tzinfo.tzname(y), y.fold)
        for x, y in ((a.date, b.date), (a.updated, b.updated)))


def test_cache_records_round_trip_every_post_and_error(tmp_path_factory):
    """The cache's compact encoding gives back each post exactly (zones included)."""
    from feedsvc.source.cache import RecordCodec as _RecordCodec
    site = ROOT / "feedsvc" / "sample_site"
    store = make_store(site)
    snap = store.reload()
    codec = _RecordCodec(store.options.zone)
    states = list(store._files.values())
    assert len(states) >= 40
    broken = ContentError("_posts/2024-01-01-x.md", "invalid YAML front matter at line 2: 东")
    states.append(type(states[0])((1, 2, 3), None, broken))                # not a post
    states.append(type(states[0])((1, 2, 3), snap.posts[1], broken))       # last good
    for state in states:
        record = codec.encode(state.post, state.error)
        assert record[:1] == b"M"          # no sample post needs the pickle fallback
        post, error = codec.decode(record)
        assert error == state.error
        assert (post is None) == (state.post is None)
        if post is not None:
            assert _same_post(post, state.post)
            assert post.epoch == state.post.epoch and post.sort_key == state.post.sort_key
    # A zone that is neither the site's nor a fixed offset: the pickle fallback, still exact.
    from zoneinfo import ZoneInfo
    post = snap.posts[0]
    odd = dataclasses.replace(post, date=post.date.astimezone(ZoneInfo("America/New_York")))
    record = codec.encode(odd, None)
    assert record[:1] == b"P"
    assert _same_post(codec.decode(record)[0], odd)
    named = dataclasses.replace(post, date=post.date.astimezone(
        dt.timezone(dt.timedelta(hours=8), "CST")))
    assert _same_post(codec.decode(codec.encode(named, None))[0], named)


def test_cache_is_dropped_when_parsing_settings_change(write, site, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    write("_posts/2022-05-11-a.md", "title: A\ndate: 2022-05-11 10:00:00")
    make_store(site, cache_dir=str(cache)).reload()
    store = make_store(site, cache_dir=str(cache), timezone="UTC")
    post = store.reload().posts[0]
    assert store.reads == 1
    assert post.date.utcoffset() == dt.timedelta(0)


def test_corrupt_cache_is_ignored(write, site, tmp_path_factory, caplog):
    cache = tmp_path_factory.mktemp("cache")
    (cache / "parse-cache.sqlite3").write_bytes(b"this is not sqlite" * 100)
    write("_posts/2022-05-11-a.md", "title: A")
    store = make_store(site, cache_dir=str(cache))
    assert [p.title for p in store.reload().posts] == ["A"]
    assert "parse cache unusable" in caplog.text


def test_unlistable_posts_folder_keeps_its_posts(write, site, monkeypatch):
    write("_posts/2022-05-11-a.md", "title: A")
    write("news/_posts/2022-05-12-b.md", "title: B")
    store = make_store(site)
    store.reload()
    real_scandir = os.scandir

    def failing_scandir(path):
        if str(path).endswith(os.path.join("news", "_posts")):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", failing_scandir)
    snapshot = store.reload()
    assert sorted(p.title for p in snapshot.posts) == ["A", "B"]
    assert snapshot.errors == (ContentError("news/_posts", "cannot list folder: Permission denied"),)
    monkeypatch.undo()
    assert store.reload().errors == ()


def test_parallel_parse_gives_the_same_snapshot(write, site, monkeypatch):
    import feedsvc.source.store as store_module
    for day in range(1, 29):
        write(f"_posts/2022-02-{day:02d}-p{day}.md", f"title: P{day}\ntags: t{day % 3}")
    write("_posts/2022-03-01-bad.md", "title: [x")
    sequential = make_store(site).reload()
    monkeypatch.setattr(store_module, "PARALLEL_MIN", 2)
    monkeypatch.setattr(store_module, "can_fork", lambda: True)
    parallel_store = make_store(site)
    parallel = parallel_store.reload()
    assert parallel_store.reads == 29
    assert parallel.posts == sequential.posts
    assert parallel.errors == sequential.errors
    # Posts pickled back from the pool share their names' tuples again, as a parse does.
    tagged = [post.tags for post in parallel.posts if post.tags == ("t1",)]
    assert len(tagged) > 1 and all(tags is tagged[0] for tags in tagged)


def test_unchanged_reload_keeps_posts_and_order(write, site):
    write("_posts/2022-05-11-a.md", "title: A\ncategories: c")
    store = make_store(site)
    first = store.reload()
    second = store.reload()
    assert second is not first
    assert second.posts is first.posts and second.categories is first.categories


# --- inotify: a reload stats only what the kernel reported -----------------------------------

@pytest.fixture
def no_full_scan(monkeypatch):
    """Make any full scan fail loudly, once the store has had its two full scans."""
    import feedsvc.source.store as store_module

    def arm():
        def refuse(*args, **kwargs):
            raise AssertionError("a full scan ran")
        monkeypatch.setattr(store_module, "find_post_files", refuse)
    return arm


def test_watched_reload_sees_edits_adds_deletes_renames_without_a_scan(write, site, no_full_scan):
    write("_posts/2022-05-11-a.md", "title: A")
    path_b = write("_posts/2022-05-12-b.md", "title: B")
    path_c = write("_posts/2022-05-13-c.md", "title: C")
    store = make_store(site)
    store.reload()
    store.reload()            # the watch predates this scan: from now on it is trusted
    no_full_scan()
    reads = store.reads
    path_b.write_text("---\ntitle: B2\n---\n")
    write("_posts/2022-05-14-d.md", "title: D")
    path_c.rename(site / "_posts" / "2022-05-15-e.md")
    (site / "_posts" / "2022-05-11-a.md").unlink()
    snapshot = store.reload()
    assert [p.title for p in snapshot.posts] == ["C", "D", "B2"]
    assert [p.path for p in snapshot.posts][0] == "_posts/2022-05-15-e.md"
    assert store.reads - reads == 3
    assert store.reload().posts == snapshot.posts   # nothing new: nothing read
    assert store.reads - reads == 3


def test_new_folder_makes_a_full_scan(write, site):
    write("_posts/2022-05-11-a.md", "title: A")
    store = make_store(site)
    store.reload()
    store.reload()
    write("news/_posts/2022-05-12-b.md", "title: B")
    assert sorted(p.title for p in store.reload().posts) == ["A", "B"]
    write("news/_posts/2022-05-13-c.md", "title: C")
    store.reload()    # the new folder's watch is new: scan once more
    assert sorted(p.title for p in store.reload().posts) == ["A", "B", "C"]


def test_full_scan_still_runs_every_few_reloads(write, site, monkeypatch):
    import feedsvc.source.store as store_module
    from feedsvc.source.inotify import FULL_SCAN_EVERY
    write("_posts/2022-05-11-a.md", "title: A")
    store = make_store(site)
    scans = []
    real = store_module.find_post_files
    monkeypatch.setattr(store_module, "find_post_files",
                        lambda *a, **k: scans.append(1) or real(*a, **k))
    for _ in range(2 + FULL_SCAN_EVERY + 1):
        store.reload()
    assert len(scans) == 3


def test_watch_off_or_forked_scans_every_time(write, site, monkeypatch):
    import feedsvc.source.store as store_module
    write("_posts/2022-05-11-a.md", "title: A")
    scans = []
    real = store_module.find_post_files
    monkeypatch.setattr(store_module, "find_post_files",
                        lambda *a, **k: scans.append(1) or real(*a, **k))
    store = make_store(site, watch=False)
    for _ in range(4):
        store.reload()
    assert len(scans) == 4 and store._watcher is None
    scans.clear()
    watched = make_store(site)
    watched.reload()
    watched.reload()
    watched._watcher.pid = -1        # as in a forked child: the watch is the parent's
    watched.reload()
    assert len(scans) == 3


def test_patched_snapshots_equal_a_fresh_load(tmp_path_factory):
    """Any sequence of adds, edits, renames and deletes: the incrementally patched snapshot
    is exactly what a fresh store reads from the same files."""
    from hypothesis import given, settings as hsettings, strategies as st

    ops = st.lists(st.tuples(
        st.sampled_from(["add", "edit", "delete", "rename", "break"]),
        st.integers(0, 7),                      # which file
        st.integers(1, 28),                     # day
        st.sampled_from(["a", "b", "a b", ""]),  # categories
        st.sampled_from(["x", "y z", ""]),       # tags
    ), min_size=1, max_size=12)

    @hsettings(max_examples=25, deadline=None)
    @given(ops)
    def check(steps):
        site = tmp_path_factory.mktemp("patch")
        (site / "_posts").mkdir()
        store = make_store(site, feed_limit=3)
        store.reload()
        store.reload()
        for op, n, day, cats, tags in steps:
            existing = sorted((site / "_posts").glob(f"*-p{n}.md"))
            if op in ("add", "edit"):
                for old in existing:
                    old.unlink()
                (site / "_posts" / f"2022-02-{day:02d}-p{n}.md").write_text(
                    f"---\ntitle: P{n} {day}\ncategories: {cats}\ntags: {tags}\n---\nbody {day}\n")
            elif op == "delete":
                for old in existing:
                    old.unlink()
            elif op == "rename" and existing:
                existing[0].rename(site / "_posts" / f"2022-03-{day:02d}-p{n}.md")
            elif op == "break" and existing:
                existing[0].write_text("---\ntitle: [broken\n")
            patched = store.reload()
            expected = [_fresh_with(store, site)]   # the same states, assembled from scratch
            if not any(s.error and s.post for s in store._files.values()):
                expected.append(make_store(site, feed_limit=3).reload())   # a fresh read
            for other in expected:
                assert patched.posts == other.posts
                assert dict(patched.categories) == dict(other.categories)
                assert dict(patched.tags) == dict(other.tags)
                assert patched.errors == other.errors

    check()


def _fresh_with(store: Store, site: Path):
    """Assemble from scratch what *store* holds (last good versions included)."""
    fresh = make_store(site, feed_limit=3)
    files = {rel: type(state)(state.signature, state.post, state.error)
             for rel, state in store._files.items()}
    errors = tuple(sorted((s.error for s in files.values() if s.error), key=lambda e: e.path))
    return fresh._assemble(files, errors, NOW, 0.0)


# --- Jekyll's URL, author and excerpt rules (tests/conformance checks them against Jekyll) ---

@pytest.mark.parametrize("name, front, url", [
    ("2009-03-12-hash-#1.md", "title: T", "/2009/03/12/hash-1.html"),            # Utils.slugify
    ("2022-07-01-escape-+ %20[].md", "title: T", "/2022/07/01/escape-+-20.html"),
    ("2022-07-02-trailing-dots....md", "title: T", "/2022/07/02/trailing-dots.html"),
    ("2022-07-07-a.md", "slug: 'Custom Slug, Here!'", "/2022/07/07/Custom-Slug,-Here!.html"),
    ("2022-07-06-a.md", 'categories: ["../../etc", "Upper Case"]',
     "/etc/upper%20case/2022/07/06/a.html"),                                       # sanitize_url
    ("2022-07-03-中文.md", "categories: 新闻", "/%E6%96%B0%E9%97%BB/2022/07/03/%E4%B8%AD%E6%96%87.html"),
    ("2022-07-20-a.md", "permalink: pretty", "/pretty"),              # a post's own is literal
    ("2022-07-16-a.md", "permalink: /:year/:month_:day/:title", "/2022/07_16/a"),
    ("2022-07-22-a.md", "permalink: /api/:title.json", "/api/a.json"),
    ("2022-06-01-a.Rmd", "title: T", "/2022/06/01/a.Rmd"),       # unconverted: its own extension
    ("2022-06-01-b.MD", "title: T", "/2022/06/01/b.html"),       # markdown_ext, any case
])
def test_urls_follow_jekylls_url_class(write, site, name, front, url):
    write(f"_posts/{name}", front)
    assert only_post(site).url == url


def test_an_unknown_permalink_placeholder_makes_the_post_broken(write, site):
    write("_posts/2022-01-02-bad.md", "permalink: /:foo/:title/")   # Jekyll stops the build
    snapshot = make_store(site).reload()
    assert snapshot.posts == ()
    assert "no placeholder :foo" in snapshot.errors[0].reason


def test_authors_resolve_as_jekyll_feed_does(write, site):
    (site / "_data").mkdir()
    (site / "_data" / "authors.yml").write_text(
        "alice:\n  name: Alice Zhang\n  email: alice@example.com\n  uri: https://e.org/a\n")
    (site / "_config.yml").write_text("author:\n  name: Desk\n  email: desk@example.com\n")
    write("_posts/2022-01-01-a.md", "author: alice")
    write("_posts/2022-01-02-b.md", "authors: [alice, bob]")
    write("_posts/2022-01-03-c.md", "title: none")
    write("_posts/2022-01-04-d.md", "author: Jane Doe")
    posts = {p.slug: p for p in make_store(site).reload().posts}
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
def test_summary_and_excerpt_separator_as_jekyll_reads_them(write, site, front, summary,
                                                            separator):
    write("_posts/2022-01-01-a.md", front)
    post = only_post(site)
    assert (post.summary, post.excerpt_separator) == (summary, separator)


def test_front_matter_defaults_of_the_site_apply(write, site):
    (site / "_config.yml").write_text(
        "defaults:\n  - scope: {path: _posts/d}\n    values: {author: Def, tags: [x]}\n")
    write("_posts/d/2022-01-01-a.md", "title: A")
    write("_posts/2022-01-02-b.md", "title: B")
    posts = {p.slug: p for p in make_store(site).reload().posts}
    assert (posts["a"].author, posts["a"].tags) == ("Def", ("x",))
    assert (posts["b"].author, posts["b"].tags) == ("", ())


def test_a_post_emptied_by_a_save_in_progress_keeps_its_last_good_version(write, site):
    # Jekyll would publish an empty file as a post (no front matter needed); a live store
    # sees an in-place save between truncating and writing, and waits for the content.
    path = write("_posts/2022-05-11-a.md", "title: Good")
    store = make_store(site)
    assert store.reload().posts[0].title == "Good"
    path.write_bytes(b"")
    snapshot = store.reload()
    assert [p.title for p in snapshot.posts] == ["Good"]
    assert "file cut short" in snapshot.errors[0].reason


def test_the_sites_exclude_list_is_not_walked(write, site):
    (site / "_config.yml").write_text("exclude: [drafts-old, /content]\n")
    write("_posts/2022-01-01-a.md")
    write("drafts-old/_posts/2022-01-02-b.md")
    write("content/_posts/2022-01-03-c.md")
    write("kept/_posts/2022-01-04-d.md")
    assert [p.path for p in make_store(site).reload().posts] == \
        ["kept/_posts/2022-01-04-d.md", "_posts/2022-01-01-a.md"]
