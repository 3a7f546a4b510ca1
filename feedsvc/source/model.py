"""The records the source layer hands on: Post, Snapshot, and the options parsing needs.

Every datetime here is timezone-aware. A Snapshot is immutable; a reload builds a new one.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from ..dates import load_zone
from ..errors import ContentError
from ..jekyll_config import JekyllConfig

if TYPE_CHECKING:
    from ..config import Settings

Signature = tuple[int, int, int] | ContentError   # (mtime_ns, size, inode), or why not


@dataclasses.dataclass(frozen=True)
class ParseOptions:
    """The settings that decide what a file parses to, and nothing else.

    They are pickled to the parse workers and are, with the Post record's fields, the key of
    the parse cache (:func:`feedsvc.source.cache.cache_key`): a new field here is part of
    that key without anyone listing it.
    """

    root: str              # the site folder (a symlink is followed on every scan)
    timezone: str          # IANA name of the site's zone
    permalink: str         # the site's permalink style or pattern
    max_post_bytes: int
    # From the site's _config.yml and _data/ (feedsvc.jekyll_config.JekyllConfig):
    markdown_ext: tuple[str, ...] = ("markdown", "mkdown", "mkdn", "mkd", "md")
    excerpt_separator: str = "\n\n"
    defaults_json: str = "[]"
    authors_json: str = "{}"
    author: str = ""              # the site's author: name, e-mail, uri
    author_email: str = ""
    author_uri: str = ""
    exclude: tuple[str, ...] = ()   # the site's exclude: (folders)

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseOptions:
        """Return the parse options of *settings*."""
        site = settings.jekyll
        same_author = settings.author == site.author_name   # not overridden by feedsvc's
        return cls(root=str(settings.site_root), timezone=settings.timezone,
                   permalink=settings.permalink, max_post_bytes=settings.max_post_bytes,
                   markdown_ext=site.markdown_ext, excerpt_separator=site.excerpt_separator,
                   defaults_json=site.defaults_json, authors_json=site.authors_json,
                   author=settings.author,
                   author_email=site.author_email if same_author else "",
                   author_uri=site.author_uri if same_author else "",
                   exclude=site.exclude)

    @functools.cached_property
    def site(self) -> JekyllConfig:
        """Return the site's Jekyll-only keys these options carry."""
        return JekyllConfig(markdown_ext=self.markdown_ext,
                          excerpt_separator=self.excerpt_separator,
                          defaults_json=self.defaults_json, authors_json=self.authors_json)

    @functools.cached_property
    def zone(self) -> dt.tzinfo:
        """Return the site's zone as a tzinfo."""
        return load_zone(self.timezone)


@dataclasses.dataclass(frozen=True, slots=True)
class Post:
    """One post, as read from one file. Every datetime is aware."""

    path: str                    # POSIX path relative to the site root
    slug: str                    # Jekyll's data["slug"]: front matter, else the file name's
    file_date: dt.date           # the date in the file name (YYYY-MM-DD-slug.EXT)
    title: str                   # as Jekyll holds it: may be "" (an explicit empty title)
    date: dt.datetime
    updated: dt.datetime         # last_modified_at, else date
    url: str                     # percent-encoded path under the site, starting with /
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    author: str                  # jekyll-feed's author name; "" when none at all
    author_email: str
    author_uri: str
    summary: str | None          # description or front-matter excerpt; None: the body's
    excerpt_separator: str       # where the body's excerpt ends; "": no excerpt
    image: str                   # front matter image, else ""
    id: str                      # front matter id, else ""
    lang: str                    # front matter lang (the entry's xml:lang), else ""
    excerpt_only: bool | None    # per-post override of the site setting
    markdown: bool               # body is Markdown (else taken as it is: HTML or text)
    digest: str                  # hash of the file's bytes
    # The date as Unix seconds: comparing aware datetimes costs an utcoffset() call each,
    # which made sorting 100k posts take 0.5 s.
    epoch: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "epoch", int(self.date.timestamp()))

    @property
    def sort_key(self) -> tuple[int, str]:
        """Return the key that orders posts; the path breaks ties so order never flips."""
        return (self.epoch, self.path)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """An immutable view of the store at one instant; a reload builds a new one."""

    posts: tuple[Post, ...]                       # published and due, newest first
    categories: Mapping[str, tuple[Post, ...]]    # name -> posts, newest first
    tags: Mapping[str, tuple[Post, ...]]
    errors: tuple[ContentError, ...]
    loaded_at: dt.datetime
    load_seconds: float
    next_due: dt.datetime | None                  # when the next future post is due
    pending: int = 0                              # future posts not yet due

    def posts_in(self, category: str) -> tuple[Post, ...]:
        """Return the posts of one category, newest first (empty if unknown)."""
        return self.categories.get(category, ())

    def posts_tagged(self, tag: str) -> tuple[Post, ...]:
        """Return the posts with one tag, newest first (empty if unknown)."""
        return self.tags.get(tag, ())


class BodyReader(Protocol):
    """Where the feed builder gets the raw body of a post it renders (the store)."""

    def body_of(self, post: Post) -> str:
        """Return the raw body (Markdown or HTML) of *post* as the store read it."""
        ...

    def body_of_version(self, post: Post) -> str | None:
        """Return the raw body of exactly this version of *post*, or None when its file
        holds another version now (archive pages must render the version they name)."""
        ...
