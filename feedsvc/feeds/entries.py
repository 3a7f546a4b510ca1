"""Entry policy: which posts each feed shows, and the entry made of each post version."""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..dates import load_zone
from ..source import Post, Snapshot
from .content import absolute_url, clean_text, collapse, render_content, summarize
from .formats import Entry

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FeedOptions:
    """The settings the feeds are built from."""

    url: str                 # the site's origin (the authority of tag URIs)
    site_url: str            # url + baseurl: post links start with it
    service_url: str         # where feedsvc is served: rel="self" links start with it
    title: str
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

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedOptions:
        """Return the feed options of *settings*."""
        return cls(**{field.name: getattr(settings, field.name)
                      for field in dataclasses.fields(cls)})

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


def make_entry(post: Post, body: str, entry_id: str, options: FeedOptions) -> Entry:
    """Return the entry of one post version, rendering and sanitising its body."""
    link = options.site_url + post.url
    try:
        content = render_content(body, post.markdown, link)
    except RecursionError:   # absurdly deep nesting: keep the entry, leave out its body
        log.warning("post %s: body nests too deeply to render; content left out", post.path)
        content = ""
    excerpt_only = options.excerpt_only if post.excerpt_only is None else post.excerpt_only
    return Entry(
        id=entry_id,
        title=collapse(clean_text(post.title)) or collapse(clean_text(post.slug)) or "…",
        link=link,
        published=post.date,
        updated=post.updated,
        summary=summarize(content, post.summary, options.summary_length),
        content_html="" if excerpt_only else content,
        categories=post.categories,
        tags=post.tags,
        author=collapse(clean_text(post.author or options.author)),
        image=(absolute_url(post.image, link) or "") if post.image else "",
        path=post.path,
    )

