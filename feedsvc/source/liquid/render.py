"""Render a post's Liquid with Jekyll's payload (``site``, ``page``) and tags.

:class:`LiquidRenderer` is made once per store; :class:`SiteView` is its view of one snapshot
(the other posts, for ``site.posts``, ``link`` and ``post_url``), built lazily and reused
until the snapshot changes; :class:`RenderRun` is one post's render (Liquid's ``registers``).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from io import StringIO
from typing import Any

from liquid.exceptions import LiquidError
from liquid.template import BoundTemplate
from liquid.token import Token

from ...dates import load_zone
from ..model import Post
from .drops import PostDrop, PostWorld, RubyTime, rubify
from .engine import JekyllContext, LiquidSyntax, line_of, locate_include, parse
from .filters import markdownify, site_relative_url
from .options import LiquidNote, LiquidOptions, SiteFacts, site_facts
from .sitefiles import load_data, page_url, site_file
from .tags import RenderFailure

log = logging.getLogger(__name__)

# What a render may raise besides Liquid's own errors: filters work on any value.
RENDER_ERRORS = (LiquidError, ValueError, TypeError, ArithmeticError, KeyError, IndexError,
                 AttributeError, RecursionError, OSError)

SourceReader = Callable[[Post], "tuple[Mapping[str, Any], str] | None"]


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A body's Liquid, rendered: the text (None when rendering failed) and what to report."""

    text: str | None
    notes: tuple[LiquidNote, ...]


class LiquidRenderer:
    """Render posts' Liquid for one site, the way Jekyll's Renderer#render_liquid does."""

    def __init__(self, options: LiquidOptions, read_source: SourceReader) -> None:
        self.options = options
        self.read_source = read_source   # (front matter, raw body) of another post's file
        self.zone = load_zone(options.timezone)
        self.values = rubify(dict(options.values))
        self._view: SiteView | None = None

    def view(self, posts: tuple[Post, ...], now: dt.datetime) -> SiteView:
        """Return the view of these posts (the same one while the snapshot stands)."""
        view = self._view
        if view is None or view.posts is not posts:
            view = self._view = SiteView(self, posts, now, site_facts(self.options.root))
        return view

    def render(self, post: Post, front: Mapping[str, Any], body: str, first_line: int,
               posts: tuple[Post, ...], now: dt.datetime) -> Rendered:
        """Return *body* (of *post*, starting on file line *first_line*) rendered."""
        run = RenderRun(self.view(posts, now), post, body, first_line)
        page = PostDrop(post, run.view, rubify(dict(front)), body)
        text = run.render(body, page)
        return Rendered(text, tuple(run.notes))


class SiteView(PostWorld):
    """The site as templates see it while one snapshot stands."""

    def __init__(self, renderer: LiquidRenderer, posts: tuple[Post, ...], now: dt.datetime,
                 facts: SiteFacts) -> None:
        self.renderer, self.posts, self.facts = renderer, posts, facts
        self.options = renderer.options
        self.zone = renderer.zone
        self.now = RubyTime.of(now.astimezone(self.zone))
        self._index = {post.path: i for i, post in enumerate(posts)}
        self._sources: dict[str, tuple[Mapping[str, Any], str]] = {}
        self._drops: list[PostDrop] | None = None
        self._excerpts: dict[str, str] = {}
        self._partials: dict[str, BoundTemplate] = {}
        self._site: dict[str, Any] | None = None
        self._by_name: dict[str, list[Post]] | None = None

    # --- the payload ---------------------------------------------------------------------------
    @property
    def site(self) -> Mapping[str, Any]:
        """Return ``site``: the config, time, posts, categories, tags and data."""
        if self._site is None:
            self._site = _LazySite(self)
        return self._site

    def drops(self) -> list[PostDrop]:
        """Return a drop of every post, newest first (site.posts)."""
        if self._drops is None:
            self._drops = [PostDrop(post, self) for post in self.posts]
        return self._drops

    def grouped(self, names: Callable[[Post], Sequence[str]]) -> dict[str, list[PostDrop]]:
        groups: dict[str, list[PostDrop]] = {}
        for drop in self.drops():
            for name in names(drop.post):
                groups.setdefault(name, []).append(drop)
        return groups

    # --- PostWorld: what a drop asks of the other posts ----------------------------------------
    def _source(self, post: Post) -> tuple[Mapping[str, Any], str]:
        found = self._sources.get(post.path)
        if found is None:
            read = self.renderer.read_source(post)
            found = (rubify(dict(read[0])), read[1]) if read is not None else ({}, "")
            self._sources[post.path] = found
        return found

    def front_of(self, post: Post) -> Mapping[str, Any]:
        return self._source(post)[0]

    def content_of(self, post: Post) -> str:
        return self._source(post)[1]

    def date_of(self, post: Post) -> RubyTime:
        return RubyTime.of(post.date.astimezone(self.zone))   # Jekyll's Time#localtime

    def neighbour(self, post: Post, step: int) -> PostDrop | None:
        index = self._index.get(post.path)
        if index is None or not 0 <= index + step < len(self.posts):
            return None
        return self.drops()[index + step]

    def excerpt_of(self, drop: PostDrop) -> str:
        """Return the post's excerpt: its front-matter excerpt, else the text before the
        excerpt separator, its Liquid rendered and its Markdown converted (Jekyll's Excerpt)."""
        front = drop.front
        if "excerpt" in front:
            value = front["excerpt"]
            return "" if value is None else str(value)
        path = drop.post.path
        if path in self._excerpts:
            return self._excerpts[path]
        self._excerpts[path] = ""   # asked again while rendering itself: empty, as no loop
        separator = str(front.get("excerpt_separator") or self.options.values.get(
            "excerpt_separator") or "\n\n")
        head = extract_excerpt(drop.content_text(), separator)
        run = RenderRun(self, drop.post, head, 1, report=False)
        text = run.render(head, drop) if "{{" in head or "{%" in head else head
        text = text or ""
        if drop.post.markdown:
            text = markdownify(text)
        self._excerpts[path] = text
        return text

    # --- what tags ask ----------------------------------------------------------------------------
    def partial(self, real: str, label: str, run: RenderRun) -> BoundTemplate:
        """Return the parsed include at *real* (parsed once per snapshot)."""
        template = self._partials.get(real)
        if template is None:
            try:
                with open(real, encoding="utf-8", errors="replace") as handle:
                    source = handle.read()
                template, warnings = parse(source, self.facts)
            except LiquidSyntax as exc:
                raise RenderFailure(f"in included file {label}: {exc.reason}", token=None) from None
            except OSError as exc:
                raise RenderFailure(f"cannot read included file {label}: {exc.strerror}",
                                    token=None) from None
            for line, message in warnings:
                run.note(None, "warning", f"{message} (in included file {label}"
                         + (f", line {line})" if line else ")"))
            self._partials[real] = template
        return template

    def named(self, stem: str) -> list[Post]:
        """Return the posts whose file is named *stem* plus an extension (for post_url)."""
        if self._by_name is None:
            self._by_name = {}
            for post in self.posts:
                name = post.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
                self._by_name.setdefault(name, []).append(post)
        return self._by_name.get(stem, [])

    def post_by_path(self, path: str) -> Post | None:
        index = self._index.get(path)
        return None if index is None else self.posts[index]

    def relative_url(self, url: str) -> str:
        return site_relative_url(url, str(self.options.baseurl or ""))


class _LazySite(dict):
    """``site``: config values at once; posts, categories, tags, data when first asked."""

    _LAZY: dict[str, Callable[[SiteView], Any]] = {
        "time": lambda v: v.now,
        "posts": lambda v: v.drops(),
        "documents": lambda v: v.drops(),
        "related_posts": lambda v: v.drops()[:10],
        "categories": lambda v: v.grouped(lambda p: p.categories),
        "tags": lambda v: v.grouped(lambda p: p.tags),
        "data": lambda v: rubify(load_data(v.facts.root, v.options.values)),
        "pages": lambda v: [], "static_files": lambda v: [], "html_pages": lambda v: [],
        "collections": lambda v: [{"label": "posts", "docs": v.drops(), "output": True,
                                   "relative_directory": "_posts", "directory": "_posts"}],
    }

    def __init__(self, view: SiteView) -> None:
        super().__init__(view.renderer.values)
        self._view = view

    def __missing__(self, key: str) -> Any:
        maker = self._LAZY.get(key)
        if maker is None:
            raise KeyError(key)
        value = self[key] = maker(self._view)
        return value

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or key in self._LAZY


def extract_excerpt(content: str, separator: str) -> str:
    """Return Jekyll's excerpt source (Excerpt#extract_excerpt): the text before the
    separator, with the end tags of Liquid blocks it leaves open appended."""
    head, found, tail = content.partition(separator)
    if not found or not tail:
        return head
    if "{%" in head:
        for name in reversed(re.findall(r"{%-?\s*(\w+)\s*.*?-?%}", head, re.S)):
            if name in ("if", "unless", "case", "for", "tablerow", "capture", "comment", "raw",
                        "highlight", "ifchanged") and not re.search(
                        r"{%-?\s*end" + name + r".*?-?%}", head, re.S):
                head += "\n{% end" + name + " %}"
    definitions = re.findall(r"^ {0,3}\[[^\]]+\]:.+$", tail, re.M)
    return head + "\n\n" + "\n".join(definitions) if definitions else head


class RenderRun:
    """One render of one post: Liquid's ``registers`` (what tags and filters read)."""

    def __init__(self, view: SiteView, post: Post, body: str, first_line: int,
                 report: bool = True) -> None:
        self.view, self.post, self.body, self.first_line = view, post, body, first_line
        self.options = view.options
        self.zone = view.zone
        self.report = report
        self.notes: list[LiquidNote] = []

    def render(self, source: str, page: PostDrop) -> str | None:
        """Return *source* rendered with *page* as ``page``; None (and a note) on error."""
        try:
            template, warnings = parse(source, self.view.facts, self.first_line)
        except LiquidSyntax as exc:
            self.note(exc.line, "error", exc.reason)
            return None
        for line, message in warnings:
            self.note(line, "warning", message)
        context = JekyllContext(template, globals={
            "site": self.view.site, "page": page, "jekyll": {"version": "4.3.1",
                                                             "environment": "development"},
            "layout": None, "content": None, "paginator": None})
        context.registers = self
        out = StringIO()
        try:
            template.render_with_context(context, out)
        except RENDER_ERRORS as exc:
            token = getattr(exc, "token", None)
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.note(self._line(token), "error", f"Liquid error: {message}")
            return None
        return out.getvalue()

    def _line(self, token: Token | None) -> int | None:
        if token is None or token.start_index < 0 or token.source is not self.body:
            return None
        return line_of(token, self.body, self.first_line)

    def note(self, line: int | None, kind: str, message: str) -> None:
        if self.report and not any(n.line == line and n.message == message for n in self.notes):
            self.notes.append(LiquidNote(self.post.path, line, kind, message))

    # --- tags -----------------------------------------------------------------------------------
    def include(self, name: str, *, relative: bool, token: Token) -> BoundTemplate:
        facts = self.view.facts
        if relative:
            beside = os.path.join(os.path.dirname(self.post.path), name)
            real, reason = site_file(facts.root, beside)
        else:
            real, reason = locate_include(facts, name)
        if real is None:
            raise RenderFailure(reason or f"cannot include {name!r}", token=token)
        return self.view.partial(real, name, self)

    def link(self, path: str, token: Token) -> str:
        post = self.view.post_by_path(path)
        if post is not None:
            return self.view.relative_url(post.url)
        url = page_url(self.view.facts.root, path, self.options.values)
        if url is None:
            raise RenderFailure(f"Could not find document '{path}' in tag 'link'. Make sure "
                                "the document exists and the path is correct.", token=token)
        return self.view.relative_url(url)

    def post_url(self, node: Any, token: Token) -> str:
        folder = re.escape(node.folder)
        base = node.date + "-" + re.escape(node.slug) + r"\.[^.]+"
        pattern = re.compile(rf"_posts/{folder}{base}|{folder}_posts/?{base}")
        for post in self.view.named(f"{node.date}-{node.slug}"):
            if pattern.match(post.path):
                return self.view.relative_url(post.url)
        for post in self.view.posts:   # Jekyll's deprecated matching: slug and day
            day = post.date.astimezone(self.zone).date()
            if str(post.slug) == node.slug and f"{day:%Y-%m-%d}" == _day(node.date):
                self.note(self._line(token), "warning", f"post_url {node.name}: matched "
                          f"{post.path} only by its slug and date; name the post exactly")
                return self.view.relative_url(post.url)
        raise RenderFailure(f'Could not find post "{node.name}" in tag \'post_url\'. Make sure '
                            "the post exists and the name is correct.", token=token)

    def plugin_used(self, tag: str, block: bool, token: Token) -> None:
        source = self.view.facts.plugin_sources.get(tag, "_plugins/")
        shown = "its body as it is" if block else "nothing"
        self.note(self._line(token), "plugin",
                  f"tag '{tag}' comes from the Ruby plugin {source}, which feedsvc cannot run; "
                  f"rendered {shown}")


def _day(text: str) -> str:
    try:
        year, month, day = (int(part) for part in text.split("-"))
        return f"{dt.date(year, month, day):%Y-%m-%d}"
    except ValueError:
        return ""
