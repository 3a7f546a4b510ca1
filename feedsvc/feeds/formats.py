"""The format layer: write one feed as RSS 2.0, Atom 1.0 or JSON Feed 1.1.

The writers take plain values, a :class:`FeedMeta` and :class:`Entry` records, and know
nothing of the store, the builder or the web (as Django's ``utils/feedgenerator.py``). This
is the only module that imports feedgen. feedgen 1.0.0 (see setup.cfg) is used for the RSS
and Atom skeleton and corrected where it is wrong for us (see docs/feeds.md):

- it fills ``lastBuildDate``/``updated`` with now(): the newest entry's instant is written
  instead, so identical input gives identical bytes;
- its RFC 822 formatter calls ``locale.setlocale`` without a lock (not thread-safe): it is
  never handed an RSS date; RSS dates are written with :func:`dates.format_rfc822`;
- it drops the attributes of Atom entry links (feedgen #135): they are set afterwards;
- it adds ``<generator>``/``<docs>`` and prepends entries: both are turned off.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re
from collections.abc import Sequence
from urllib.parse import quote

from feedgen.feed import FeedGenerator
from lxml import etree

from ..dates import UTC, format_rfc822, format_rfc3339
from ..documents import CONTENT_TYPES
from ..urls import FORMATS, feed_path
from .content import clean_text

ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"   # RFC 5005 §6
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
# Atom requires feed <updated>; an empty feed (only the global feed of an empty store)
# says 1970-01-01T00:00:00Z rather than the build time, which would change its bytes.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MEDIA_TYPES = {fmt: CONTENT_TYPES[fmt].split(";")[0] for fmt in FORMATS}
_PATH_SAFE = "/:@!$&'()*+,;=~-._"
# An end tag of an HTML element in the text of an RSS <category> or <dc:creator> makes the
# W3C feedvalidator warn "... should not contain HTML" (its `nonhtml` rule: ContainsHTML).
_END_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)\b[^<>]*>")
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Summaries and bodies, most of a feed's bytes, are handed to feedgen as this placeholder
# and written into the reparsed tree: feedgen serialises what it is given and the tree is
# parsed again, two passes over every body that the final tree does not need.
_LATER = "-"
_CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One post as every feed format shows it; text fields hold only XML 1.0 characters."""

    id: str
    title: str
    link: str                      # absolute URL of the post
    published: dt.datetime
    updated: dt.datetime
    summary: str                   # plain text: jekyll-feed's whole summary (Atom)
    teaser: str                    # the summary shortened to summary_length (RSS, JSON)
    content_html: str              # sanitised HTML; "" when the post is excerpt-only
    categories: tuple[str, ...]    # exactly as in front matter (they name feeds)
    tags: tuple[str, ...]
    author: str                    # the post's author, else the site's, else ""
    author_email: str
    author_uri: str
    lang: str                      # the post's own language (entry xml:lang), or ""
    image: str                     # absolute URL, or ""
    path: str                      # the post's file, relative to the site root


@dataclasses.dataclass(frozen=True, slots=True)
class History:
    """The RFC 5005 links of one document; each URL is given without its ``.<format>``.

    The current document links only ``prev-archive`` (when there are archives); an archive
    document (``archived``) also says ``<fh:archive/>``, links ``current``, names its own URL
    and links ``next-archive``.
    """

    archived: bool = False
    this: str = ""            # an archive document's own URL
    prev_archive: str = ""    # the next older archive document, "" for none
    next_archive: str = ""    # the next newer one, "" for none


NO_HISTORY = History()


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
    hubs: tuple[str, ...] = ()         # WebSub hubs (current documents only)
    history: History = NO_HISTORY
    # A document at one of jekyll-feed's paths names itself: its path (rel="self"), and
    # jekyll-feed's <id> for it, the site URL + that path.
    jekyll_path: str = ""
    jekyll_id: str = ""

    def self_url(self, fmt: str) -> str:
        """Return the public URL of this feed in *fmt* (its current document)."""
        if self.jekyll_path:
            return self.service_url + quote(self.jekyll_path, safe=_PATH_SAFE)
        return self.service_url + feed_path(self.kind, self.name, fmt)

    def feed_id(self) -> str:
        """Return the feed's Atom <id>."""
        return self.jekyll_id or self.self_url("atom")

    def document_url(self, fmt: str) -> str:
        """Return the URL of this very document in *fmt*: an archive page's own, else the feed's."""
        return f"{self.history.this}.{fmt}" if self.history.archived else self.self_url(fmt)

    def links(self, fmt: str) -> list[tuple[str, str]]:
        """Return (rel, href) of the links that follow rel="self": hubs, then RFC 5005's."""
        links = [("hub", hub) for hub in self.hubs]
        history = self.history
        if history.archived:
            links.append(("current", self.self_url(fmt)))
        for rel, stem in (("prev-archive", history.prev_archive),
                          ("next-archive", history.next_archive)):
            if stem:
                links.append((rel, f"{stem}.{fmt}"))
        return links


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
    generator.id(meta.feed_id())
    generator.subtitle(meta.subtitle)   # also RSS <description>, which must not be empty
    generator.link(href=meta.document_url(fmt), rel="self", type=_MEDIA_TYPES[fmt])
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
        if entry.title:
            item.title(entry.title)
        item.link(href=entry.link, rel="alternate")
        item.guid(entry.id, permalink=False)
        if entry.teaser:   # RSS <description> is HTML: the plain summary is escaped once more
            item.description(html.escape(entry.teaser, quote=False))
        if entry.content_html:
            item.content(_LATER)   # content:encoded, written after the reparse
        elif not entry.title and not entry.teaser:
            item.description(html.escape(entry.link, quote=False))   # RSS: title or description
        for name, domain in _labels(entry):
            term = rss_text(clean_text(name))
            if term:
                item.category(term=term, scheme=domain)   # scheme -> RSS domain
        if rss_text(entry.author):
            item.dc.dc_creator(rss_text(entry.author))
        if entry.image:
            item.media.thumbnail(url=entry.image, group=None)
    root = _reparse(generator.rss_str())
    _date_rss(root, entries, zone)
    _link(root.find("channel"), meta, "rss")
    return _serialise(root)


def rss_text(text: str) -> str:
    """Return *text* for an RSS element the W3C feedvalidator wants free of HTML: markup
    tags dropped (``<b>x</b>`` reads ``x``), white space collapsed."""
    if "<" not in text:
        return text
    return " ".join(_END_TAG.sub("", text).split())


def _labels(entry: Entry) -> list[tuple[str, str]]:
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
        if entry.content_html:   # feedgen puts content in <description> when it has none
            target = item.find(_CONTENT_ENCODED)
            (item.find("description") if target is None else target).text = entry.content_html


# --- Atom 1.0 --------------------------------------------------------------------------------

def render_atom(meta: FeedMeta, entries: Sequence[Entry], zone: dt.tzinfo,
                updated: dt.datetime | None = None) -> bytes:
    """Return the Atom 1.0 document of a feed (*updated*: the feed's, if not its entries')."""
    updated = updated or feed_updated(entries) or EPOCH
    generator = _generator(meta, "atom")
    generator.load_extension("media", atom=True, rss=False)
    generator.author({"name": meta.author})
    generator.updated(updated)
    for entry in entries:
        item = generator.add_entry()
        item.id(entry.id)
        item.title(entry.title or " ")   # feedgen requires one; an empty one is written below
        item.updated(entry.updated)
        item.published(entry.published)
        item.link(href=entry.link, rel="alternate", type="text/html")
        if entry.author:
            author = {"name": entry.author}
            if entry.author_email:
                author["email"] = entry.author_email
            if entry.author_uri:
                author["uri"] = entry.author_uri
            item.author(author)
        if entry.summary:
            item.summary(_LATER)   # the texts are written after the reparse
        if entry.content_html:
            item.content(_LATER, type="html")
        for name, kind in _labels(entry):
            scheme = meta.category_scheme if kind == "category" else meta.tag_scheme
            item.category(term=clean_text(name), scheme=scheme)
        if entry.image:
            item.media.thumbnail(url=entry.image, group=None)
    root = _reparse(generator.atom_str())
    _fix_atom(root, entries, zone, updated)
    _link(root, meta, "atom")
    return _serialise(root)


def reheaded_atom(document: bytes, meta: FeedMeta, updated: dt.datetime | None,
                  zone: dt.tzinfo) -> bytes:
    """Return the Atom *document* with the feed-level elements of *meta* instead of its own.

    The documents at jekyll-feed's paths carry the entries of feedsvc's own Atom feeds:
    splicing those entries under a new head costs a fraction of rendering them again.
    """
    head = render_atom(meta, (), zone, updated=updated)
    start = document.find(b"<entry>")
    if start < 0:
        return head
    start = document.rfind(b"\n", 0, start) + 1
    return head[:head.rindex(b"</feed>")] + document[start:]


def _fix_atom(root: etree._Element, entries: Sequence[Entry], zone: dt.tzinfo,
              updated: dt.datetime) -> None:
    """Restore entry link attributes (feedgen #135) and write every date in the site zone."""
    atom = f"{{{ATOM_NS}}}"
    root.find(atom + "updated").text = format_rfc3339(updated, zone)
    elements = root.findall(atom + "entry")
    for element, entry in zip(elements, entries, strict=True):
        link = element.find(atom + "link")
        link.set("rel", "alternate")
        link.set("type", "text/html")
        element.find(atom + "updated").text = format_rfc3339(entry.updated, zone)
        element.find(atom + "published").text = format_rfc3339(entry.published, zone)
        if entry.summary:
            element.find(atom + "summary").text = entry.summary
        if entry.content_html:
            element.find(atom + "content").text = entry.content_html
        if not entry.title:   # jekyll-feed writes an empty title for `title: ""`
            element.find(atom + "title").text = ""
        if entry.lang:
            element.set(XML_LANG, entry.lang)


def _link(head: etree._Element, meta: FeedMeta, fmt: str) -> None:
    """Put the hub and RFC 5005 links after rel="self", and ``<fh:archive/>`` in an archive.

    WebSub §4 (rel="hub" beside rel="self"); RFC 5005 §4 (``fh:archive`` in the head of an
    archive document, its prev-archive, next-archive and current links). RSS carries them as
    ``atom:link``, as it carries rel="self". Nothing is added to a document with neither, so
    its bytes stay as they were.
    """
    links = meta.links(fmt)
    if not links and not meta.history.archived:
        return
    tag = f"{{{ATOM_NS}}}link"
    anchor = next(link for link in head.iterchildren(tag) if link.get("rel") == "self")
    position = head.index(anchor)
    for offset, (rel, href) in enumerate(links, start=1):
        element = etree.Element(tag, href=href, rel=rel)
        if rel != "hub":
            element.set("type", _MEDIA_TYPES[fmt])
        head.insert(position + offset, element)
    if meta.history.archived:
        head.insert(position + len(links) + 1, etree.Element(f"{{{HISTORY_NS}}}archive"))
        etree.cleanup_namespaces(head.getroottree().getroot(), top_nsmap={"fh": HISTORY_NS})


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
    history = meta.history
    if history.prev_archive:   # JSON Feed 1.1 pages to older items with next_url
        feed["next_url"] = f"{history.prev_archive}.json"
    if meta.language:
        feed["language"] = meta.language
    feed["authors"] = [{"name": meta.author}]
    if meta.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in meta.hubs]
    if history.archived:   # RFC 5005's links, in a JSON Feed extension object
        feed["_feedsvc"] = {"about": "https://jsonfeed.org/version/1.1#extensions",
                            "archive": True, "self": meta.document_url("json"),
                            "current": meta.self_url("json"),
                            **{rel.replace("-", "_"): href
                               for rel, href in meta.links("json") if rel != "current"}}
    feed["items"] = [_json_item(entry, zone) for entry in entries]
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _json_item(entry: Entry, zone: dt.tzinfo) -> dict[str, object]:
    item: dict[str, object] = {"id": entry.id, "url": entry.link, "title": entry.title}
    if entry.content_html:
        item["content_html"] = entry.content_html
    else:   # JSON Feed 1.1: an item has content_html or content_text
        item["content_text"] = entry.summary
    item["summary"] = entry.teaser
    if entry.image:
        item["image"] = entry.image
    item["date_published"] = format_rfc3339(entry.published, zone)
    item["date_modified"] = format_rfc3339(entry.updated, zone)
    if entry.author:
        item["authors"] = [{"name": entry.author, **({"url": entry.author_uri}
                                                     if entry.author_uri else {})}]
    if entry.lang:
        item["language"] = entry.lang
    categories = [clean_text(name) for name in entry.categories]
    tags = [clean_text(name) for name in entry.tags]
    item["tags"] = list(dict.fromkeys(categories + tags))
    item["_feedsvc"] = {"about": "https://jsonfeed.org/version/1.1#extensions",
                        "categories": categories, "tags": tags}
    return item


RENDERERS = {"rss": render_rss, "atom": render_atom, "json": render_json}

