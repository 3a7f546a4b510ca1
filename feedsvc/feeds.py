"""Build every feed of a snapshot in RSS 2.0, Atom 1.0 and JSON Feed 1.1, incrementally.

One :class:`Entry` is made per post version and rendered to all three formats, so ids,
dates, links, authors and categories agree. This is the only module that imports feedgen.
feedgen 1.0.0 (pinned in setup.cfg) is used for the RSS and Atom skeleton and corrected
where it is wrong for us (see docs/feeds.md):

- it fills ``lastBuildDate``/``updated`` with now(): the builder sets the newest entry's
  instant instead, so identical input gives identical bytes;
- its RFC 822 formatter calls ``locale.setlocale`` without a lock (not thread-safe): it is
  never handed an RSS date; RSS dates are written with :func:`dates.format_rfc822`;
- it drops the attributes of Atom entry links (feedgen #135): they are set afterwards;
- it adds ``<generator>``/``<docs>`` and prepends entries: both are turned off.
"""
from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import html
import json
import logging
import operator
import re
import types
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote, urlsplit

from feedgen.feed import FeedGenerator
from lxml import etree

from .config import Settings
from .content import absolute_url, clean_text, collapse, render_content, summarize
from .dates import UTC, format_rfc822, format_rfc3339
from .documents import CONTENT_TYPES, Document, make_documents
from .store import POST_NAME, Post, Snapshot
from .urls import FORMATS, feed_path

log = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
# Atom requires feed <updated>; an empty feed (only the global feed of an empty store)
# says 1970-01-01T00:00:00Z rather than the build time, which would change its bytes.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*\Z")   # RFC 4287 atomLanguageTag
_MEDIA_TYPES = {fmt: CONTENT_TYPES[fmt].split(";")[0] for fmt in FORMATS}
_URI_PLAIN = re.compile(r"[A-Za-z0-9_.~/-]*")   # what quote(safe="/") leaves as it is


@dataclasses.dataclass(frozen=True, slots=True)
class FeedKey:
    """One feed document: which feed, in which format."""

    kind: str    # "all" | "category" | "tag"
    name: str    # "" for kind "all"; the category or tag exactly as in front matter
    fmt: str     # "rss" | "atom" | "json"


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One post as every feed format shows it; text fields hold only XML 1.0 characters."""

    id: str
    title: str
    link: str                      # absolute URL of the post
    published: dt.datetime
    updated: dt.datetime
    summary: str                   # plain text
    content_html: str              # sanitised HTML; "" when the post is excerpt-only
    categories: tuple[str, ...]    # exactly as in front matter (they name feeds)
    tags: tuple[str, ...]
    author: str                    # the post's author, else the site's, else ""
    image: str                     # absolute URL, or ""
    path: str                      # the post's file, relative to the site root


@dataclasses.dataclass(frozen=True)
class FeedSet:
    """Every feed of one snapshot, and what the HTML pages need of them."""

    feeds: Mapping[FeedKey, Document]
    entries: Mapping[tuple[str, str], tuple[Entry, ...]]     # newest first, feed_limit long
    updated: Mapping[tuple[str, str], dt.datetime | None]    # newest entry's updated
    titles: Mapping[tuple[str, str], str]
    duplicate_ids: tuple[str, ...] = ()                      # ids more than one post had


@dataclasses.dataclass(frozen=True, slots=True)
class FeedMeta:
    """What a feed says about itself."""

    kind: str
    name: str
    title: str
    subtitle: str
    home: str            # the site's page for this feed (rel="alternate")
    service_url: str     # public URL of feedsvc, for rel="self"
    language: str
    author: str
    category_scheme: str
    tag_scheme: str

    def self_url(self, fmt: str) -> str:
        """Return the public URL of this feed in *fmt*."""
        return self.service_url + feed_path(self.kind, self.name, fmt)


@dataclasses.dataclass(frozen=True, slots=True)
class _Built:
    """A feed as last built, with what it was built from."""

    signature: tuple[tuple[str, str, str], ...]
    documents: Mapping[str, Document]
    entries: tuple[Entry, ...]
    updated: dt.datetime | None
    title: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Rendered:
    """A feed rendered in every format, waiting for its documents to be made."""

    keys: tuple[tuple[str, str, str], ...]
    entries: tuple[Entry, ...]
    updated: dt.datetime | None
    title: str
    bodies: tuple[tuple[str, bytes], ...]   # (format, bytes), in FORMATS order


# --- ids -------------------------------------------------------------------------------------

def tag_authority(url: str) -> str:
    """Return the host name of *url* as the authority of tag URIs (RFC 4151 §2.1)."""
    host = urlsplit(url).hostname or "localhost"
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return quote(host, safe="")


def tag_uri(post: Post, authority: str, zone: dt.tzinfo) -> str:
    """Return the post's tag URI: ``tag:<host>,<file date>:<path without extension>``.

    Neither the scheme nor the site's path is in it, and the date comes from the file
    name, so moving the site to https or under /blog, or fixing a post's time, keeps it.
    """
    path = post.path
    match = POST_NAME.match(path[path.rfind("/") + 1:])
    if match is None:  # the store loads only such names; fall back to the post's date
        day = post.date.astimezone(zone).date().isoformat()
        return f"tag:{authority},{day}:{quote(path, safe='/')}"
    year, month, day, _, ext = match.groups()
    # Run for every post on a cold start: skip quote() and int() when they change nothing.
    specific = path[:-len(ext) - 1]
    if not _URI_PLAIN.fullmatch(specific):
        specific = quote(specific, safe="/")
    if not (year + month + day).isascii():   # \d also matches other scripts' digits
        year, month, day = f"{int(year):04d}", str(int(month)), str(int(day))
    return f"tag:{authority},{year}-{month:0>2}-{day:0>2}:{specific}"


def jekyll_feed_id(post: Post, settings: Settings) -> str:
    """Return jekyll-feed's id for a post: its absolute URL without ``.html`` (or a final /)."""
    url = settings.site_url + post.url
    if url.endswith("/") and post.url != "/":
        return url[:-1]
    return url.removesuffix(".html")


def raw_id(post: Post, settings: Settings, authority: str) -> str:
    """Return the id a post asks for: front matter ``id``, else by ``id_style``."""
    given = collapse(clean_text(post.id))
    if given:
        return given
    if settings.id_style == "jekyll-feed":
        return jekyll_feed_id(post, settings)
    return tag_uri(post, authority, settings.zone)


def assign_ids(posts: Sequence[Post], wanted: Mapping[str, str]
               ) -> tuple[dict[str, str], tuple[str, ...]]:
    """Return (post path -> unique id, ids that were duplicated).

    *posts* are newest first; *wanted* maps each path to the id it asks for. Of posts
    asking for the same id the oldest (by sort key) keeps it, since subscribers have
    seen it already; the next get ``#2``, ``#3``, ... in age order.
    """
    groups: dict[str, list[Post]] = {}
    for post in reversed(posts):
        groups.setdefault(wanted[post.path], []).append(post)
    taken = set(groups)
    ids: dict[str, str] = {}
    duplicates = []
    for wanted_id, members in groups.items():
        ids[members[0].path] = wanted_id
        if len(members) > 1:
            duplicates.append(wanted_id)
        number = 2
        for post in members[1:]:
            while f"{wanted_id}#{number}" in taken:
                number += 1
            ids[post.path] = f"{wanted_id}#{number}"
            taken.add(ids[post.path])
    return ids, tuple(sorted(duplicates))


_AGE = operator.attrgetter("epoch", "path")   # Post.sort_key, without the property call


class IdRegistry:
    """Keep :func:`assign_ids` of the newest snapshot up to date, redoing only what changed.

    Redoing assign_ids over every post took 1.2 s of a 1.3 s reload at 100k posts. The
    id of a post depends only on the posts asking for the same id (its group) and on
    which ids are asked for at all: a suffix ``w#n`` skips an id some post asks for, and
    can equal no other group's suffix (``w`` is what precedes the last ``#``). So a
    reload redoes the groups whose members changed, and the group ``w`` of any id
    ``w#n`` that appeared or went away. tests/test_feeds.py checks the result against
    assign_ids over the whole snapshot.
    """

    def __init__(self, wanted_id: Callable[[Post], str]) -> None:
        self._wanted_id = wanted_id   # the same post always asks for the same id
        self._posts: dict[str, Post] = {}    # path -> the post as last seen
        # Asked-for id -> its post, or its posts oldest first when several ask for it (a
        # list per post would cost 9 MB at 100k posts).
        self._groups: dict[str, Post | list[Post]] = {}
        self._duplicated: set[str] = set()
        self.ids: dict[str, str] = {}        # path -> unique id
        self.duplicates: tuple[str, ...] = ()   # sorted ids more than one post asks for

    def update(self, posts: Sequence[Post]) -> dict[str, str]:
        """Return path -> unique id for *posts* (newest first), as assign_ids would.

        The mapping is the registry's own, changed by the next update: read, never keep.
        """
        changed, gone = self._changes(posts)
        if not changed and not gone:
            return self.ids
        # Ask first: if that raises, nothing has been half updated.
        asked = [(post, self._wanted_id(post)) for post in reversed(changed)]  # oldest first
        if not self._posts:   # the first build: every group is new and in age order
            for post, wanted in asked:
                self._join(post, wanted)
            dirty = [wanted for wanted, held in self._groups.items() if isinstance(held, list)]
            self.ids = {post.path: wanted for wanted, post in self._groups.items()
                        if not isinstance(post, list)}
        else:
            dirty = {self._leave(path) for path in gone}
            dirty.update(self._leave(post.path) for post in changed if post.path in self._posts)
            for path in gone:
                del self.ids[path]
            for post, wanted in asked:
                self._join(post, wanted)
                dirty.add(wanted)
            dirty.update({_stem(wanted) for wanted in dirty})
        for wanted in dirty:
            self._assign(wanted)
        self.duplicates = tuple(sorted(self._duplicated))
        return self.ids

    def _changes(self, posts: Sequence[Post]) -> tuple[list[Post], list[str]]:
        """Return the posts that are new or changed (newest first), and the paths gone."""
        known = self._posts
        changed = []
        for post in posts:
            old = known.get(post.path)
            if old is post:
                continue
            if old is not None and old.digest == post.digest and old.epoch == post.epoch:
                self._replace(old, post)   # the same file read again: same id asked for
                continue
            changed.append(post)
        gone: list[str] = []
        if len(known) > len(posts) - sum(post.path not in known for post in changed):
            present = {post.path for post in posts}
            gone = [path for path in known if path not in present]
        return changed, gone

    def _replace(self, old: Post, post: Post) -> None:
        """Put *post* where *old*, another read of the same file, was (holding no stale copy)."""
        wanted = self._wanted_id(old)
        held = self._groups[wanted]
        if isinstance(held, list):
            held[bisect.bisect_left(held, _AGE(old), key=_AGE)] = post
        else:
            self._groups[wanted] = post
        self._posts[post.path] = post

    def _join(self, post: Post, wanted: str) -> None:
        """Add *post* to the group asking for *wanted* (at its end: _assign sorts)."""
        self._posts[post.path] = post
        held = self._groups.get(wanted)
        if held is None:
            self._groups[wanted] = post
        elif isinstance(held, list):
            held.append(post)
        else:
            self._groups[wanted] = [held, post]

    def _leave(self, path: str) -> str:
        """Take the post at *path* out of its group; return the id it asked for."""
        post = self._posts.pop(path)
        wanted = self._wanted_id(post)
        held = self._groups[wanted]
        if not isinstance(held, list):
            del self._groups[wanted]
            return wanted
        del held[bisect.bisect_left(held, _AGE(post), key=_AGE)]
        if len(held) == 1:
            self._groups[wanted] = held[0]
        return wanted

    def _assign(self, wanted: str) -> None:
        """Give each post asking for *wanted* its unique id, as assign_ids does."""
        held = self._groups.get(wanted)
        if not isinstance(held, list):
            if held is not None:
                self.ids[held.path] = wanted
            self._duplicated.discard(wanted)
            return
        held.sort(key=_AGE)
        self.ids[held[0].path] = wanted
        number = 2
        for post in held[1:]:
            while f"{wanted}#{number}" in self._groups:
                number += 1
            self.ids[post.path] = f"{wanted}#{number}"
            number += 1
        self._duplicated.add(wanted)


def _stem(wanted: str) -> str:
    """Return the id whose suffixes ``#2``, ``#3``, ... *wanted* could block, or *wanted*."""
    stem, hash_mark, number = wanted.rpartition("#")
    return stem if hash_mark and number.isdigit() else wanted


# --- entries ---------------------------------------------------------------------------------

def make_entry(post: Post, body: str, entry_id: str, settings: Settings) -> Entry:
    """Return the entry of one post version, rendering and sanitising its body."""
    link = settings.site_url + post.url
    try:
        content = render_content(body, post.markdown, link)
    except RecursionError:   # absurdly deep nesting: keep the entry, leave out its body
        log.warning("post %s: body nests too deeply to render; content left out", post.path)
        content = ""
    excerpt_only = settings.excerpt_only if post.excerpt_only is None else post.excerpt_only
    return Entry(
        id=entry_id,
        title=collapse(clean_text(post.title)) or collapse(clean_text(post.slug)) or "…",
        link=link,
        published=post.date,
        updated=post.updated,
        summary=summarize(content, post.summary, settings.summary_length),
        content_html="" if excerpt_only else content,
        categories=post.categories,
        tags=post.tags,
        author=collapse(clean_text(post.author or settings.author)),
        image=(absolute_url(post.image, link) or "") if post.image else "",
        path=post.path,
    )


def feed_updated(entries: Sequence[Entry]) -> dt.datetime | None:
    """Return a feed's updated instant: its newest entry's (never the build time)."""
    return max((entry.updated for entry in entries), default=None)


# --- RSS 2.0 ---------------------------------------------------------------------------------

class _Generator(FeedGenerator):
    """feedgen's generator, minus the parts that make output vary between runs."""

    def __init__(self) -> None:
        super().__init__()
        # feedgen 1.0.0 feed.py:73 sets lastBuildDate to now() and there is no public way
        # to unset it; left set, rss_str() would print the build time through formatRFC2822,
        # which switches the process locale (not thread-safe). The builder writes it.
        self._FeedGenerator__rss_lastBuildDate = None
        self.generator("")   # no <generator>: a version in it would change bytes on upgrade
        self.docs("")        # no <docs>

    def add_entry(self, feedEntry=None, order: str = "append"):  # noqa: N803 - feedgen's name
        """Add an entry after the others (feedgen prepends by default)."""
        return super().add_entry(feedEntry, order=order)


def _generator(meta: FeedMeta, fmt: str) -> _Generator:
    """Return a generator with the feed-level metadata shared by RSS and Atom."""
    generator = _Generator()
    generator.title(meta.title)
    generator.id(meta.self_url("atom"))
    generator.subtitle(meta.subtitle)   # also RSS <description>, which must not be empty
    generator.link(href=meta.self_url(fmt), rel="self", type=_MEDIA_TYPES[fmt])
    # Last: feedgen takes RSS <link> from the last link() call.
    generator.link(href=meta.home, rel="alternate", type="text/html")
    if meta.language:
        generator.language(meta.language)
    return generator


def render_rss(meta: FeedMeta, entries: Sequence[Entry], zone: dt.tzinfo) -> bytes:
    """Return the RSS 2.0 document of a feed."""
    generator = _generator(meta, "rss")
    generator.load_extension("dc", atom=False, rss=True)
    generator.load_extension("media", atom=False, rss=True)
    for entry in entries:
        item = generator.add_entry()
        item.title(entry.title)
        item.link(href=entry.link, rel="alternate")
        item.guid(entry.id, permalink=False)
        if entry.summary:   # RSS <description> is HTML: the plain summary is escaped once more
            item.description(html.escape(entry.summary, quote=False))
        if entry.content_html:
            item.content(entry.content_html)   # content:encoded
        for name, domain in _names(entry):
            item.category(term=clean_text(name), scheme=domain)   # scheme -> RSS domain
        if entry.author:
            item.dc.dc_creator(entry.author)
        if entry.image:
            item.media.thumbnail(url=entry.image, group=None)
    root = _reparse(generator.rss_str())
    _date_rss(root, entries, zone)
    return _serialise(root)


def _names(entry: Entry) -> list[tuple[str, str]]:
    """Return (name, "category" | "tag") for each category, then each tag, of an entry."""
    return [(c, "category") for c in entry.categories] + [(t, "tag") for t in entry.tags]


def _date_rss(root: etree._Element, entries: Sequence[Entry], zone: dt.tzinfo) -> None:
    """Write the RSS dates feedgen was not given (see :class:`_Generator`)."""
    channel = root.find("channel")
    items = channel.findall("item")
    updated = feed_updated(entries)
    if updated is not None:
        position = channel.index(items[0]) if items else len(channel)
        for offset, tag in enumerate(("lastBuildDate", "pubDate")):
            element = etree.Element(tag)
            element.text = format_rfc822(updated, zone)
            channel.insert(position + offset, element)
    for item, entry in zip(items, entries, strict=True):
        etree.SubElement(item, "pubDate").text = format_rfc822(entry.published, zone)


# --- Atom 1.0 --------------------------------------------------------------------------------

def render_atom(meta: FeedMeta, entries: Sequence[Entry], zone: dt.tzinfo) -> bytes:
    """Return the Atom 1.0 document of a feed."""
    generator = _generator(meta, "atom")
    generator.load_extension("media", atom=True, rss=False)
    generator.author({"name": meta.author})
    generator.updated(feed_updated(entries) or EPOCH)
    for entry in entries:
        item = generator.add_entry()
        item.id(entry.id)
        item.title(entry.title)
        item.updated(entry.updated)
        item.published(entry.published)
        item.link(href=entry.link, rel="alternate", type="text/html")
        if entry.author:
            item.author({"name": entry.author})
        if entry.summary:
            item.summary(entry.summary)
        if entry.content_html:
            item.content(entry.content_html, type="html")
        for name, kind in _names(entry):
            scheme = meta.category_scheme if kind == "category" else meta.tag_scheme
            item.category(term=clean_text(name), scheme=scheme)
        if entry.image:
            item.media.thumbnail(url=entry.image, group=None)
    root = _reparse(generator.atom_str())
    _fix_atom(root, entries, zone)
    return _serialise(root)


def _fix_atom(root: etree._Element, entries: Sequence[Entry], zone: dt.tzinfo) -> None:
    """Restore entry link attributes (feedgen #135) and write every date in the site zone."""
    atom = f"{{{ATOM_NS}}}"
    root.find(atom + "updated").text = format_rfc3339(feed_updated(entries) or EPOCH, zone)
    elements = root.findall(atom + "entry")
    for element, entry in zip(elements, entries, strict=True):
        link = element.find(atom + "link")
        link.set("rel", "alternate")
        link.set("type", "text/html")
        element.find(atom + "updated").text = format_rfc3339(entry.updated, zone)
        element.find(atom + "published").text = format_rfc3339(entry.published, zone)


def _reparse(document: bytes) -> etree._Element:
    """Return feedgen's output as a tree to correct (a new parser: threads must not share one)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    return etree.fromstring(document, parser)


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)


# --- JSON Feed 1.1 ---------------------------------------------------------------------------

def render_json(meta: FeedMeta, entries: Sequence[Entry], zone: dt.tzinfo) -> bytes:
    """Return the JSON Feed 1.1 document of a feed (keys in a fixed order, UTF-8)."""
    feed: dict[str, object] = {
        "version": JSON_FEED_VERSION,
        "title": meta.title,
        "home_page_url": meta.home,
        "feed_url": meta.self_url("json"),
        "description": meta.subtitle,
    }
    if meta.language:
        feed["language"] = meta.language
    feed["authors"] = [{"name": meta.author}]
    feed["items"] = [_json_item(entry, zone) for entry in entries]
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _json_item(entry: Entry, zone: dt.tzinfo) -> dict[str, object]:
    item: dict[str, object] = {"id": entry.id, "url": entry.link, "title": entry.title}
    if entry.content_html:
        item["content_html"] = entry.content_html
    else:   # JSON Feed 1.1: an item has content_html or content_text
        item["content_text"] = entry.summary
    item["summary"] = entry.summary
    if entry.image:
        item["image"] = entry.image
    item["date_published"] = format_rfc3339(entry.published, zone)
    item["date_modified"] = format_rfc3339(entry.updated, zone)
    if entry.author:
        item["authors"] = [{"name": entry.author}]
    categories = [clean_text(name) for name in entry.categories]
    tags = [clean_text(name) for name in entry.tags]
    item["tags"] = list(dict.fromkeys(categories + tags))
    item["_feedsvc"] = {"about": "https://jsonfeed.org/version/1.1#extensions",
                        "categories": categories, "tags": tags}
    return item


RENDERERS = {"rss": render_rss, "atom": render_atom, "json": render_json}


# --- the builder -----------------------------------------------------------------------------

class FeedBuilder:
    """Build every feed of a snapshot, reusing what has not changed since the last build."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.zone = settings.zone
        self.builds = 0   # feed documents (re)built since construction; tests count it
        self._authority = tag_authority(settings.url)
        self._language = _language(settings.lang)
        self._site_title = collapse(clean_text(settings.title)) or self._authority
        self._ids = IdRegistry(self._wanted_id)
        self._entries: dict[tuple[str, str], Entry] = {}   # (path, digest) -> entry
        self._feeds: dict[tuple[str, str], _Built] = {}
        self._duplicates: tuple[str, ...] = ()

    def build(self, snapshot: Snapshot) -> FeedSet:
        """Return every feed of *snapshot*; only feeds whose entries changed are rebuilt."""
        ids = self._unique_ids(snapshot.posts)
        limit = self.settings.feed_limit
        groups = [("all", "", snapshot.posts)]
        groups += [("category", name, posts) for name, posts in snapshot.categories.items()]
        groups += [("tag", name, posts) for name, posts in snapshot.tags.items()]
        entries_used: dict[tuple[str, str], Entry] = {}
        feeds: dict[tuple[str, str], _Built | None] = {}
        rendered: dict[tuple[str, str], _Rendered] = {}
        for kind, name, posts in groups:
            if not _valid_name(kind, name):
                continue
            keys = tuple((p.path, p.digest, ids[p.path]) for p in posts[:limit])
            for (path, digest, entry_id), post in zip(keys, posts):
                if (path, digest) not in entries_used:
                    entries_used[(path, digest)] = self._entry(post, entry_id, snapshot)
            old = self._feeds.get((kind, name))
            if old is not None and old.signature == keys:
                feeds[(kind, name)] = old
            else:
                feeds[(kind, name)] = None   # keeps the order; filled in below
                rendered[(kind, name)] = self._render(kind, name, keys, entries_used)
        # Compress and hash every rebuilt document in one batch (on all cores when big).
        items = [(body, fmt, r.updated) for r in rendered.values() for fmt, body in r.bodies]
        made = iter(make_documents(items))
        for key, r in rendered.items():
            documents = {fmt: next(made) for fmt, _ in r.bodies}
            self.builds += len(documents)
            feeds[key] = _Built(r.keys, types.MappingProxyType(documents), r.entries,
                                r.updated, r.title)
        built: dict[tuple[str, str], _Built] = feeds   # type: ignore[assignment]
        self._entries = entries_used     # drop entries no feed shows any more
        self._feeds = built
        return self._feed_set(built)

    def _wanted_id(self, post: Post) -> str:
        return raw_id(post, self.settings, self._authority)

    def _unique_ids(self, posts: Sequence[Post]) -> dict[str, str]:
        ids = self._ids.update(posts)
        duplicates = self._ids.duplicates
        if duplicates and duplicates != self._duplicates:
            log.warning("%d entry ids are used by more than one post (newer posts get #2, #3, "
                        "...; give each post its own front matter id): %s",
                        len(duplicates), ", ".join(duplicates))
        self._duplicates = duplicates
        return ids

    def _entry(self, post: Post, entry_id: str, snapshot: Snapshot) -> Entry:
        # Rendering depends only on the file (and settings), never on the id: a post
        # whose id moves (a clashing post came or went) is not rendered again.
        cached = self._entries.get((post.path, post.digest))
        if cached is not None:
            return cached if cached.id == entry_id else dataclasses.replace(cached, id=entry_id)
        try:
            body = snapshot.body_of(post)
        except KeyError:   # the store keeps the body of every post some feed shows
            log.warning("post %s: no body in the snapshot; content left out", post.path)
            body = ""
        return make_entry(post, body, entry_id, self.settings)

    def _render(self, kind: str, name: str, keys: tuple[tuple[str, str, str], ...],
                entries_by_version: Mapping[tuple[str, str], Entry]) -> _Rendered:
        """Render one feed's bytes in every format (documents are made in a batch)."""
        entries = tuple(entries_by_version[(path, digest)] for path, digest, _ in keys)
        meta = self._meta(kind, name)
        updated = feed_updated(entries)
        bodies = tuple((fmt, RENDERERS[fmt](meta, entries, self.zone)) for fmt in FORMATS)
        return _Rendered(keys, entries, updated, meta.title, bodies)

    def _meta(self, kind: str, name: str) -> FeedMeta:
        settings = self.settings
        if kind == "all":
            title, home = self._site_title, settings.site_url + "/"
        else:
            pattern = settings.category_url if kind == "category" else settings.tag_url
            title = f"{self._site_title} · {collapse(clean_text(name))}"
            home = settings.site_url + pattern.format(name=quote(name))
        return FeedMeta(
            kind=kind, name=name, title=title,
            subtitle=collapse(clean_text(settings.description)) or title,
            home=home, service_url=settings.service_url, language=self._language,
            author=collapse(clean_text(settings.author)) or self._site_title,
            category_scheme=settings.site_url + "/categories/",
            tag_scheme=settings.site_url + "/tags/",
        )

    def _feed_set(self, feeds: Mapping[tuple[str, str], _Built]) -> FeedSet:
        documents = {FeedKey(kind, name, fmt): built.documents[fmt]
                     for (kind, name), built in feeds.items() for fmt in FORMATS}
        return FeedSet(
            feeds=types.MappingProxyType(documents),
            entries=types.MappingProxyType({k: b.entries for k, b in feeds.items()}),
            updated=types.MappingProxyType({k: b.updated for k, b in feeds.items()}),
            titles=types.MappingProxyType({k: b.title for k, b in feeds.items()}),
            duplicate_ids=self._duplicates,
        )


def _valid_name(kind: str, name: str) -> bool:
    """Return whether a category or tag name can name a feed URL (it must be UTF-8)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:   # a lone surrogate, e.g. from a YAML "\\ud800" escape
        log.warning("%s %r has a lone surrogate, so no URL can name it: no feed for it",
                    kind, name)
        return False
    return True


def _language(lang: str) -> str:
    """Return the site language as an RFC 3066 tag (``zh_CN`` -> ``zh-CN``), or ''."""
    tag = lang.strip().replace("_", "-")
    if tag and not _LANGUAGE_TAG.match(tag):
        log.warning("lang %r is not a language tag such as zh-CN; feeds give no language", lang)
        return ""
    return tag
