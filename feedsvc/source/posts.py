"""Build a Post from one file: read it, split its front matter, apply Jekyll's rules."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import re
from collections.abc import Mapping

from ..dates import parse_date
from ..errors import ContentError
from ..jekyll_config import ruby_s
from .frontmatter import read_text, scalar_text, split_front_matter
from .liquid import check_liquid, wants_liquid
from .model import ParseOptions, Post
from .permalinks import UrlParts, post_url, site_pattern
from .scan import POST_NAME


def _read_limited(path: str, limit: int) -> bytes:
    """Return at most *limit* bytes of a file.

    Sized by the file's length: ``read(limit)`` allocates the whole limit (5 MB by default)
    on every call, which cost more than reading and parsing a post.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size
        chunks = [os.read(fd, min(size + 1, limit))]
        got = len(chunks[0])
        while got > size and got < limit:   # the file grew since fstat: read on, bounded
            chunk = os.read(fd, min(65536, limit - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


def load_post(rel: str, options: ParseOptions) -> tuple[Post | None, str | None]:
    """Read one file; return (post, raw body), or (None, None) when it is not a post.

    Raise :class:`ContentError` with the reason when the file is broken.
    """
    if rel.rpartition(".")[2] in DATA_EXTENSIONS:
        return None, None   # Document#read: a .yml/.yaml file is data, its content nil
    try:
        data = _read_limited(os.path.join(options.root, rel), options.max_post_bytes + 1)
    except OSError as exc:
        raise ContentError(rel, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > options.max_post_bytes:
        raise ContentError(rel, f"larger than max_post_bytes ({options.max_post_bytes} bytes)")
    text = read_text(data, rel)
    front, body = front_and_body(rel, text, options)
    # Publisher#can_be_published?: data.fetch("published", true) -- only false hides it.
    if front.get("published", True) is False:
        return None, None
    try:
        post = make_post(rel, front, options, hashlib.blake2b(data, digest_size=12).hexdigest())
    except ValueError as exc:
        raise ContentError(rel, str(exc)) from None
    if wants_liquid(front, body):   # Jekyll renders it: a template that does not parse is broken
        check_liquid(rel, body, text.count("\n", 0, len(text) - len(body)) + 1, options.root)
    return post, body


def front_and_body(rel: str, text: str, options: ParseOptions) -> tuple[dict, str]:
    """Return a post file's front matter (over the site's defaults) and its body."""
    # PostReader has no front-matter check (has_yaml_header? tells pages from static files,
    # never posts): a post file without front matter is a post, its whole text the content.
    front, body = split_front_matter(text, rel) or ({}, text)
    defaults = options.site.defaults_for(rel) if options.defaults_json != "[]" else None
    if defaults:
        front = merge_defaults(defaults, front)
    return front, body


def merge_defaults(defaults: Mapping, front: Mapping) -> dict:
    """Return front matter over the site's ``defaults:`` (``Document#merge_defaults``, then
    ``merge_data!``: keys of the post win, ``categories`` are the union of both)."""
    merged = {**defaults, **front}
    if "categories" in defaults and "categories" in front:
        merged["categories"] = _union(_split(defaults["categories"]), _split(front["categories"]))
    return merged


def make_post(rel: str, front: Mapping, options: ParseOptions, digest: str) -> Post:
    """Return the post that front matter *front* of file *rel* describes (Jekyll's rules,
    jekyll/document.rb unless said otherwise)."""
    name = rel.rsplit("/", 1)[-1]
    match = POST_NAME.match(name)
    if match is None:
        raise ValueError("file name is not YYYY-MM-DD-slug.EXT")
    year, month, day, file_slug, ext = match.groups()
    zone = options.zone
    file_date = _file_date(year, month, day)
    # #modify_date: the file name's date when front matter has none (nil or false).
    date = (dt.datetime.combine(file_date, dt.time(), zone) if front.get("date") in (None, False)
            else _date(front["date"], "date", zone))
    modified = front.get("last_modified_at")
    # jekyll-feed prints last_modified_at as given, even before the date.
    updated = date if modified in (None, False, "") else _date(modified, "last_modified_at", zone)
    # #populate_title: the slug loses its trailing dots; data["title"] ||= titleize_slug(slug),
    # so an empty title stays empty; data["slug"] ||= slug.
    file_slug = file_slug.rstrip(".")
    title = front.get("title")
    title = titleize(file_slug) if title is None or title is False else _text(title)
    slug = front.get("slug")
    slug = file_slug if slug is None or slug is False else _text(slug)
    parts = rel.split("/")
    dir_categories = parts[:parts.index("_posts")]  # #categories_from_path: a/b/_posts/
    categories = _categories(dir_categories, front)
    markdown = ext[1:].lower() in options.markdown_ext   # Converters::Markdown#matches
    own = front.get("permalink")
    pattern = site_pattern(options.permalink) if own in (None, False) else _text(own)
    output_ext = _output_ext(pattern if own not in (None, False) else "", markdown, ext)
    url = post_url(pattern, UrlParts(date.astimezone(zone), slug, name[:-len(ext)],
                                     categories, output_ext, rel, ext))
    author, email, uri = _author(front, options)
    return Post(
        path=rel, slug=slug, file_date=file_date, title=title, date=date, updated=updated,
        url=url, categories=categories, tags=_tags(front),
        author=author, author_email=email, author_uri=uri,
        summary=_summary(front), excerpt_separator=_excerpt_separator(front, options),
        image=_image(front.get("image")), id=scalar_text(front.get("id")).strip(),
        lang=scalar_text(front.get("lang")).strip(), excerpt_only=_excerpt_only(front),
        markdown=markdown, digest=digest,
    )


DATA_EXTENSIONS = frozenset({"yml", "yaml"})   # Document::YAML_FILE_EXTS


def _file_date(year: str, month: str, day: str) -> dt.date:
    """Return the date of a file name; a 2-digit year as Ruby's Time.parse completes it."""
    number = int(year)
    if len(year) == 2:
        number += 1900 if number >= 69 else 2000
    try:
        return _day(number, int(month), int(day))
    except ValueError:
        raise ValueError(f"file name has an invalid date {year}-{month}-{day}") from None


def _output_ext(own_permalink: str, markdown: bool, ext: str) -> str:
    """Return Renderer#output_ext: the post's own permalink's extension, else the converter's
    (".html" for Markdown; Converters::Identity keeps the file's own: .html, .txt, .Rmd...)."""
    if own_permalink and not own_permalink.endswith("/"):
        base = own_permalink.rpartition("/")[2]
        dot = base.rfind(".")
        if dot > 0:
            return base[dot:]
    return ".html" if markdown else ext


def _text(value: object) -> str:
    """Return a front-matter value as Liquid prints it (a list joined, a mapping as nothing)."""
    if isinstance(value, list):
        return "".join(_text(item) for item in value)
    if isinstance(value, dict):
        return ""
    return ruby_s(value)


def _liquid_truthy(value: object) -> bool:
    """Return whether Liquid's ``default`` filter keeps *value* (not nil, false or empty)."""
    return value not in (None, False, "") and value != [] and value != {}


def _summary(front: Mapping) -> str | None:
    """Return jekyll-feed's ``post.description | default: post.excerpt`` when front matter
    gives it (an ``excerpt: ""`` gives none), or None: the excerpt of the body."""
    description = front.get("description")
    if _liquid_truthy(description):
        return _text(description)
    excerpt = front.get("excerpt")   # Document#generate_excerpt: data["excerpt"] ||= ...
    if excerpt is None or excerpt is False:
        return None
    return _text(excerpt)


def _excerpt_separator(front: Mapping, options: ParseOptions) -> str:
    """Return Document#excerpt_separator: the post's, else the site's ("" means none)."""
    own = front.get("excerpt_separator")
    if own is None or own is False:
        return options.excerpt_separator
    return _text(own)


def _excerpt_only(front: Mapping) -> bool | None:
    """Return the post's say on leaving content out: jekyll-feed's ``feed.excerpt_only``
    (only true counts: ``post.feed.excerpt_only | default: site.feed.excerpt_only``), else
    feedsvc's own top-level ``excerpt_only`` (true or false), else None."""
    feed = front.get("feed")
    if isinstance(feed, dict) and _liquid_truthy(feed.get("excerpt_only")):
        return True
    own = front.get("excerpt_only")
    return own if isinstance(own, bool) else None


@functools.lru_cache(maxsize=4096)
def _day(year: int, month: int, day: int) -> dt.date:
    """Return the date of a file name, one shared object per day (memory, at 100k posts)."""
    return dt.date(year, month, day)


def _date(value: object, key: str, zone: dt.tzinfo) -> dt.datetime:
    try:
        return parse_date(value, zone)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")


def _split(value: object) -> list:
    """Return a category or tag value as a list: a string split on ASCII white space (Ruby's
    String#split), a list as it is, anything else alone."""
    if isinstance(value, str):
        return value.split() if value.isascii() else [p for p in _WHITESPACE.split(value) if p]
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _union(first: list, second: list) -> list:
    """Return Ruby's ``first | second``: both, in order, each value once."""
    seen: dict = {}
    for item in first + second:
        key = (type(item), item) if isinstance(item, (str, int, float, bool)) else repr(item)
        seen.setdefault(key, item)
    return list(seen.values())


def _categories(folders: list[str], front: Mapping) -> tuple[str, ...]:
    """Return the post's categories (#populate_categories after #merge_categories!).

    The folders above ``_posts``, then ``categories`` (a string split), then the singular
    ``category`` taken whole -- both keys count -- each as Ruby's ``to_s``, once each.
    feedsvc drops empty names (a ``null`` item: Jekyll keeps "" and also the unconverted
    value, which jekyll-feed prints as a second term: see docs/jekyll.md, deviations).
    """
    value = front.get("categories")
    singular = front.get("category")
    if singular is None or singular is False:   # the common case: strings only
        if value is None:
            return _names(folders)
        if isinstance(value, str) and value.isascii():
            return _names(folders + value.split())
        if isinstance(value, list) and all(type(item) is str for item in value):
            return _names(folders + value)
    listed = _union(list(folders), _split(value)) if value is not None else list(folders)
    if singular is not None and singular is not False:
        extra = _flat(singular)
    elif isinstance(value, (str, list)):
        extra = [item for item in _split(value) if item is not None]
    else:
        extra = []
    return _names([ruby_s(item) for item in listed + extra])


def _tags(front: Mapping) -> tuple[str, ...]:
    """Return the post's tags (#populate_tags, Utils.pluralized_array_from_hash): the singular
    ``tag`` taken whole if given, else ``tags`` (a string split on white space)."""
    singular = front.get("tag")
    if singular is not None and singular is not False:
        values = _flat(singular)
    else:
        plural = front.get("tags")
        if plural is None:
            return ()
        if isinstance(plural, str) and plural.isascii():
            return _names(plural.split())
        if isinstance(plural, list) and all(type(item) is str for item in plural):
            return _names(plural)
        values = _split(plural) if isinstance(plural, (str, list)) else []
    return _names([ruby_s(item) for item in values if item is not None])


def _flat(value: object) -> list:
    if isinstance(value, list):
        return [x for item in value for x in _flat(item)]
    return [] if value is None else [value]


_interned: dict[str, str] = {}


def _names(names: list[str]) -> tuple[str, ...]:
    """Drop duplicates, keep order; share one string per name across posts (memory)."""
    unique = dict.fromkeys(names)
    unique.pop("", None)
    return share_names(tuple(unique))


_shared_names: dict[tuple[str, ...], tuple[str, ...]] = {}


def share_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Return one shared tuple for each distinct list of names, of shared strings.

    Most posts repeat a few combinations of categories and tags; at 100k posts, sharing
    them saves tens of MB. The table stops growing at 100k combinations.
    """
    shared = _shared_names.get(names)
    if shared is None:
        shared = tuple(_interned.setdefault(n, n) for n in names)
        if len(_shared_names) < 100_000:
            _shared_names[shared] = shared
    return shared


def _author(front: Mapping, options: ParseOptions) -> tuple[str, str, str]:
    """Return (name, e-mail, uri) as jekyll-feed's feed.xml resolves a post's author.

    ``post.author | default: post.authors[0] | default: site.author``, then
    ``site.data.authors[that] | default: that``, then its ``name`` (or itself), ``email``,
    ``uri``.
    """
    value = front.get("author")
    if not _liquid_truthy(value):
        authors = front.get("authors")
        value = authors[0] if isinstance(authors, list) and authors else None
    if not _liquid_truthy(value):
        if not options.author:
            return "", "", ""
        value = options.author
        if options.author_email or options.author_uri:   # the site's author hash
            value = {"name": options.author, "email": options.author_email,
                     "uri": options.author_uri}
    if isinstance(value, str):
        value = options.site.author_entry(value) or value
    if isinstance(value, dict):
        name = value.get("name")
        return (_share(_author_text(name if _liquid_truthy(name) else "").strip()),
                _share(_author_text(value.get("email")).strip()),
                _share(_author_text(value.get("uri")).strip()))
    return _share(_author_text(value).strip()), "", ""


def _author_text(value: object) -> str:
    if isinstance(value, list):   # several authors: their names, joined
        return ", ".join(n for n in (_author_text(v).strip() for v in value) if n)
    if isinstance(value, dict):
        return _author_text(value.get("name"))
    return ruby_s(value)


def _share(text: str) -> str:
    return _interned.setdefault(text, text)


def _image(value: object) -> str:
    if isinstance(value, dict):  # jekyll-seo-tag style: image: {path: ..., alt: ...}
        value = value.get("path")
    return scalar_text(value).strip()


def titleize(slug: str) -> str:
    """Return Jekyll's Utils.titleize_slug: split on '-', each part capitalized, joined by
    spaces (Ruby's split drops trailing empty parts, keeps the others)."""
    words = slug.split("-")
    while words and not words[-1]:
        words.pop()
    return " ".join(word.capitalize() for word in words)



def read_source(rel: str, options: ParseOptions) -> tuple[dict, str, int, str] | None:
    """Return (front matter, body, the file line the body starts on, digest) of a post file,
    or None when it holds no post now; what Liquid needs besides the Post record."""
    try:
        data = _read_limited(os.path.join(options.root, rel), options.max_post_bytes + 1)
        if len(data) > options.max_post_bytes:
            return None
        text = read_text(data, rel)
        front, body = front_and_body(rel, text, options)
    except (OSError, ContentError):
        return None
    digest = hashlib.blake2b(data, digest_size=12).hexdigest()
    return front, body, text.count("\n", 0, len(text) - len(body)) + 1, digest
