"""Hostile text in posts: every feed stays well-formed, every page stays safe.

Hypothesis writes posts whose titles, descriptions, authors, categories, tags, slugs and
bodies (and the site's own title) hold control characters, NUL, lone surrogates (as YAML
escapes such as ``"\\ud800"``), right-to-left marks, emoji, ``]]>``, markup and YAML syntax.
Then every document the site publishes is checked: RSS, Atom and OPML parse in lxml's strict
parser, RSS and Atom parse in feedparser with ``bozo`` 0, JSON loads and holds no lone
surrogate (RFC 7493 §2.1), every text is UTF-8, and no page carries a script.

Two loaders read the front matter: libyaml, which refuses an escape giving a lone surrogate
(the post is then a reported error), and PyYAML's pure-Python loader, which accepts it (the
text then reaches the builder). Sites without libyaml get the second.

The loader itself, fed arbitrary bytes and YAML-like front matter, is tested in
tests/source/test_hostile_loader.py.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from unittest import mock

import feedparser
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree, html

import feedsvc.source.frontmatter
from feedsvc.config import load_settings
from feedsvc.feeds.content import clean_text, collapse
from feedsvc.site import Site
from tests.support.profiles import examples

LOADERS = {"libyaml": getattr(yaml, "CSafeLoader", yaml.SafeLoader), "pure": yaml.SafeLoader}
NASTY = (
    "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9f",   # C0, DEL, C1
    "\ud800", "\udbff", "\udc00", "\udfff",                                   # lone surrogates
    "\ufffe", "\uffff", "\ufeff", "\u2028", "\u2029",                         # non-chars, breaks
    "\u202e", "\u202d", "\u200f", "\u2067", "\u061c", "שלום", "مرحبا",          # right-to-left
    "😀", "👩‍👩‍👧", "🇨🇳", "\U0010fffd",                                            # emoji, astral
    "]]>", "<![CDATA[", "]]&gt;", "&", "&amp;", "&#0;", "&#xD800;", "<", ">", "<b>", "</p>",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:", "<!--", "-->",
    '"', "'", "\\", "%", "%2F", "%00", "/", "..", "#", "?", ":", "- ", "{", "[", "*a", "&a",
    "!!", "---", "...", "东方网新闻", " ", "\t", "\r", "\n",
)
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
hostile = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=4), surrogates),
                   min_size=1, max_size=6).map("".join)
SLUGS = ("plain", "a]]>b", "x%2Fy", "东方网", "emoji-😀", "rtl-\u202eabc", "a b", "<script>",
         "frag#x", "q?x=1", "amp&amp")


def yaml_string(text: str, raw: bool) -> str:
    """Return *text* as a double-quoted YAML scalar.

    Escape every character that is not printable ASCII (``\\x..``, ``\\u....``,
    ``\\U........``), or in *raw* mode only those YAML does not allow as they are.
    """
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= code <= 0x7E or (raw and _printable(code)):
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out) + '"'


def _printable(code: int) -> bool:
    # YAML 1.1 c-printable, minus the BOM and the line breaks YAML reads as breaks.
    return ((0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000)
            and code not in (0xFEFF, 0x2028, 0x2029))


@st.composite
def posts(draw) -> dict:
    """Draw one post: hostile text in every field a feed shows."""
    raw = draw(st.booleans())
    names = st.lists(hostile, min_size=1, max_size=3)
    return {
        "slug": draw(st.sampled_from(SLUGS)),
        "ext": draw(st.sampled_from(["md", "html"])),
        "title": yaml_string(draw(hostile), raw),
        "description": yaml_string(draw(hostile), raw) if draw(st.booleans()) else None,
        "author": yaml_string(draw(hostile), raw) if draw(st.booleans()) else None,
        "categories": "[" + ", ".join(yaml_string(n, raw) for n in draw(names)) + "]",
        "tags": "[" + ", ".join(yaml_string(n, raw) for n in draw(names)) + "]",
        "body": draw(hostile) + "\n\n" + draw(hostile),
    }


def write_site(root: Path, site_title: str, drawn: list[dict]) -> list[str]:
    """Write the site; return the relative path of every post file."""
    (root / "_posts").mkdir(parents=True)
    (root / "_config.yml").write_text(
        f'url: "https://news.example.com"\ntitle: {yaml_string(site_title, False)}\n'
        "timezone: Asia/Shanghai\nlang: zh-CN\n", encoding="utf-8")
    paths = []
    for day, post in enumerate(drawn, start=1):
        rel = f"_posts/2022-05-{day:02d}-{post['slug']}.{post['ext']}"
        lines = ["---", f"title: {post['title']}", f"date: 2022-05-{day:02d} 17:16:04 +0800",
                 f"categories: {post['categories']}", f"tags: {post['tags']}"]
        lines += [f"{key}: {post[key]}" for key in ("description", "author") if post[key]]
        text = "\n".join(lines) + "\n---\n" + post["body"]
        # A lone surrogate cannot be UTF-8: written as such it makes the file not UTF-8.
        (root / rel).write_bytes(text.encode("utf-8", "surrogatepass"))
        paths.append(rel)
    return paths


def check_xml(path: str, body: bytes, entries: int | None) -> etree._Element:
    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False))   # strict
    if entries is not None:
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        assert len(parsed.entries) == entries, path
    return root


def strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def check_json(path: str, body: bytes, expected_titles: list[str]) -> None:
    feed = json.loads(body.decode("utf-8"))
    assert not any(0xD800 <= ord(c) <= 0xDFFF for text in strings(feed) for c in text), path
    assert [item["title"] for item in feed["items"]] == expected_titles, path


def check_page(path: str, body: bytes) -> None:
    text = body.decode("utf-8")
    assert clean_text(text) == text, path            # no control character, NUL, non-char
    assert "<script" not in text.lower(), path        # the pages run no script
    assert html.document_fromstring(text) is not None


def check_site(site: Site, files: list[str]) -> None:
    """Check every file became a post or a reported error, and every document."""
    published = site.current
    snapshot = published.snapshot
    assert sorted({p.path for p in snapshot.posts} | {e.path for e in snapshot.errors}) \
        == sorted(files)
    feeds = published.feeds
    for key, document in feeds.feeds.items():
        entries = feeds.entries[(key.kind, key.name)]
        titles = [entry.title for entry in entries]
        # jekyll-feed's title may be empty (`title: ""`, or nothing left once cleaned)
        assert all(title == collapse(clean_text(title)) for title in titles)
        if key.fmt == "json":
            check_json(repr(key), document.body, titles)
            continue
        root = check_xml(repr(key), document.body, len(entries))
        if key.fmt == "rss":
            assert [t.text or "" for t in root.iterfind("channel/item/title")] == \
                [title for title in titles if title]
    for path, document in published.documents.items():
        if document.content_type.startswith("text/html"):
            check_page(path, document.body)
        elif document.content_type.startswith("text/x-opml"):
            check_xml(path, document.body, None)


@pytest.mark.parametrize("loader", sorted(LOADERS))
@settings(max_examples=examples(30),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(site_title=hostile, drawn=st.lists(posts(), min_size=1, max_size=3))
def test_hostile_text_keeps_every_feed_well_formed(loader, site_title, drawn):
    with tempfile.TemporaryDirectory() as tmp, \
            mock.patch.object(feedsvc.source.frontmatter, "_Loader", LOADERS[loader]):
        root = Path(tmp) / "site"
        files = write_site(root, site_title, drawn)
        site = Site(load_settings({"site_dir": str(root), "auto_reload": False}, environ={}))
        site.reload()
        check_site(site, files)


def test_lone_surrogate_in_a_tag_breaks_nothing(tmp_path):
    # The case hypothesis found first: a tag written "x\ud800y". libyaml refuses the escape
    # (the post is a reported error); the pure-Python loader accepts it, and since no URL can
    # hold such a name, that tag gets no feed and no page while the post and the rest do.
    post = {"slug": "plain", "ext": "md", "title": '"ok"', "description": None, "author": None,
            "categories": '["news"]', "tags": '["x\\ud800y", "fine"]', "body": "<p>b</p>"}
    outcomes = {}
    for loader in sorted(LOADERS):
        root = tmp_path / loader
        with mock.patch.object(feedsvc.source.frontmatter, "_Loader", LOADERS[loader]):
            files = write_site(root, "Site", [post])
            site = Site(load_settings({"site_dir": str(root), "auto_reload": False},
                                      environ={}))
            site.reload()
        check_site(site, files)
        published = site.current
        assert ("tag", "x\ud800y") not in published.feeds.entries
        assert not any("\ud800" in path for path in published.documents)
        outcomes[loader] = (len(published.snapshot.posts), len(published.snapshot.errors),
                            ("tag", "fine") in published.feeds.entries)
    assert outcomes["pure"] == (1, 0, True)
    if LOADERS["libyaml"] is not yaml.SafeLoader:
        assert outcomes["libyaml"] == (0, 1, False)
