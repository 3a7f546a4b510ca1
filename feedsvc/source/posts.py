"""Build a Post from one file: read it, split its front matter, apply Jekyll's rules."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
from collections.abc import Mapping

from ..dates import parse_date
from ..errors import ContentError
from .frontmatter import read_text, scalar_text, split_front_matter
from .liquid import check_liquid, wants_liquid
from .model import ParseOptions, Post
from .permalinks import post_url
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
    try:
        data = _read_limited(os.path.join(options.root, rel), options.max_post_bytes + 1)
    except OSError as exc:
        raise ContentError(rel, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > options.max_post_bytes:
        raise ContentError(rel, f"larger than max_post_bytes ({options.max_post_bytes} bytes)")
    text = read_text(data, rel)
    parts = split_front_matter(text, rel)
    if parts is None:
        return None, None  # Jekyll: a file without front matter is not a post
    front, body = parts
    if front.get("published", True) is False:
        return None, None
    try:
        post = make_post(rel, front, options, hashlib.blake2b(data, digest_size=12).hexdigest())
    except ValueError as exc:
        raise ContentError(rel, str(exc)) from None
    if wants_liquid(front, body):   # Jekyll renders it: a template that does not parse is broken
        check_liquid(rel, body, text.count("\n", 0, len(text) - len(body)) + 1, options.root)
    return post, body


def make_post(rel: str, front: Mapping, options: ParseOptions, digest: str) -> Post:
    """Return the post that front matter *front* of file *rel* describes."""
    name = rel.rsplit("/", 1)[-1]
    match = POST_NAME.match(name)
    if match is None:
        raise ValueError("file name is not YYYY-MM-DD-slug.EXT")
    year, month, day, slug, ext = match.groups()
    zone = options.zone
    try:
        file_date = _day(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"file name has an invalid date {year}-{month}-{day}") from None
    date = (dt.datetime.combine(file_date, dt.time(), zone) if front.get("date") is None
            else _date(front["date"], "date", zone))
    modified = front.get("last_modified_at")
    updated = date if modified is None else _date(modified, "last_modified_at", zone)
    parts = rel.split("/")
    dir_categories = parts[:parts.index("_posts")]  # Jekyll: a/b/_posts/ gives categories a, b
    categories = _names(dir_categories + _listed(front, "categories", "category"))
    title = scalar_text(front.get("title")).strip() or titleize(slug)
    return Post(
        path=rel, slug=slug, file_date=file_date, title=title, date=date, updated=max(updated, date),
        url=post_url(front, options, slug, date, categories, ext),
        categories=categories, tags=_names(_listed(front, "tags", "tag")),
        author=_author(front.get("author")),
        summary=scalar_text(front.get("description") or front.get("excerpt")).strip(),
        image=_image(front.get("image")), id=scalar_text(front.get("id")).strip(),
        excerpt_only=front["excerpt_only"] if isinstance(front.get("excerpt_only"), bool) else None,
        markdown=ext != "html", digest=digest,
    )


@functools.lru_cache(maxsize=4096)
def _day(year: int, month: int, day: int) -> dt.date:
    """Return the date of a file name, one shared object per day (memory, at 100k posts)."""
    return dt.date(year, month, day)


def _date(value: object, key: str, zone: dt.tzinfo) -> dt.datetime:
    try:
        return parse_date(value, zone)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _listed(front: Mapping, plural: str, singular: str) -> list[str]:
    """Return the names of a Jekyll list key: a string splits on whitespace, a list is as is."""
    value = front.get(plural)
    if value is None:
        value = front.get(singular)
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if item is not None and str(item).strip()]
    return [str(value)]


_interned: dict[str, str] = {}


def _names(names: list[str]) -> tuple[str, ...]:
    """Drop duplicates, keep order; share one string per name across posts (memory)."""
    return share_names(tuple(dict.fromkeys(names)))


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


def _author(value: object) -> str:
    if isinstance(value, dict):
        return scalar_text(value.get("name")).strip()
    if isinstance(value, list):
        return ", ".join(_author(item) for item in value if _author(item))
    return scalar_text(value).strip()


def _image(value: object) -> str:
    if isinstance(value, dict):  # jekyll-seo-tag style: image: {path: ..., alt: ...}
        value = value.get("path")
    return scalar_text(value).strip()


def titleize(slug: str) -> str:
    """Return Jekyll's title for a slug: words split on '-', each capitalized."""
    return " ".join(word.capitalize() for word in slug.split("-") if word)


def read_source(rel: str, options: ParseOptions) -> tuple[dict, str, int, str] | None:
    """Return (front matter, body, the file line the body starts on, digest) of a post file,
    or None when it holds no post now; what Liquid needs besides the Post record."""
    try:
        data = _read_limited(os.path.join(options.root, rel), options.max_post_bytes + 1)
        if len(data) > options.max_post_bytes:
            return None
        text = read_text(data, rel)
        parts = split_front_matter(text, rel)
    except (OSError, ContentError):
        return None
    if parts is None:
        return None
    front, body = parts
    digest = hashlib.blake2b(data, digest_size=12).hexdigest()
    return front, body, text.count("\n", 0, len(text) - len(body)) + 1, digest
