"""The incremental builder: every feed of a snapshot, rebuilding only what changed."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import types
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from ..config import Settings
from ..documents import Document, make_documents
from ..source import BodyReader, Post, Snapshot
from ..urls import FORMATS
from .archives import ArchivePlanner, FeedArchive, current_history
from .content import clean_text, collapse
from .entries import FeedOptions, feed_posts, jekyll_feeds, make_entry
from .formats import (RENDERERS, Entry, FeedMeta, History, feed_updated, reheaded_atom,
                      render_atom)
from .typography import feed_title
from .ids import IdRegistry, requested_id, tag_authority

log = logging.getLogger(__name__)

_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*\Z")   # RFC 4287 atomLanguageTag


@dataclasses.dataclass(frozen=True, slots=True)
class FeedKey:
    """One feed document: which feed, in which format."""

    kind: str    # "all" | "category" | "tag"
    name: str    # "" for kind "all"; the category or tag exactly as in front matter
    fmt: str     # "rss" | "atom" | "json"


@dataclasses.dataclass(frozen=True)
class FeedSet:
    """Every feed of one snapshot, and what the HTML pages need of them."""

    feeds: Mapping[FeedKey, Document]
    entries: Mapping[tuple[str, str], tuple[Entry, ...]]     # newest first, feed_limit long
    updated: Mapping[tuple[str, str], dt.datetime | None]    # newest entry's updated
    titles: Mapping[tuple[str, str], str]
    duplicate_ids: tuple[str, ...] = ()                      # ids more than one post had
    # RFC 5005 archive of each feed, when the archives setting is on (feeds/archives.py)
    archives: Mapping[tuple[str, str], FeedArchive] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({}))
    # The Atom documents at jekyll-feed's paths, by decoded path (/feed.xml...).
    jekyll: Mapping[str, Document] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class _Built:
    """A feed as last built, with what it was built from."""

    signature: tuple[tuple[tuple[str, str, str], ...], History]   # entries, archive links
    documents: Mapping[str, Document]
    entries: tuple[Entry, ...]
    updated: dt.datetime | None
    title: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Rendered:
    """A feed rendered in every format, waiting for its documents to be made."""

    signature: tuple[tuple[tuple[str, str, str], ...], History]
    entries: tuple[Entry, ...]
    updated: dt.datetime | None
    title: str
    bodies: tuple[tuple[str, bytes], ...]   # (format, bytes), in FORMATS order


class FeedBuilder:
    """Build every feed of a snapshot, reusing what has not changed since the last build."""

    def __init__(self, options: FeedOptions) -> None:
        self.options = options
        self.zone = options.zone
        self.builds = 0   # feed documents (re)built since construction; tests count it
        self._authority = tag_authority(options.url)
        self._language = _language(options.lang)
        self._site_title = collapse(clean_text(options.title)) or self._authority
        self._ids = IdRegistry(self._requested_id)
        self._entries: dict[tuple[str, str], Entry] = {}   # (path, digest) -> entry
        self._feeds: dict[tuple[str, str], _Built] = {}
        self._duplicates: tuple[str, ...] = ()
        self._archives = ArchivePlanner(options) if options.archives else None
        self._jekyll: dict[str, tuple[object, Document]] = {}   # path -> (signature, document)

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedBuilder:
        """Return a builder of the feeds *settings* describe."""
        return cls(FeedOptions.from_settings(settings))

    def build(self, snapshot: Snapshot, bodies: BodyReader) -> FeedSet:
        """Return every feed of *snapshot*; only feeds whose entries changed are rebuilt.

        *bodies* gives the raw body of each post whose entry is not made yet.
        """
        ids = self._unique_ids(snapshot.posts)
        every_feed = list(feed_posts(snapshot, None))
        archives = {} if self._archives is None else self._archives.plan(
            every_feed, snapshot.posts, ids, self._duplicates, self.meta)
        entries_used: dict[tuple[str, str], Entry] = {}
        feeds: dict[tuple[str, str], _Built | None] = {}
        rendered: dict[tuple[str, str], _Rendered] = {}
        for kind, name, every_post in every_feed:
            posts = every_post[:self.options.feed_limit]
            keys = tuple((p.path, p.digest, ids[p.path]) for p in posts)
            for (path, digest, entry_id), post in zip(keys, posts):
                if (path, digest) not in entries_used:
                    entries_used[(path, digest)] = self._entry(post, entry_id, bodies)
            history = current_history(archives.get((kind, name)), self.options.service_url)
            old = self._feeds.get((kind, name))
            if old is not None and old.signature == (keys, history):
                feeds[(kind, name)] = old
            else:
                feeds[(kind, name)] = None   # keeps the order; filled in below
                rendered[(kind, name)] = self._render(kind, name, keys, history, entries_used)
        # Compress and hash every rebuilt document in one batch (on all cores when big).
        items = [(body, fmt, r.updated) for r in rendered.values() for fmt, body in r.bodies]
        made = iter(make_documents(items))
        for key, r in rendered.items():
            documents = {fmt: next(made) for fmt, _ in r.bodies}
            self.builds += len(documents)
            feeds[key] = _Built(r.signature, types.MappingProxyType(documents), r.entries,
                                r.updated, r.title)
        built: dict[tuple[str, str], _Built] = feeds   # type: ignore[assignment]
        self._entries = entries_used     # drop entries no feed shows any more
        self._feeds = built
        return self._feed_set(built, archives,
                              self._jekyll_documents(snapshot, built))

    def _jekyll_documents(self, snapshot: Snapshot, built: Mapping[tuple[str, str], _Built]
                          ) -> dict[str, Document]:
        """Return the Atom document at each of jekyll-feed's paths, rebuilt only if changed.

        The same entries as feedsvc's own Atom feed of that category or tag; the feed-level
        parts are jekyll-feed's (feed.xml): it names itself, its <id> is the site URL + its
        path, its alternate link the site root, its title the site's (+ " | Category").
        """
        kept: dict[str, tuple[object, Document]] = {}
        pending = []
        for path, kind, name in jekyll_feeds(snapshot, self.options):
            base = built.get((kind, name))
            meta = self._jekyll_meta(kind, name, path)
            signature = ((base.signature if base else ()), meta)
            old = self._jekyll.get(path)
            if old is not None and old[0] == signature:
                kept[path] = old
                continue
            if base is None:   # a configured category or tag with no posts
                body = render_atom(meta, (), self.zone)
            else:
                body = reheaded_atom(base.documents["atom"].body, meta, base.updated, self.zone)
            pending.append((path, signature, body, base.updated if base else None))
        made = make_documents([(body, "atom", updated) for _, _, body, updated in pending])
        for (path, signature, _, _), document in zip(pending, made):
            kept[path] = (signature, document)
        self.builds += len(pending)
        self._jekyll = kept
        return {path: document for path, (_, document) in kept.items()}

    def _jekyll_meta(self, kind: str, name: str, path: str) -> FeedMeta:
        options = self.options
        title = options.title
        if kind == "category":   # jekyll-feed: title | append: " | " | append: capitalize
            title = f"{title} | {name.capitalize()}"
        title = collapse(clean_text(feed_title(title))) or self._site_title
        meta = dataclasses.replace(self.meta(kind, name), hubs=self.options.websub_hubs)
        return dataclasses.replace(meta, title=title, home=options.site_url + "/",
                                   subtitle=collapse(clean_text(options.description)),
                                   jekyll_path=path,
                                   jekyll_id=options.site_url + quote(path, safe="/"))

    def _requested_id(self, post: Post) -> str:
        return requested_id(post, self.options.id_style, self.options.site_url, self._authority)

    def _unique_ids(self, posts: Sequence[Post]) -> dict[str, str]:
        ids = self._ids.update(posts)
        duplicates = self._ids.duplicates
        if duplicates and duplicates != self._duplicates:
            log.warning("%d entry ids are used by more than one post (newer posts get #2, #3, "
                        "...; give each post its own front matter id): %s",
                        len(duplicates), ", ".join(duplicates))
        self._duplicates = duplicates
        return ids

    def _entry(self, post: Post, entry_id: str, bodies: BodyReader) -> Entry:
        # Rendering depends only on the file (and options), never on the id: a post
        # whose id moves (a clashing post came or went) is not rendered again.
        cached = self._entries.get((post.path, post.digest))
        if cached is not None:
            return cached if cached.id == entry_id else dataclasses.replace(cached, id=entry_id)
        return make_entry(post, bodies.body_of(post), entry_id, self.options)

    def _render(self, kind: str, name: str, keys: tuple[tuple[str, str, str], ...],
                history: History, entries_by_version: Mapping[tuple[str, str], Entry]
                ) -> _Rendered:
        """Render one feed's current document in every format (made in a batch later)."""
        entries = tuple(entries_by_version[(path, digest)] for path, digest, _ in keys)
        meta = dataclasses.replace(self.meta(kind, name), hubs=self.options.websub_hubs,
                                   history=history)
        updated = feed_updated(entries)
        bodies = tuple((fmt, RENDERERS[fmt](meta, entries, self.zone)) for fmt in FORMATS)
        return _Rendered((keys, history), entries, updated, meta.title, bodies)

    def meta(self, kind: str, name: str) -> FeedMeta:
        """Return what a feed says about itself (no hubs, no archive links)."""
        options = self.options
        if kind == "all":
            title, home = self._site_title, options.site_url + "/"
        else:
            pattern = options.category_url if kind == "category" else options.tag_url
            title = f"{self._site_title} · {collapse(clean_text(name))}"
            home = options.site_url + pattern.format(name=quote(name))
        return FeedMeta(
            kind=kind, name=name, title=title,
            subtitle=collapse(clean_text(options.description)) or title,
            home=home, service_url=options.service_url, language=self._language,
            author=collapse(clean_text(options.author)) or self._site_title,
            category_scheme=options.site_url + "/categories/",
            tag_scheme=options.site_url + "/tags/",
        )

    def _feed_set(self, feeds: Mapping[tuple[str, str], _Built],
                  archives: Mapping[tuple[str, str], FeedArchive],
                  jekyll: Mapping[str, Document]) -> FeedSet:
        documents = {FeedKey(kind, name, fmt): built.documents[fmt]
                     for (kind, name), built in feeds.items() for fmt in FORMATS}
        return FeedSet(
            feeds=types.MappingProxyType(documents),
            entries=types.MappingProxyType({k: b.entries for k, b in feeds.items()}),
            updated=types.MappingProxyType({k: b.updated for k, b in feeds.items()}),
            titles=types.MappingProxyType({k: b.title for k, b in feeds.items()}),
            duplicate_ids=self._duplicates,
            archives=types.MappingProxyType(archives),
            jekyll=types.MappingProxyType(dict(jekyll)),
        )


def _language(lang: str) -> str:
    """Return the site language as an RFC 3066 tag (``zh_CN`` -> ``zh-CN``), or ''."""
    tag = lang.strip().replace("_", "-")
    if tag and not _LANGUAGE_TAG.match(tag):
        log.warning("lang %r is not a language tag such as zh-CN; feeds give no language", lang)
        return ""
    return tag
