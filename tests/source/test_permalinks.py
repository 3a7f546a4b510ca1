"""Post URLs: Jekyll's permalink styles and patterns, date parts in the site's zone, slugs
and percent-encoding (tests/conformance checks them against Jekyll)."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("permalink, expected", [
    ("date", "/news/2022/05/11/my-post.html"),
    ("pretty", "/news/2022/05/11/my-post/"),
    ("none", "/news/my-post.html"),
    ("ordinal", "/news/2022/131/my-post.html"),
    ("/:year/:i_month/:i_day/:slug:output_ext", "/2022/5/11/my-post.html"),
    ("/archive/:short_year/:title/", "/archive/22/my-post/"),
])
def test_site_permalink_patterns(write_file, permalink, expected, only_post):
    write_file("_posts/2022-05-11-my-post.md",
               "title: A\ncategories: News\ndate: 2022-05-11 23:30:00 +0800")
    assert only_post(permalink=permalink).url == expected


def test_permalink_date_parts_use_site_zone(write_file, only_post):
    # 16:30 UTC on the 11th is already the 12th in Shanghai.
    write_file("_posts/2022-05-11-a.md", "title: A\ndate: 2022-05-11T16:30:00Z")
    assert only_post().url == "/2022/05/12/a.html"


def test_front_matter_permalink_wins(write_file, only_post):
    write_file("_posts/2022-05-11-a.md", "title: A\npermalink: /special/hello/")
    assert only_post().url == "/special/hello/"


def test_url_is_percent_encoded(write_file, only_post):
    write_file("_posts/2022-05-11-中文.md", "title: A\ncategories: 新闻")
    assert only_post().url == "/%E6%96%B0%E9%97%BB/2022/05/11/%E4%B8%AD%E6%96%87.html"


@pytest.mark.parametrize("name, front, url", [
    ("2009-03-12-hash-#1.md", "title: T", "/2009/03/12/hash-1.html"),            # Utils.slugify
    ("2022-07-01-escape-+ %20[].md", "title: T", "/2022/07/01/escape-+-20.html"),
    ("2022-07-02-trailing-dots....md", "title: T", "/2022/07/02/trailing-dots.html"),
    ("2022-07-07-a.md", "slug: 'Custom Slug, Here!'", "/2022/07/07/Custom-Slug,-Here!.html"),
    ("2022-07-06-a.md", 'categories: ["../../etc", "Upper Case"]',
     "/etc/upper%20case/2022/07/06/a.html"),                                       # sanitize_url
    ("2022-07-03-中文.md", "categories: 新闻",
     "/%E6%96%B0%E9%97%BB/2022/07/03/%E4%B8%AD%E6%96%87.html"),
    ("2022-07-20-a.md", "permalink: pretty", "/pretty"),              # a post's own is literal
    ("2022-07-16-a.md", "permalink: /:year/:month_:day/:title", "/2022/07_16/a"),
    ("2022-07-22-a.md", "permalink: /api/:title.json", "/api/a.json"),
    ("2022-06-01-a.Rmd", "title: T", "/2022/06/01/a.Rmd"),       # unconverted: its own extension
    ("2022-06-01-b.MD", "title: T", "/2022/06/01/b.html"),       # markdown_ext, any case
])
def test_urls_follow_jekylls_url_class(write_file, name, front, url, only_post):
    write_file(f"_posts/{name}", front)
    assert only_post().url == url


def test_an_unknown_permalink_placeholder_makes_the_post_broken(write_file, make_store):
    write_file("_posts/2022-01-02-bad.md", "permalink: /:foo/:title/")   # Jekyll stops the build
    snapshot = make_store().reload()
    assert snapshot.posts == ()
    assert "no placeholder :foo" in snapshot.errors[0].reason
