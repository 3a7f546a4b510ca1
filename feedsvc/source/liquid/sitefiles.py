"""The site's other files as Liquid sees them: ``site.data`` (``_data/``), the URL of a page or
static file (for ``{% link %}``), and files beside a post (``include_relative``).

Every path stays inside the site folder: ``..`` is refused and a symlink that leads out of
it is not followed.
"""
from __future__ import annotations

import csv
import os
import posixpath
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_URL_SAFE = "/:@!$&'()*+,;=-._~"
# Jekyll's default excludes (Configuration#add_default_excludes) besides _site.
_DEFAULT_EXCLUDES = ("Gemfile", "Gemfile.lock", "node_modules", "vendor/bundle/",
                     "vendor/cache/", "vendor/gems/", "vendor/ruby/")


def site_file(root: str, rel: str) -> tuple[str | None, str | None]:
    """Return (real path, None) of the file *rel* of the site, or (None, why not)."""
    parts = rel.replace("\\", "/").split("/")
    if ".." in parts or rel.startswith("/"):
        return None, f"{rel!r} leads outside the site folder; not read"
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root, rel))
    if not real.startswith(real_root + os.sep):
        return None, f"{rel!r} is a symlink out of the site folder; not read"
    if not os.path.isfile(real):
        return None, f"Could not locate the included file {rel!r}"
    return real, None


def _ignored(rel: str, values: Mapping[str, Any]) -> bool:
    """Return whether Jekyll's reader skips *rel* (EntryFilter: _ . # ~ names, excludes)."""
    for part in rel.split("/"):
        if part.startswith(("_", "#")) or part.endswith("~") or (
                part.startswith(".") and part != ".htaccess"):
            return True
    excludes = list(_DEFAULT_EXCLUDES) + [str(e) for e in values.get("exclude") or []]
    return any(rel == e.rstrip("/") or rel.startswith(e.rstrip("/") + "/") for e in excludes)


def _front_matter(real: str) -> Mapping[str, Any] | None:
    """Return a file's front matter ({} if empty), or None if it has none (a static file)."""
    try:
        with open(real, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return None
    text = head.decode("utf-8", "replace").replace("\r\n", "\n")
    match = re.match(r"---[ \t]*\n(.*?\n)??(?:---|\.\.\.)[ \t]*(?:\n|$)", text, re.S)
    if match is None:
        return None
    try:
        data = yaml.load(match.group(1) or "", Loader=_Loader)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _suffix(template: str, style: str) -> str:
    """Return Jekyll's Utils.add_permalink_suffix."""
    if style == "pretty":
        return template + "/"
    if style in ("date", "ordinal", "none"):
        return template + ":output_ext"
    if style.endswith("/"):
        return template + "/"
    return template + ":output_ext" if style.endswith(":output_ext") else template


def page_url(root: str, path: str, values: Mapping[str, Any]) -> str | None:
    """Return the URL of the page or static file at *path* (``{% link %}``), or None.

    Jekyll matches a page's relative path exactly, a static file's with or without a
    leading slash (``jekyll/tags/link.rb``).
    """
    rel = path.lstrip("/")
    if not rel or _ignored(rel, values):
        return None
    real, _ = site_file(root, rel)
    if real is None:
        return None
    front = _front_matter(real)
    if front is None:
        return "/" + quote(rel, safe=_URL_SAFE)
    if path.startswith("/"):
        return None
    folder, name = posixpath.split(rel)
    stem, ext = posixpath.splitext(name)
    markdown = str(values.get("markdown_ext") or "").split(",")
    output_ext = ".html" if ext[1:] in markdown else ext
    if front.get("permalink"):
        template = str(front["permalink"])
    elif output_ext not in (".html", ".htm", ".xhtml"):
        template = "/:path/:basename:output_ext"
    elif stem == "index":
        template = "/:path/"
    else:
        template = _suffix("/:path/:basename", str(values.get("permalink") or "date"))
    url = (template.replace(":path", folder).replace(":basename", stem)
           .replace(":output_ext", output_ext))
    return quote(re.sub(r"/{2,}", "/", url), safe=_URL_SAFE)


def _data_key(name: str) -> str:
    """Return Jekyll's DataReader#sanitize_filename of a data file's base name."""
    name = re.sub(r"[^\w\s-]+", "", name).strip()
    return re.sub(r"\s+", "_", name)


def _read_data_file(path: str) -> Any:
    ext = os.path.splitext(path)[1].lower()
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        if ext in (".csv", ".tsv"):
            return [dict(row) for row in csv.DictReader(
                handle, delimiter="\t" if ext == ".tsv" else ",")]
        return yaml.load(handle, Loader=_Loader)   # YAML reads JSON too, as SafeYAML does


def load_data(root: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``site.data``: every YAML, JSON, CSV and TSV file of _data/, by folder."""
    folder = os.path.join(root, str(values.get("data_dir") or "_data"))
    real_root = os.path.realpath(root)
    return _read_data_dir(folder, real_root) if os.path.isdir(folder) else {}


def _read_data_dir(folder: str, real_root: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not os.path.realpath(entry.path).startswith(real_root + os.sep):
            continue   # a symlink out of the site: not read
        stem, ext = os.path.splitext(entry.name)
        if entry.is_dir():
            data[_data_key(entry.name)] = _read_data_dir(entry.path, real_root)
        elif ext.lower() in (".yaml", ".yml", ".json", ".csv", ".tsv"):
            try:
                data[_data_key(stem)] = _read_data_file(entry.path)
            except (OSError, yaml.YAMLError, csv.Error, UnicodeError):
                continue
    return data
