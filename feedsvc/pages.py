"""The pages for people and the OPML list, rendered from a snapshot's feeds with Jinja2.

This module never imports Flask: the web layer and the static export serve the same
prepared documents. Every link is absolute, made from ``settings.service_url`` (never
from a request's Host), and every value is escaped by Jinja2's autoescaping. See
docs/service.md for what each page shows.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from functools import partial
from urllib.parse import quote

import jinja2
import markupsafe

from .config import Settings
from .feeds.content import clean_text
from .dates import format_rfc822, format_rfc3339
from .documents import Document, make_document
from .feeds import FeedKey, FeedSet
from .source import Snapshot
from .urls import FORMATS, INDEX_PATH, OPML_PATH, feed_path, page_path

FORMAT_LABELS = {"rss": "RSS 2.0", "atom": "Atom 1.0", "json": "JSON Feed 1.1"}
FORMAT_SHORT = {"rss": "RSS", "atom": "Atom", "json": "JSON"}
MEDIA_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml",
               "json": "application/feed+json"}
INDEX_ENTRIES = 10   # newest posts shown on the index page


def _printable(value: object) -> object:
    """Drop the characters XML 1.0 forbids from every printed value (docs/feeds.md).

    Names and the site's title reach the pages as written; a NUL or a lone surrogate in
    them would make a bad page, or one that cannot be encoded and fails the reload.
    """
    if isinstance(value, markupsafe.Markup):
        return markupsafe.Markup(clean_text(value))
    return clean_text(value) if isinstance(value, str) else value


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("feedsvc", "templates"),
    autoescape=True,          # every template is HTML or XML
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_printable,
)


@dataclasses.dataclass(frozen=True)
class FormatLink:
    """One format of one feed, as a subscribe link."""

    fmt: str
    url: str
    label: str
    short: str
    mime: str
    title: str


@dataclasses.dataclass(frozen=True)
class FeedView:
    """One feed as the pages show it."""

    kind: str
    name: str
    title: str
    count: int
    page_url: str
    site_page: str
    formats: tuple[FormatLink, ...]
    older: tuple[FormatLink, ...] = ()   # the newest RFC 5005 archive page, when there is one

    @property
    def xml_url(self) -> str:
        """Return the RSS URL: the one OPML lists, as ``type="rss"`` (OPML 2.0)."""
        return self.formats[0].url

    @property
    def html_url(self) -> str:
        """Return the page a reader links the feed to: the site's own page of it."""
        return self.site_page or self.page_url


@dataclasses.dataclass(frozen=True)
class Stamp:
    """An instant shown on a page: machine-readable and for people."""

    iso: str
    shown: str


@dataclasses.dataclass(frozen=True)
class EntryView:
    """One entry as the pages show it: dates in the site's zone."""

    title: str
    link: str
    author: str
    summary: str
    published: Stamp


class PageBuilder:
    """Render the pages of each snapshot, reusing every page whose inputs did not change."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._made: dict[str, tuple[Hashable, Document]] = {}
        self.rendered = 0   # pages rendered since start; tests read it

    def build(self, snapshot: Snapshot, feeds: FeedSet) -> dict[str, Document]:
        """Return every page and the OPML, keyed by decoded path."""
        settings, views = self.settings, feed_views(self.settings, snapshot, feeds)
        everything = views[("all", "")]
        # path -> (everything the page shows, how to render it)
        jobs: dict[str, tuple[Hashable, Callable[[], Document]]] = {
            INDEX_PATH: ((tuple(views.values()), _etags(feeds, "all", "")),
                         partial(render_index, settings, feeds, views)),
            OPML_PATH: ((_titles(views), _updated(feeds, "all", "")),
                        partial(render_opml, settings, feeds, views)),
        }
        for (kind, name), view in views.items():
            if kind != "all":
                jobs[page_path(kind, name, encoded=False)] = (
                    (view, _etags(feeds, kind, name)),
                    partial(render_feed_page, settings, feeds, view, everything))
        made: dict[str, tuple[Hashable, Document]] = {}
        for path, (inputs, render) in jobs.items():
            old = self._made.get(path)
            if old is None or old[0] != inputs:
                old = (inputs, render())
                self.rendered += 1
            made[path] = old
        self._made = made
        return {path: document for path, (_, document) in made.items()}


# --- views ---------------------------------------------------------------------------------

def feed_views(settings: Settings, snapshot: Snapshot, feeds: FeedSet
               ) -> dict[tuple[str, str], FeedView]:
    """Return the view of the global feed, then of each category and tag, in name order."""
    views = {("all", ""): _view(settings, feeds, "all", "", len(snapshot.posts))}
    for kind, groups in (("category", snapshot.categories), ("tag", snapshot.tags)):
        for name, posts in groups.items():
            if (kind, name) in feeds.entries:   # a name no URL can hold has no feed (feeds.py)
                views[(kind, name)] = _view(settings, feeds, kind, name, len(posts))
    return views


def _view(settings: Settings, feeds: FeedSet, kind: str, name: str, count: int) -> FeedView:
    base = settings.service_url
    title = feeds.titles.get((kind, name)) or settings.title or name
    formats = tuple(
        FormatLink(fmt, base + feed_path(kind, name, fmt), FORMAT_LABELS[fmt],
                   FORMAT_SHORT[fmt], MEDIA_TYPES[fmt], f"{title} ({FORMAT_LABELS[fmt]})")
        for fmt in FORMATS)
    archive = feeds.archives.get((kind, name))
    newest = archive.newest(base) if archive is not None else ""
    older = tuple(
        FormatLink(fmt, f"{newest}.{fmt}", FORMAT_LABELS[fmt], FORMAT_SHORT[fmt],
                   MEDIA_TYPES[fmt], f"{title}: older posts ({FORMAT_LABELS[fmt]})")
        for fmt in FORMATS) if newest else ()
    return FeedView(kind=kind, name=name, title=title, count=count,
                    page_url=base + page_path(kind, name),
                    site_page=site_page(settings, kind, name),
                    formats=formats, older=older)


def site_page(settings: Settings, kind: str, name: str) -> str:
    """Return the site's own page of a category or tag (``category_url``/``tag_url``)."""
    if kind == "all":
        return settings.site_url + "/"
    pattern = settings.category_url if kind == "category" else settings.tag_url
    return settings.site_url + pattern.format(name=quote(name))   # as the feeds' own link


def entry_views(settings: Settings, feeds: FeedSet, kind: str, name: str,
                limit: int | None = None) -> tuple[EntryView, ...]:
    """Return the newest entries of one feed, dated in the site's zone."""
    entries = feeds.entries.get((kind, name), ())
    if limit is not None:
        entries = entries[:limit]
    return tuple(EntryView(entry.title or entry.link, entry.link, entry.author, entry.teaser,
                           stamp(settings, entry.published))
                 for entry in entries)


def stamp(settings: Settings, value: dt.datetime) -> Stamp:
    """Return *value* in the site's zone: RFC 3339 and ``YYYY-MM-DD HH:MM``."""
    local = value.astimezone(settings.zone)
    return Stamp(iso=format_rfc3339(value, settings.zone), shown=f"{local:%Y-%m-%d %H:%M}")


def _etags(feeds: FeedSet, kind: str, name: str) -> tuple[str | None, ...]:
    """Return the ETags of a feed's formats: they change whenever its entries do."""
    documents = (feeds.feeds.get(FeedKey(kind, name, fmt)) for fmt in FORMATS)
    return tuple(None if document is None else document.etag for document in documents)


def _titles(views: Mapping[tuple[str, str], FeedView]) -> Hashable:
    return tuple((view.kind, view.name, view.title) for view in views.values())


# --- rendering -----------------------------------------------------------------------------

def _common(settings: Settings, alternates: tuple[FormatLink, ...], canonical: str) -> dict:
    base = settings.service_url
    return {
        "lang": settings.lang or "en",
        "site_title": settings.title or settings.site_url,
        "site_url": settings.site_url,
        "index_url": base + INDEX_PATH,
        "opml_url": base + OPML_PATH,
        "alternates": alternates,
        "canonical": canonical,
    }


def _updated(feeds: FeedSet, kind: str, name: str) -> dt.datetime | None:
    return feeds.updated.get((kind, name))


def render_index(settings: Settings, feeds: FeedSet,
                 views: Mapping[tuple[str, str], FeedView]) -> Document:
    """Return the index page: the site, every category and tag, the newest posts."""
    everything = views[("all", "")]
    html = _ENV.get_template("index.html").render(
        **_common(settings, everything.formats, everything.page_url),
        description=settings.description,
        all=everything,
        categories=[v for v in views.values() if v.kind == "category"],
        tags=[v for v in views.values() if v.kind == "tag"],
        entries=entry_views(settings, feeds, "all", "", INDEX_ENTRIES),
    )
    return make_document(html.encode("utf-8"), "html", _updated(feeds, "all", ""))


def render_feed_page(settings: Settings, feeds: FeedSet, view: FeedView,
                     everything: FeedView) -> Document:
    """Return the page of one category or tag feed."""
    updated = _updated(feeds, view.kind, view.name)
    html = _ENV.get_template("feed.html").render(
        **_common(settings, view.formats + everything.formats, view.page_url),
        feed=view,
        updated=None if updated is None else stamp(settings, updated),
        entries=entry_views(settings, feeds, view.kind, view.name),
    )
    return make_document(html.encode("utf-8"), "html", updated)


def render_opml(settings: Settings, feeds: FeedSet,
                views: Mapping[tuple[str, str], FeedView]) -> Document:
    """Return the OPML 2.0 subscription list of every feed."""
    clean = {key: dataclasses.replace(view, title=clean_text(view.title))
             for key, view in views.items()}
    updated = _updated(feeds, "all", "")
    xml = _ENV.get_template("feeds.opml").render(
        site_title=clean_text(settings.title or settings.site_url),
        updated=None if updated is None else format_rfc822(updated, settings.zone),
        all=clean[("all", "")],
        groups=[("Categories", [v for v in clean.values() if v.kind == "category"]),
                ("Tags", [v for v in clean.values() if v.kind == "tag"])],
    )
    return make_document(xml.encode("utf-8"), "opml", updated)
