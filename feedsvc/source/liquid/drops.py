"""The values a template sees: ``page`` and ``site``, printed the way Ruby prints them.

Jekyll hands Liquid Ruby objects; what ``{{ x }}`` prints is Ruby's ``to_s``: a Time is
``2022-08-05 10:00:00 +0800``, a Hash is its ``inspect``. :class:`RubyTime` and
:class:`RubyHash` carry those spellings, :class:`PostDrop` is Jekyll's ``DocumentDrop`` of a
post (``jekyll/drops/document_drop.rb``), read lazily: a template that never asks for
``site.posts`` never builds them.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model import Post


class RubyTime(dt.datetime):
    """A datetime that prints as Ruby's ``Time#to_s``."""

    def __str__(self) -> str:
        return self.strftime("%Y-%m-%d %H:%M:%S %z")

    @classmethod
    def of(cls, value: dt.datetime) -> RubyTime:
        """Return *value* as a RubyTime (same instant, same zone)."""
        return cls(value.year, value.month, value.day, value.hour, value.minute, value.second,
                   value.microsecond, value.tzinfo, fold=value.fold)


class RubyHash(dict):
    """A dict that prints as Ruby's ``Hash#to_s`` (its inspect)."""

    def __str__(self) -> str:
        return ruby_inspect(self)

    __hash__ = None   # type: ignore[assignment]


def rubify(value: Any) -> Any:
    """Return a YAML value with its mappings as RubyHash and datetimes as RubyTime."""
    if isinstance(value, dict) and not isinstance(value, RubyHash):
        return RubyHash((str(k) if not isinstance(k, (int, float, bool)) else k, rubify(v))
                        for k, v in value.items())
    if isinstance(value, list):
        return [rubify(v) for v in value]
    if isinstance(value, dt.datetime) and not isinstance(value, RubyTime):
        return RubyTime.of(value)
    return value


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e", "\f": "\\f", "\v": "\\v",
            "\b": "\\b", "\a": "\\a", '"': '\\"', "\\": "\\\\", "#": "#"}


def ruby_inspect(value: Any) -> str:
    """Return Ruby's ``inspect`` of a Liquid value (Jekyll's ``inspect`` filter)."""
    if value is None:
        return "nil"
    if value is True or value is False:
        return str(value).lower()
    if isinstance(value, str):
        out = []
        for i, char in enumerate(value):
            if char == "#" and value[i + 1:i + 2] in ("{", "$", "@"):
                out.append("\\#")   # Ruby escapes what would start an interpolation
            elif char in _ESCAPES:
                out.append(_ESCAPES[char])
            elif ord(char) < 32 or ord(char) == 127:
                out.append(f"\\x{ord(char):02X}")
            else:
                out.append(char)
        return '"' + "".join(out) + '"'
    if isinstance(value, float):
        return ruby_float(value)
    if isinstance(value, PostDrop):
        return ruby_inspect(value.to_dict())
    if isinstance(value, Mapping):
        pairs = (f"{ruby_inspect(k)}=>{ruby_inspect(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(ruby_inspect(v) for v in value) + "]"
    return str(value)


def ruby_float(value: float) -> str:
    """Return Ruby's ``Float#to_s``: ``1.0``, ``1.5``, ``Infinity``, ``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def to_json_value(value: Any) -> Any:
    """Return *value* as plain JSON data the way Ruby's ``to_json`` sees it (jsonify)."""
    if isinstance(value, PostDrop):
        return to_json_value(value.to_dict())
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def ruby_json(value: Any) -> str:
    """Return Ruby's ``to_json`` of a Liquid value: compact, non-ASCII kept."""
    return json.dumps(to_json_value(value), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=True)


class PostWorld:
    """What a post's drop needs of the other posts; the renderer's per-snapshot view."""

    def front_of(self, post: Post) -> Mapping[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def content_of(self, post: Post) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def excerpt_of(self, drop: PostDrop) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def neighbour(self, post: Post, step: int) -> PostDrop | None:  # pragma: no cover
        raise NotImplementedError

    def date_of(self, post: Post) -> RubyTime:  # pragma: no cover - interface
        raise NotImplementedError


class PostDrop(Mapping[str, Any]):
    """Jekyll's DocumentDrop of one post: its methods first, then its front matter."""

    __slots__ = ("post", "world", "_front", "_content", "_cache")

    def __init__(self, post: Post, world: PostWorld, front: Mapping[str, Any] | None = None,
                 content: str | None = None) -> None:
        self.post = post
        self.world = world
        self._front = front
        self._content = content
        self._cache: dict[str, Any] = {}

    @property
    def front(self) -> Mapping[str, Any]:
        """Return the post's front matter (read from its file when first asked)."""
        if self._front is None:
            self._front = self.world.front_of(self.post)
        return self._front

    def __getitem__(self, key: str) -> Any:
        if key in self._cache:
            return self._cache[key]
        field = _FIELDS.get(key)
        if field is not None:
            value = field(self)
        elif key in self.front:
            value = self.front[key]
        else:
            raise KeyError(key)
        self._cache[key] = value
        return value

    def __iter__(self) -> Iterator[str]:
        yield from _FIELDS
        yield from (key for key in self.front if key not in _FIELDS)

    def __len__(self) -> int:
        return len(set(_FIELDS) | set(self.front))

    def __contains__(self, key: object) -> bool:
        return key in _FIELDS or key in self.front

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PostDrop) and other.post.path == self.post.path

    def __hash__(self) -> int:
        return hash(self.post.path)

    def __str__(self) -> str:
        return self.content_text()

    def content_text(self) -> str:
        """Return the post's raw content (Jekyll's Document#to_s before it is rendered)."""
        if self._content is None:
            self._content = self.world.content_of(self.post)
        return self._content

    def to_dict(self) -> dict[str, Any]:
        """Return the drop as a plain mapping, its neighbours left out (Jekyll's to_h)."""
        return {key: self[key] for key in self if key not in ("next", "previous", "output")}


def _id(drop: PostDrop) -> str:
    # Jekyll's Document#id: File.join(File.dirname(url), data["slug"] || basename)
    return os.path.dirname(drop.post.url).rstrip("/") + "/" + str(_slug(drop))


def _slug(drop: PostDrop) -> Any:
    return drop.front.get("slug") or drop.post.slug


_FIELDS: dict[str, Callable[[PostDrop], Any]] = {
    "content": PostDrop.content_text,
    "output": lambda d: None,
    "relative_path": lambda d: d.post.path,
    "path": lambda d: d.post.path,
    "url": lambda d: d.post.url,
    "date": lambda d: d.world.date_of(d.post),
    "id": _id,
    "collection": lambda d: "posts",
    "excerpt": lambda d: d.world.excerpt_of(d),
    "name": lambda d: d.front.get("name") or d.post.path.rsplit("/", 1)[-1],
    "next": lambda d: d.world.neighbour(d.post, -1),
    "previous": lambda d: d.world.neighbour(d.post, +1),
    "title": lambda d: d.post.title,
    "categories": lambda d: list(d.post.categories),
    "tags": lambda d: list(d.post.tags),
    "slug": _slug,
    "ext": lambda d: "." + d.post.path.rsplit(".", 1)[-1],
    "draft": lambda d: False,
}
