"""Jekyll's array filters (``jekyll/filters.rb``, ``filters/grouping_filters.rb``): where,
where_exp, find, find_exp, group_by, group_by_exp, sort, push, pop, shift, unshift,
array_to_sentence_string -- with Ruby's comparisons and ``to_s``.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from liquid.builtin.expressions import BooleanExpression, FilteredExpression
from liquid.builtin.expressions._tokenize import tokenize
from liquid.filter import with_context
from liquid.stream import TokenStream
from liquid.token import TOKEN_EXPRESSION, Token
from liquid.undefined import Undefined

from .drops import ruby_float


def ruby_to_s(value: Any) -> str:
    """Return Ruby's ``to_s`` of a Liquid value (nil is "", 1.0 is "1.0")."""
    if value is None or isinstance(value, Undefined):
        return ""
    if value is True or value is False:
        return str(value).lower()
    if isinstance(value, float):
        return ruby_float(value)
    return str(value)


_INTEGER_LIKE = re.compile(r"\A\s*-?\d+\s*\Z")
_FLOAT_LIKE = re.compile(r"\A\s*-?(?:\d+\.?\d*|\.\d+)\s*\Z")


def _sort_value(value: Any) -> Any:
    """Return Jekyll's parse_sort_input: numeric-looking values as numbers."""
    text = ruby_to_s(value)
    if _INTEGER_LIKE.match(text):
        return int(text)
    if _FLOAT_LIKE.match(text):
        return float(text)
    return value


def _property(item: Any, name: Any) -> Any:
    """Return Jekyll's item_property: ``item[name]``, a dotted name walked, numbers parsed."""
    value = item
    for key in str(name).split(".") if "." in str(name) else (str(name),):
        try:
            value = value[key] if isinstance(value, Mapping) else None
        except (KeyError, TypeError, IndexError):
            value = None
        if value is None or isinstance(value, Undefined):
            return None
    return _sort_value(value)


def _items(value: Any) -> list | None:
    if isinstance(value, Mapping) and not hasattr(value, "post"):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def _as_array(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _matches(prop: Any, target: Any) -> bool:
    if target is None or isinstance(target, Undefined):
        return prop is None
    target = ruby_to_s(target)
    if isinstance(prop, str):
        return prop == target
    return any(ruby_to_s(p) == target for p in _as_array(prop))


def where(value: Any, prop: Any = None, target: Any = None) -> Any:
    """Return the items whose property equals the target (or contains it, for lists)."""
    items = _items(value)
    if not prop or isinstance(target, (list, dict)) or items is None:
        return value
    return [item for item in items if _matches(_property(item, prop), target)]


def find(value: Any, prop: Any = None, target: Any = None) -> Any:
    """Return the first item whose property equals the target, or nil."""
    items = _items(value)
    if not prop or isinstance(target, (list, dict)) or items is None:
        return value
    return next((item for item in items if _matches(_property(item, prop), target)), None)


def _parse(expression: str, env: Any, boolean: bool) -> Any:
    token = Token(TOKEN_EXPRESSION, expression, 0, expression)
    stream = TokenStream(tokenize(expression, parent_token=token))
    return (BooleanExpression if boolean else FilteredExpression).parse(env, stream)


def _select(value: Any, variable: Any, expression: Any, context: Any, first: bool) -> Any:
    items = _items(value)
    if items is None:
        return value
    condition = _parse(str(expression), context.env, boolean=True)
    chosen = []
    for item in items:
        with context.extend({str(variable): item}):
            if condition.evaluate(context):
                if first:
                    return item
                chosen.append(item)
    return None if first else chosen


@with_context
def where_exp(value: Any, variable: Any, expression: Any, *, context: Any) -> Any:
    """Return the items for which a Liquid condition on *variable* is true."""
    return _select(value, variable, expression, context, first=False)


@with_context
def find_exp(value: Any, variable: Any, expression: Any, *, context: Any) -> Any:
    """Return the first item for which a Liquid condition on *variable* is true, or nil."""
    return _select(value, variable, expression, context, first=True)


def _grouped(groups: dict) -> list:
    return [{"name": name, "items": items, "size": len(items)} for name, items in groups.items()]


def group_by(value: Any, prop: Any) -> Any:
    """Return [{name, items, size}] of the items grouped by a property's text."""
    items = _items(value)
    if items is None:
        return value
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(ruby_to_s(_property(item, prop)), []).append(item)
    return _grouped(groups)


@with_context
def group_by_exp(value: Any, variable: Any, expression: Any, *, context: Any) -> Any:
    """Return [{name, items, size}] of the items grouped by a Liquid expression's value."""
    items = _items(value)
    if items is None:
        return value
    parsed = _parse(str(expression), context.env, boolean=False)
    groups: dict[Any, list] = {}
    for item in items:
        with context.extend({str(variable): item}):
            key = parsed.evaluate(context)
        key = key if isinstance(key, (str, int, float)) else ruby_to_s(key)
        groups.setdefault(key, []).append(item)
    return _grouped(groups)


def _compare(a: Any, b: Any) -> int:
    """Return Ruby's ``a <=> b``, falling back to comparing ``to_s`` (Jekyll's sort_input)."""
    try:
        if a < b:
            return -1
        return 1 if a > b else 0
    except TypeError:
        a, b = ruby_to_s(a), ruby_to_s(b)
        return -1 if a < b else (1 if a > b else 0)


def sort(value: Any, prop: Any = None, nils: Any = "first") -> Any:
    """Return the items sorted, by a property when given, nils first or last."""
    if value is None or isinstance(value, Undefined):
        raise ValueError("Cannot sort a null object.")
    items = _items(value) if not isinstance(value, str) else [value]
    if items is None:
        return value
    if prop is None:
        return sorted(items, key=functools.cmp_to_key(_compare))
    if nils not in ("first", "last"):
        raise ValueError(f"Invalid nils order: '{nils}' is not a valid nils order. "
                         "It must be 'first' or 'last'.")
    order = -1 if nils == "first" else 1

    def compare(a: tuple, b: tuple) -> int:
        if a[0] is not None and b[0] is None:
            return -order
        if a[0] is None and b[0] is not None:
            return order
        return _compare(a[0], b[0]) if a[0] is not None else 0

    keyed = sorted(((_property(i, prop), i) for i in items), key=functools.cmp_to_key(compare))
    return [item for _, item in keyed]


def _count(num: Any) -> int:
    try:
        return int(num)
    except (TypeError, ValueError):
        raise ValueError(f"invalid integer: {num!r}") from None


def pop(value: Any, num: Any = 1) -> Any:
    """Return the array without its last *num* items."""
    if not isinstance(value, list):
        return value
    n = _count(num)
    return value[:-n] if n > 0 else list(value)


def push(value: Any, item: Any) -> Any:
    """Return the array with *item* appended."""
    return value + [item] if isinstance(value, list) else value


def shift(value: Any, num: Any = 1) -> Any:
    """Return the array without its first *num* items."""
    return value[_count(num):] if isinstance(value, list) else value


def unshift(value: Any, item: Any) -> Any:
    """Return the array with *item* in front."""
    return [item] + value if isinstance(value, list) else value


def array_to_sentence_string(value: Any, connector: Any = "and") -> str:
    """Return ``a, b, and c`` (``a and b``; ``a``)."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"undefined method `length' for {ruby_to_s(value)!r}")
    words = [ruby_to_s(v) for v in value]
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    if len(words) == 2:
        return f"{words[0]} {connector} {words[1]}"
    return f"{', '.join(words[:-1])}, {connector} {words[-1]}"


ARRAY_FILTERS = {"where": where, "where_exp": where_exp, "find": find, "find_exp": find_exp,
                 "group_by": group_by, "group_by_exp": group_by_exp, "sort": sort, "pop": pop,
                 "push": push, "shift": shift, "unshift": unshift,
                 "array_to_sentence_string": array_to_sentence_string}
