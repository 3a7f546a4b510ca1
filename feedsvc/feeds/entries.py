"""Entry policy: which posts each feed shows, and the entry made of each post version."""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..dates import load_zone
from ..source import Post, Snapshot
from .content import (absolute_url, clean_text, collapse, excerpt_source, render_body, sanitize,
                      summary_text, teaser)
from .formats import Entry
from .typography import feed_title

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FeedOptions:
    """The settings the feeds are built from."""

    url: str                 # the site's origin (the authority of tag URIs)
    site_url: str            # url + baseurl: post links start with it
    service_url: str         # where feedsvc is served: rel="self" links start with it
    title: str               # the site's title, else its name (jekyll-feed's fallback)
    description: str
    author: str
    lang: str
    timezone: str            # feeds print times in this zone
    feed_limit: int
    excerpt_only: bool
    id_style: str
    category_url: str
    tag_url: str
    summary_length: int
    websub_hubs: tuple[str, ...]   # advertised by every current document
    archives: bool                 # RFC 5005 archives (feeds/archives.py)
    archive_page_size: int
    # jekyll-feed's own paths, from the site's feed: block (feedsvc.jekyll_config.JekyllConfig)
    jekyll_path: str = "/feed.xml"
    jekyll_categories: tuple[str, ...] = ()
    jekyll_tags: bool = False
    jekyll_tags_only: tuple[str, ...] | None = None
    jekyll_tags_except: tuple[str, ...] = ()
    jekyll_tags_path: str = "/feed/by_tag/"

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedOptions:
        """Return the feed options of *settings*."""
        site = settings.jekyll
        return cls(**{field.name: getattr(settings, field.name)
                      for field in dataclasses.fields(cls)
                      if not field.name.startswith("jekyll_")},
                   jekyll_path=site.feed_path, jekyll_categories=site.feed_categories,
                   jekyll_tags=site.feed_tags, jekyll_tags_only=site.feed_tags_only,
                   jekyll_tags_except=site.feed_tags_except,
                   jekyll_tags_path=site.feed_tags_path)

    @functools.cached_property
    def zone(self) -> dt.tzinfo:
        """Return the site's zone as a tzinfo."""
        return load_zone(self.timezone)


def feed_posts(snapshot: Snapshot, limit: int | None
               ) -> Iterator[tuple[str, str, tuple[Post, ...]]]:
    """Yield (kind, name, posts newest first) of every feed: global, categories, tags.

    A feed shows its newest *limit* posts (None: all of them, the snapshot's own tuples).
    A name no URL can carry has no feed.
    """
    yield "all", "", snapshot.posts[:limit]
    for kind, index in (("category", snapshot.categories), ("tag", snapshot.tags)):
        for name, posts in index.items():
            if _valid_name(kind, name):
                yield kind, name, posts[:limit]


def _valid_name(kind: str, name: str) -> bool:
    """Return whether a category or tag name can name a feed URL (it must be UTF-8)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:   # a lone surrogate, e.g. from a YAML "\\ud800" escape
        log.warning("%s %r has a lone surrogate, so no URL can name it: no feed for it",
                    kind, name)
        return False
    return True


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*\Z")   # RFC 4287 atomLanguageTag
_TAG_FEED_NAME = re.compile(r"[a-zA-Z0-9_]+\Z")


def jekyll_feeds(snapshot: Snapshot, options: FeedOptions) -> Iterator[tuple[str, str, str]]:
    """Yield (decoded path, kind, name) of every feed jekyll-feed would write.

    jekyll-feed 0.17 ``Generator#generate``: the posts feed at ``feed.path`` (default
    ``/feed.xml``), ``/feed/<category>.xml`` for each of ``feed.categories`` only, and when
    ``feed.tags`` is set (and the site has tags) ``<tags.path><tag>.xml`` for the tags of
    ``tags.only`` (default: all) minus ``tags.except``, skipping any tag with a character
    outside ``[a-zA-Z0-9_]`` (``#generate_tag_feed``).
    """
    yield options.jekyll_path, "all", ""
    given = set()
    for category in dict.fromkeys(options.jekyll_categories):
        given.add(("category", category))
        yield f"/feed/{category}.xml", "category", category
    if options.jekyll_tags and snapshot.tags:
        pool = options.jekyll_tags_only if options.jekyll_tags_only is not None else \
            tuple(snapshot.tags)
        for tag in dict.fromkeys(pool):
            if tag not in options.jekyll_tags_except and _TAG_FEED_NAME.match(tag):
                given.add(("tag", tag))
                yield f"{options.jekyll_tags_path}{tag}.xml", "tag", tag
    # Beyond jekyll-feed, on purpose (docs/jekyll.md): every other category and tag keeps
    # the /feed/<category>.xml and /feed/by_tag/<tag>.xml feedsvc always served, so no
    # subscriber of either URL loses it when a site adds or trims its feed: block.
    for kind, index, prefix in (("category", snapshot.categories, "/feed/"),
                                ("tag", snapshot.tags, "/feed/by_tag/")):
        for name in index:
            if (kind, name) not in given and _valid_name(kind, name):
                yield f"{prefix}{name}.xml", kind, name


def make_entry(post: Post, body: str, entry_id: str, options: FeedOptions) -> Entry:
    """Return the entry of one post version, rendering and sanitising its body."""
    link = options.site_url + post.url
    try:
        raw = render_body(body, post.markdown)
        content = sanitize(raw, link)
        summary = summary_text(_summary_source(post, body, raw), post.markdown)
    except RecursionError:   # absurdly deep nesting: keep the entry, leave out its body
        log.warning("post %s: body nests too deeply to render; content left out", post.path)
        content = summary = ""
    excerpt_only = options.excerpt_only if post.excerpt_only is None else post.excerpt_only
    return Entry(
        id=entry_id,
        title=collapse(clean_text(feed_title(clean_text(post.title)))),
        link=link,
        published=post.date,
        updated=post.updated,
        summary=summary,
        teaser=teaser(summary, options.summary_length),
        content_html="" if excerpt_only else content,
        categories=post.categories,
        tags=post.tags,
        author=collapse(clean_text(post.author)),
        author_email=clean_text(post.author_email),
        author_uri=clean_text(post.author_uri),
        lang=post.lang if _LANGUAGE_TAG.match(post.lang) else "",
        image=(absolute_url(post.image, link) or "") if post.image else "",
        path=post.path,
    )


def _summary_source(post: Post, body: str, rendered: str) -> str:
    """Return the HTML of jekyll-feed's ``post.description | default: post.excerpt``: front
    matter's when given, else the body's excerpt rendered as the body is (``Excerpt``)."""
    if post.summary is not None:
        return post.summary
    if not post.excerpt_separator:   # Document#generate_excerpt? is false: no excerpt
        return ""
    head = excerpt_source(body, post.excerpt_separator)
    return rendered if head == body else render_body(head, post.markdown)
