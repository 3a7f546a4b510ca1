"""One table of settings, loaded in layers and validated once.

Order, later wins: the table's defaults → the site's own ``_config.yml`` (site metadata keys
only) → feedsvc's YAML file (``--config FILE`` or ``FEEDSVC_CONFIG``, else
nothing: no file is looked up by itself, so an editable and a wheel install behave the
same) → ``FEEDSVC_<KEY>`` environment variables → explicit overrides
(command-line flags, or the mapping given to ``create_app``). An unknown key or a bad value
raises :class:`ConfigError` naming the key.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .dates import load_zone
from .errors import ConfigError
from .jekyll_config import JekyllConfig, read_jekyll_config

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLE_SITE = PACKAGE_DIR / "sample_site"
ENV_PREFIX = "FEEDSVC_"
ENV_CONFIG = "FEEDSVC_CONFIG"
# `feedsvc serve`'s own options (FEEDSVC_SERVE_PORT...): read by the command, not settings.
ENV_SERVE_PREFIX = "FEEDSVC_SERVE_"
# What Kubernetes injects for a Service named "feedsvc" (service links: FEEDSVC_PORT,
# FEEDSVC_SERVICE_HOST, FEEDSVC_PORT_8000_TCP_ADDR...): never feedsvc's, ignored quietly.
_SERVICE_LINK = re.compile(r"FEEDSVC_(SERVICE_HOST|SERVICE_PORT(_\w+)?"
                           r"|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)\Z")

log = logging.getLogger(__name__)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple, set)):
        raise ValueError("must be a string")
    return str(value)


def _integer(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError("must be a whole number")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"must be a whole number, got {value!r}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        return number
    return check


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {value!r}")


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = _text(value)
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {text!r}")
        return text
    return check


def _url(value: Any) -> str:
    text = _text(value).rstrip("/")
    if text and not text.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https://, got {text!r}")
    return text


def _baseurl(value: Any) -> str:
    text = _text(value).strip().strip("/")
    return f"/{text}" if text else ""


def _zone_name(value: Any) -> str:
    text = _text(value)
    load_zone(text)
    return text


def _author(value: Any) -> str:
    # Jekyll sites write `author: Name` or `author: {name: Name, email: ...}`.
    if isinstance(value, dict):
        return _text(value.get("name"))
    return _text(value)


def _pattern(*fields: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = _text(value)
        try:
            text.format(**{name: "x" for name in fields})
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"may use only {{{'}, {'.join(fields)}}}: {exc}") from None
        return text
    return check


def _path_or_empty(value: Any) -> str:
    return _text(value)


def _url_list(value: Any) -> tuple[str, ...]:
    """A YAML list of URLs, or one string of them separated by commas or whitespace."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = [item for item in re.split(r"[\s,]+", value) if item]
    elif isinstance(value, (list, tuple)):
        items = [_text(item).strip() for item in value]
    else:
        raise ValueError("must be a list of URLs, or one string of them separated by commas")
    urls = []
    for url in items:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"each URL must start with http:// or https://, got {url!r}")
        if re.search(r'[\x00-\x20<>"\x7f]', url):   # it goes into Link headers and XML
            raise ValueError(f"a URL may not hold spaces, control characters, <, > or \", "
                             f"got {url!r}")
        # Kept as written but for an empty path: a hub's URL is compared as text.
        urls.append(url if parts.path else url + "/")
    return tuple(dict.fromkeys(urls))


@dataclasses.dataclass(frozen=True)
class Setting:
    """One configuration key: its name, default, parser and help text."""

    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    site_meta: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("site_dir", "", _path_or_empty,
            "Root of the Jekyll site (the folder holding _posts/). Empty: the bundled sample site."),
    Setting("url", "", _url, "The site's public origin, e.g. https://news.example.com.", True),
    Setting("baseurl", "", _baseurl, "Path under url where the site lives, e.g. /blog.", True),
    Setting("title", "", _text,
            "The site's title (else its name); feed titles start with it.", True),
    Setting("description", "", _text, "One line describing the site; the feeds' subtitle.", True),
    Setting("timezone", "UTC", _zone_name,
            "IANA zone of the site: quoted zone-less dates are read in it, feeds print times "
            "in it.", True),
    Setting("permalink", "date", _text,
            "Jekyll permalink style (date, pretty, ordinal, weekdate, none) or pattern.", True),
    Setting("author", "", _author, "Default author of every post.", True),
    Setting("lang", "", _text, "Language of the site, e.g. zh-CN.", True),
    Setting("public_url", "", _url,
            "Public URL where feedsvc itself is served (feed self links); empty: url + baseurl."),
    Setting("feed_limit", 20, _integer(1),
            "Entries per feed, newest first. (also read from the site's feed.posts_limit)"),
    Setting("reload_interval", 60, _integer(1), "Seconds between scheduled reloads of the store."),
    Setting("stale_after", 300, _integer(1),
            "Seconds since the last successful reload after which /healthz answers 503."),
    Setting("auto_reload", True, _boolean,
            "Reload every reload_interval in each serving process; false: load once at start."),
    Setting("cache_max_age", 300, _integer(0), "Cache-Control max-age of feeds, in seconds."),
    Setting("max_post_bytes", 5_000_000, _integer(1), "Larger post files are skipped and reported."),
    Setting("excerpt_only", False, _boolean,
            "Leave full content out of feeds, giving only the summary (a post may override). "
            "(also read from the site's feed.excerpt_only)"),
    Setting("id_style", "tag", _choice("tag", "jekyll-feed"),
            "Entry ids: 'tag' (RFC 4151 tag URIs) or 'jekyll-feed' (jekyll-feed's, for a site "
            "moving from it)."),
    Setting("category_url", "/category/{name}.html", _pattern("name"),
            "Site page of a category, under baseurl; {name} is the category."),
    Setting("tag_url", "/tag/{name}.html", _pattern("name"),
            "Site page of a tag, under baseurl; {name} is the tag."),
    Setting("summary_length", 140, _integer(0),
            "Longest summary in RSS and JSON Feed, in characters; 0: whole. Atom carries "
            "jekyll-feed's whole summary."),
    Setting("watch", True, _boolean,
            "Learn changed files from inotify between full scans (Linux); false: stat every "
            "file on every reload."),
    Setting("cache_dir", "", _path_or_empty,
            "Folder for the persistent parse cache; empty: no cache."),
    Setting("websub_hubs", (), _url_list,
            "WebSub hubs to advertise in every feed and to tell of every change (a list, or "
            "one string separated by commas or spaces); empty: WebSub off."),
    Setting("archives", False, _boolean,
            "Publish RFC 5005 archives of every feed, so its whole history can be walked."),
    Setting("archive_page_size", 50, _integer(1),
            "Entries per archive page, pages counted from the oldest post."),
    Setting("archive_cache_mb", 64, _integer(0),
            "Megabytes of rendered archive pages each serving process keeps (LRU); 0: none."),
    Setting("log_level", "INFO", _choice("DEBUG", "INFO", "WARNING", "ERROR"), "Logging level."),
    Setting("log_format", "text", _choice("text", "json"),
            "Log lines as text, or as one JSON object per line (access lines included)."),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}
SITE_META = tuple(s.name for s in SETTINGS if s.site_meta)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The effective configuration; build it with :func:`load_settings`."""

    site_dir: str
    url: str
    baseurl: str
    title: str
    description: str
    timezone: str
    permalink: str
    author: str
    lang: str
    public_url: str
    feed_limit: int
    reload_interval: int
    stale_after: int
    auto_reload: bool
    cache_max_age: int
    max_post_bytes: int
    excerpt_only: bool
    id_style: str
    category_url: str
    tag_url: str
    summary_length: int
    watch: bool
    cache_dir: str
    websub_hubs: tuple[str, ...]
    archives: bool
    archive_page_size: int
    archive_cache_mb: int
    log_level: str
    log_format: str
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)
    # The keys of the site's _config.yml that only Jekyll and jekyll-feed define.
    jekyll: JekyllConfig = dataclasses.field(default_factory=JekyllConfig)

    @functools.cached_property
    def zone(self) -> dt.tzinfo:
        """Return the site's zone as a tzinfo."""
        return load_zone(self.timezone)

    @property
    def site_root(self) -> Path:
        """Return the site folder (the bundled sample when none is set)."""
        return Path(self.site_dir) if self.site_dir else SAMPLE_SITE

    @property
    def site_url(self) -> str:
        """Return the absolute URL of the site root, without a trailing slash."""
        return self.url + self.baseurl

    @property
    def service_url(self) -> str:
        """Return the public URL of feedsvc itself, without a trailing slash."""
        return self.public_url or self.site_url

    def as_dict(self) -> dict[str, Any]:
        """Return every key and its effective value."""
        return {s.name: getattr(self, s.name) for s in SETTINGS}


def _read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigError(what, f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(what, f"{path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(what, f"{path} must hold a mapping of keys to values")
    return data


def read_site_config(site_root: Path) -> dict[str, Any]:
    """Return the whole of a site's ``_config.yml`` ({} if it has none); Liquid's ``site``."""
    site_config = site_root / "_config.yml"
    return _read_yaml_mapping(site_config, "site_dir") if site_config.is_file() else {}


def _env_layer(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the settings given as FEEDSVC_<KEY>; warn of unknown ones, never fail on them.

    The environment is shared with whatever runs us (Kubernetes adds FEEDSVC_* service links
    for a Service named feedsvc), so an unknown variable is a warning naming the closest
    key; an unknown key in a config file, which is ours alone, stays an error.
    """
    layer = {}
    for name, value in environ.items():
        if (not name.startswith(ENV_PREFIX) or name == ENV_CONFIG
                or name.startswith(ENV_SERVE_PREFIX)):
            continue
        key = name[len(ENV_PREFIX):].lower()
        if key in BY_NAME:
            layer[key] = value
        elif _SERVICE_LINK.match(name):
            log.debug("ignoring %s: a Kubernetes service link, not a feedsvc setting", name)
        else:
            log.warning("ignoring unknown environment variable %s%s", name,
                        did_you_mean(key, BY_NAME, ENV_PREFIX))
    return layer


def did_you_mean(key: str, known: Iterable[str], prefix: str = "") -> str:
    """Return "; did you mean PREFIX<KEY>?" for the known key closest to *key*, or a hint."""
    close = difflib.get_close_matches(key.lower(), list(known), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {prefix}{close[0].upper() if prefix else close[0]}?"
    return "; run 'feedsvc config' to list the keys"


def _check_keys(layer: Mapping[str, Any], source: str) -> None:
    for key in layer:
        if key not in BY_NAME:
            raise ConfigError(str(key), f"unknown key in {source}"
                              f"{did_you_mean(str(key), BY_NAME)}")


def load_settings(overrides: Mapping[str, Any] | None = None,
                  config_file: str | os.PathLike[str] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Return the validated settings from every layer, later layers winning."""
    environ = os.environ if environ is None else environ
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    _check_keys(overrides, "overrides")
    path = config_file or environ.get(ENV_CONFIG)
    if path:
        file_layer = _read_yaml_mapping(Path(path), "config")
        file_source = str(path)
    else:
        file_layer, file_source = {}, ""
    _check_keys(file_layer, file_source)
    env_layer = _env_layer(environ)
    upper = [(file_source, file_layer), ("environment", env_layer), ("overrides", overrides)]
    site_dir = ""
    for _, layer in upper:
        site_dir = str(layer.get("site_dir", site_dir) or "")
    site_root = Path(site_dir) if site_dir else SAMPLE_SITE
    if site_dir and not site_root.is_dir():
        raise ConfigError("site_dir", f"{site_dir} is not a folder")
    site_config = site_root / "_config.yml"
    site_data = _read_yaml_mapping(site_config, "site_dir") if site_config.is_file() else {}
    jekyll = read_jekyll_config(site_root, site_data)
    site_layer = _site_layer(site_data, jekyll)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, layer in [("default", {}), (str(site_config), site_layer)] + upper:
        for key, raw in layer.items():
            try:
                values[key] = BY_NAME[key].parse(raw)
            except ValueError as exc:
                raise ConfigError(key, f"{exc} (from {source})") from None
            sources[key] = source
    for setting in SETTINGS:
        if setting.name not in values:
            values[setting.name] = setting.default
            sources[setting.name] = "default"
    if not values["url"]:
        raise ConfigError("url", "the site's public URL is not set: give it in the site's "
                          "_config.yml, the config file or FEEDSVC_URL "
                          "(feeds need absolute links)")
    return Settings(**values, sources=sources, jekyll=jekyll)


def _site_layer(site_data: Mapping[str, Any], jekyll: JekyllConfig) -> dict[str, Any]:
    """Return the settings a site's ``_config.yml`` gives: its metadata, and jekyll-feed's
    defaults (``feed.posts_limit`` for ``feed_limit``, ``feed.excerpt_only``)."""
    layer = {k: v for k, v in site_data.items() if k in SITE_META}
    if not layer.get("title") and jekyll.name:
        layer["title"] = jekyll.name   # jekyll-feed: site.title | default: site.name
    if jekyll.posts_limit is not None:
        layer["feed_limit"] = jekyll.posts_limit
    if jekyll.excerpt_only is not None:
        layer["excerpt_only"] = jekyll.excerpt_only
    return layer
