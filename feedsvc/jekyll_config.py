"""What a Jekyll site's own ``_config.yml`` and ``_data/`` say beyond feedsvc's settings.

The settings table (:mod:`feedsvc.config`) takes the site metadata it shares with Jekyll
(``url``, ``title``, ``timezone``...). The keys here belong to Jekyll and jekyll-feed alone
and are never set from a feedsvc config file or the environment: how posts are read
(``markdown_ext``, ``excerpt_separator``, ``defaults``), whose names authors have
(``_data/authors.yml``, the site ``author`` hash) and which feeds jekyll-feed writes at its
own paths (the ``feed:`` block). Every value is a string or a tuple, so the record is
hashable and its fields can be part of the parse cache's key.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

# Jekyll's Configuration::DEFAULTS["markdown_ext"] (jekyll/configuration.rb).
DEFAULT_MARKDOWN_EXT = ("markdown", "mkdown", "mkdn", "mkd", "md")
# Document#excerpt_separator: the post's, else the site's, else this (configuration.rb).
DEFAULT_EXCERPT_SEPARATOR = "\n\n"


@dataclasses.dataclass(frozen=True)
class JekyllConfig:
    """The Jekyll-only keys of one site, read once at start-up."""

    markdown_ext: tuple[str, ...] = DEFAULT_MARKDOWN_EXT   # lower case, no dot
    excerpt_separator: str = DEFAULT_EXCERPT_SEPARATOR
    defaults_json: str = "[]"       # front-matter defaults: [[path, type, values], ...]
    authors_json: str = "{}"        # _data/authors.yml: key -> {name, email, uri} or a name
    name: str = ""                  # site.name: jekyll-feed's title when there is no title
    author_name: str = ""           # site.author (string, or its name)
    author_email: str = ""
    author_uri: str = ""
    feed_path: str = "/feed.xml"    # jekyll-feed: feed.path
    feed_categories: tuple[str, ...] = ()
    feed_tags: bool = False         # feed.tags set at all
    feed_tags_only: tuple[str, ...] | None = None
    feed_tags_except: tuple[str, ...] = ()
    feed_tags_path: str = "/feed/by_tag/"
    posts_limit: int | None = None  # feed.posts_limit
    excerpt_only: bool | None = None  # feed.excerpt_only
    exclude: tuple[str, ...] = ()   # exclude: paths under the site root the walk skips

    def defaults_for(self, rel: str) -> dict[str, Any]:
        """Return the front-matter defaults that apply to the post at *rel*.

        Jekyll's ``FrontmatterDefaults#all`` (jekyll/frontmatter_defaults.rb): every entry
        whose scope path contains the post and whose type is ``posts`` (or none), the more
        specific scope winning over the less specific.
        """
        merged: dict[str, Any] = {}
        for path, _type, values in _load_defaults(self.defaults_json):
            if not path or rel == path or rel.startswith(path.rstrip("/") + "/"):
                merged.update(values)
        return merged

    def author_entry(self, key: str) -> Any:
        """Return ``site.data.authors[key]``, or None."""
        return _load_authors(self.authors_json).get(key)


_defaults_cache: dict[str, list] = {}
_authors_cache: dict[str, dict] = {}


def _load_defaults(text: str) -> list:
    loaded = _defaults_cache.get(text)
    if loaded is None:
        loaded = _defaults_cache[text] = json.loads(text)
    return loaded


def _load_authors(text: str) -> dict:
    loaded = _authors_cache.get(text)
    if loaded is None:
        loaded = _authors_cache[text] = json.loads(text)
    return loaded


def ruby_s(value: Any) -> str:
    """Return *value* as Ruby's ``to_s`` (and so Liquid) prints it: nil is "", true "true"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return str(value)


def read_jekyll_config(root: Path, data: Mapping[str, Any] | None) -> JekyllConfig:
    """Return the Jekyll-only keys of the site at *root*, whose ``_config.yml`` holds *data*."""
    data = data or {}
    feed = data.get("feed") if isinstance(data.get("feed"), dict) else {}
    tags = feed.get("tags")
    tags_conf = tags if isinstance(tags, dict) else {}
    author = data.get("author")
    return JekyllConfig(
        markdown_ext=_markdown_ext(data.get("markdown_ext")),
        excerpt_separator=(ruby_s(data["excerpt_separator"]) if "excerpt_separator" in data
                           else DEFAULT_EXCERPT_SEPARATOR),
        defaults_json=json.dumps(_defaults(data.get("defaults")), default=str),
        authors_json=json.dumps(_authors(root), default=str),
        name=ruby_s(data.get("name")) if not isinstance(data.get("name"), (dict, list)) else "",
        author_name=_author_part(author, "name") if isinstance(author, dict) else
        ("" if isinstance(author, list) else ruby_s(author)),
        author_email=_author_part(author, "email") if isinstance(author, dict) else "",
        author_uri=_author_part(author, "uri") if isinstance(author, dict) else "",
        feed_path="/" + (ruby_s(feed.get("path")) or "feed.xml").lstrip("/"),   # a page URL
        feed_categories=_names(feed.get("categories")),
        feed_tags=bool(tags),
        feed_tags_only=_names(tags_conf["only"]) if tags_conf.get("only") else None,
        feed_tags_except=_names(tags_conf.get("except")),
        feed_tags_path="/" + (ruby_s(tags_conf.get("path")) or "feed/by_tag/").lstrip("/"),
        posts_limit=_limit(feed.get("posts_limit")),
        excerpt_only=feed["excerpt_only"] if isinstance(feed.get("excerpt_only"), bool) else None,
        exclude=_excludes(data.get("exclude")),
    )


def _excludes(value: Any) -> tuple[str, ...]:
    # Configuration#add_default_excludes: the site's list, its paths relative to the root.
    if not isinstance(value, list):
        return ()
    return tuple(ruby_s(item).lstrip("/") for item in value
                 if isinstance(item, (str, int)) and ruby_s(item).strip("/"))


def _markdown_ext(value: Any) -> tuple[str, ...]:
    # Converters::Markdown#extname_list: value.split(","), each with a dot, compared down-cased.
    if value is None:
        return DEFAULT_MARKDOWN_EXT
    return tuple(part.strip().lower().lstrip(".") for part in ruby_s(value).split(",")
                 if part.strip())


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(ruby_s(item) for item in value if item is not None)
    return (ruby_s(value),)


def _limit(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _author_part(author: Mapping[str, Any], key: str) -> str:
    value = author.get(key)
    return "" if isinstance(value, (dict, list)) else ruby_s(value)


def _defaults(value: Any) -> list:
    """Return the site's ``defaults:`` for posts as [path, type, values], least specific first."""
    if not isinstance(value, list):
        return []
    found = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
            continue
        scope = entry.get("scope") if isinstance(entry.get("scope"), dict) else {}
        kind = ruby_s(scope.get("type"))
        if kind and kind != "posts":
            continue
        path = ruby_s(scope.get("path")).lstrip("./").lstrip("/")
        # FrontmatterDefaults#sort_by_specificity: a longer path and a given type win.
        found.append(((path.count("/") + bool(path), bool(kind), index), [path, kind, entry["values"]]))
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


def _authors(root: Path) -> dict:
    """Return ``site.data.authors`` from ``_data/authors.{yml,yaml,json}``, or {}."""
    for name in ("authors.yml", "authors.yaml", "authors.json"):
        path = root / "_data" / name
        if not path.is_file():
            continue
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            log.warning("could not read %s: %s; authors are taken as written", path, exc)
            return {}
        return {ruby_s(k): v for k, v in loaded.items()} if isinstance(loaded, dict) else {}
    return {}
