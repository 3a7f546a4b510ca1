"""What the Liquid renderer knows of a site: its settings, its _config.yml, includes, plugins.

Nothing here imports python-liquid.
"""
from __future__ import annotations

import dataclasses
import os
import re
import threading
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from ...config import Settings


@dataclasses.dataclass(frozen=True)
class LiquidNote:
    """Something about a post's Liquid that ``feedsvc check`` reports."""

    path: str
    line: int | None
    kind: str        # "plugin" (a tag feedsvc cannot run), "warning" (lax syntax), "error"
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


@dataclasses.dataclass(frozen=True)
class LiquidOptions:
    """The settings Liquid's ``site`` needs: feedsvc's effective values over _config.yml."""

    root: str
    url: str
    baseurl: str
    timezone: str
    values: Mapping[str, object]   # site.* : Jekyll's defaults, _config.yml, then feedsvc's

    @classmethod
    def from_settings(cls, settings: Settings) -> LiquidOptions:
        """Return the Liquid options of *settings* (the site's _config.yml is read here)."""
        from ...config import read_site_config
        config = read_site_config(settings.site_root)
        # The settings that came from _config.yml may have been overridden (FEEDSVC_URL...).
        given = {key: getattr(settings, key) for key in
                 ("url", "baseurl", "title", "description", "timezone", "permalink", "lang")}
        return cls.build(str(settings.site_root), config, given)

    @classmethod
    def for_root(cls, root: str, timezone: str, permalink: str) -> LiquidOptions:
        """Return options read from the site folder alone (a Store built without settings)."""
        config = site_facts(root).config
        given = {"timezone": timezone, "permalink": permalink}
        return cls.build(root, config, given)

    @classmethod
    def build(cls, root: str, config: Mapping, given: Mapping[str, object]) -> LiquidOptions:
        values = {**JEKYLL_DEFAULTS, "source": os.path.abspath(root), **config}
        values.update({k: v for k, v in given.items() if v not in ("", None)})
        url = str(values.get("url") or "").rstrip("/")
        baseurl = str(values.get("baseurl") or "")
        return cls(root=root, url=url, baseurl=baseurl,
                   timezone=str(values.get("timezone") or "UTC"),
                   values=types.MappingProxyType(values))


# jekyll/configuration.rb Configuration::DEFAULTS, the keys a template may read as site.*
JEKYLL_DEFAULTS: Mapping[str, object] = types.MappingProxyType({
    "collections_dir": "", "plugins_dir": "_plugins", "layouts_dir": "_layouts",
    "data_dir": "_data", "includes_dir": "_includes", "collections": {"posts": {
        "output": True, "permalink": None}},
    "safe": False, "include": [".htaccess"], "exclude": [], "keep_files": [".git", ".svn"],
    "encoding": "utf-8", "markdown_ext": "markdown,mkdown,mkdn,mkd,md",
    "strict_front_matter": False, "show_drafts": None, "limit_posts": 0, "future": False,
    "unpublished": False, "whitelist": [], "plugins": [], "markdown": "kramdown",
    "highlighter": "rouge", "lsi": False, "excerpt_separator": "\n\n", "incremental": False,
    "detach": False, "port": "4000", "host": "127.0.0.1", "baseurl": None,
    "show_dir_listing": False, "permalink": "date", "paginate_path": "/page:num",
    "timezone": None, "quiet": False, "verbose": False, "defaults": [],
    "liquid": {"error_mode": "warn", "strict_filters": False, "strict_variables": False},
})

# Tags of plugin gems a site may list in `plugins:` or its Gemfile. None of them can run here
# (they are Ruby), so each renders as nothing and is reported -- except include_cached, which
# renders exactly what include renders (jekyll-include-cache only caches it).
KNOWN_GEM_TAGS: Mapping[str, Mapping[str, str]] = {
    "jekyll-feed": {"feed_meta": "tag"},
    "jekyll-seo-tag": {"seo": "tag"},
    "jekyll-gist": {"gist": "tag"},
    "jekyll-avatar": {"avatar": "tag"},
    "jekyll-twitter-plugin": {"twitter": "tag"},
    "jekyll-include-cache": {"include_cached": "include"},
}
_REGISTER_TAG = re.compile(r"""register_tag\s*\(?\s*["':](\w+)["']?\s*,\s*([\w:]+)""")
_CLASS = re.compile(r"class\s+(\w+)\s*<\s*([\w:]+)")
_GEM = re.compile(r"""^\s*gem\s+["']([\w.-]+)["']""", re.M)


@dataclasses.dataclass(frozen=True)
class SiteFacts:
    """What a site's files say about Liquid: config, includes folder, tags of plugins."""

    root: str
    config: Mapping[str, object]
    includes_dir: str                      # real path of _includes (it may not exist)
    plugin_tags: Mapping[str, str | None]  # name -> "block", "tag", "include", or None (unknown)
    plugin_sources: Mapping[str, str]      # name -> where it comes from (a file or a gem)
    error_mode: str                        # liquid.error_mode: warn (default), lax or strict
    strict_filters: bool
    strict_variables: bool


_facts: dict[str, tuple[tuple, SiteFacts]] = {}
_facts_lock = threading.Lock()


def site_facts(root: str) -> SiteFacts:
    """Return the Liquid facts of the site at *root*, read again when its files change."""
    signature = _signature(root)
    with _facts_lock:
        known = _facts.get(root)
    if known is not None and known[0] == signature:
        return known[1]
    facts = _read_facts(root)
    with _facts_lock:
        _facts[root] = (signature, facts)
    return facts


def _signature(root: str) -> tuple:
    """Return (path, mtime, size) of every file the facts come from; cheap: a few stats."""
    parts = []
    for name in ("_config.yml", "Gemfile"):
        parts.append(_stat(os.path.join(root, name)))
    plugins = os.path.join(root, "_plugins")
    for folder, _, files in os.walk(plugins):
        parts.extend(_stat(os.path.join(folder, f)) for f in sorted(files) if f.endswith(".rb"))
    return tuple(parts)


def _stat(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return (path, None)
    return (path, st.st_mtime_ns, st.st_size)


def _read_facts(root: str) -> SiteFacts:
    config = _read_config(root)
    tags: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    plugins_dir = os.path.join(root, str(config.get("plugins_dir") or "_plugins"))
    for path in sorted(Path(plugins_dir).rglob("*.rb")) if os.path.isdir(plugins_dir) else ():
        try:
            source = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        kinds = {name: ("block" if "Block" in base else "tag" if "Tag" in base else None)
                 for name, base in _CLASS.findall(source)}
        for name, cls in _REGISTER_TAG.findall(source):
            tags[name] = kinds.get(cls.rsplit("::", 1)[-1])
            sources[name] = os.path.relpath(path, root)
    for gem in _gems(root, config):
        for name, kind in KNOWN_GEM_TAGS.get(gem, {}).items():
            tags.setdefault(name, kind)
            sources.setdefault(name, gem)
    liquid = config.get("liquid") if isinstance(config.get("liquid"), dict) else {}
    includes = os.path.join(root, str(config.get("includes_dir") or "_includes"))
    return SiteFacts(
        root=root, config=types.MappingProxyType(config),
        includes_dir=os.path.realpath(includes),
        plugin_tags=types.MappingProxyType(tags), plugin_sources=types.MappingProxyType(sources),
        error_mode=str(liquid.get("error_mode") or "warn"),
        strict_filters=liquid.get("strict_filters") is True,
        strict_variables=liquid.get("strict_variables") is True)


def _read_config(root: str) -> dict:
    try:
        with open(os.path.join(root, "_config.yml"), "rb") as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError):
        return {}   # load_settings already stopped start-up for a bad _config.yml
    return data if isinstance(data, dict) else {}


def _gems(root: str, config: Mapping) -> list[str]:
    """Return the plugin gems a site names: `plugins:` (or the old `gems:`) and its Gemfile."""
    names = []
    for key in ("plugins", "gems"):
        value = config.get(key)
        if isinstance(value, list):
            names += [str(v) for v in value]
    try:
        names += _GEM.findall(Path(root, "Gemfile").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        pass
    return names


def liquid_files_signature(root: str) -> tuple:
    """Return the signature of every file a post's Liquid may depend on when it parses:
    _config.yml, Gemfile, _plugins/ and _includes/ (a few stats)."""
    includes = os.path.join(root, "_includes")
    found = [_stat(os.path.join(folder, name))
             for folder, _, files in os.walk(includes) for name in sorted(files)]
    return _signature(root) + tuple(found)
