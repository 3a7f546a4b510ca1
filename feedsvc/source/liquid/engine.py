"""python-liquid set up as Jekyll's Liquid: its error rules, tags and filters.

Jekyll runs Liquid 5.4 with ``error_mode: warn``: a template that does not parse -- an
unclosed block, an unknown tag, an unterminated ``{{`` -- raises and stops the build, while a
malformed expression (``{{ foo | }}``) is only warned about and renders nothing. python-liquid
has one switch for both, so :func:`check_structure` finds the first kind itself (with
Liquid 5.4's messages) and the parse then runs lax, recording the rest as warnings.
"""
from __future__ import annotations

import functools
import os
import re
import threading
from typing import Any

from liquid import Environment, Mode
from liquid.context import RenderContext
from liquid.exceptions import LiquidError, LiquidSyntaxError
from liquid.loader import BaseLoader
from liquid.template import BoundTemplate
from liquid.token import TOKEN_OUTPUT, TOKEN_TAG, Token
from liquid.undefined import StrictUndefined, Undefined

from ...errors import ContentError
from .collections import ARRAY_FILTERS
from .filters import DATE_FILTERS, STRING_FILTERS, URL_FILTERS
from .options import SiteFacts, site_facts
from .smartypants import smartify
from .tags import (JEKYLL_TAGS, Fatal, IncludeCachedTag, RenderFailure, include_name_error,
                   plugin_is_block, plugin_tag)

# Liquid 5.4's standard filters (liquid/standardfilters.rb); python-liquid's others go, so a
# template using one renders as Jekyll renders an unknown filter: the input, unchanged.
RUBY_FILTERS = frozenset(
    "size downcase upcase capitalize escape escape_once url_encode url_decode base64_encode "
    "base64_decode base64_url_safe_encode base64_url_safe_decode slice truncate truncatewords "
    "split strip lstrip rstrip strip_html strip_newlines join sort sort_natural where uniq "
    "reverse map compact replace replace_first replace_last remove remove_first remove_last "
    "append concat prepend newline_to_br date first last abs plus minus times divided_by "
    "modulo round ceil floor at_least at_most default".split())
# Tag names python-liquid keeps in its tag table that are not tags of Liquid 5.4.
_NOT_TAGS = frozenset({"content", "output", "illegal", "doc"})
# Which inner tags each block takes (Liquid 5.4's If/Unless, Case, For#unknown_tag).
_INNER = {"if": {"elsif", "else"}, "unless": {"elsif", "else"}, "case": {"when", "else"},
          "for": {"else"}}


class _ParseState(threading.local):
    """The parse in progress on this thread: its site and the warnings it collects."""

    facts: SiteFacts | None = None
    warnings: list[LiquidError] | None = None
    position: Token | None = None     # the tag or output statement being parsed

    def __init__(self) -> None:
        self.including: set[str] = set()   # include files being checked, innermost last


_state = _ParseState()


class JekyllContext(RenderContext):
    """A render context that carries the post being rendered (Liquid's ``registers``)."""

    __slots__ = ("registers",)


class JekyllTemplate(BoundTemplate):
    context_class = JekyllContext


class _NoFileSystem(BaseLoader):
    """Liquid's file system in Jekyll: none, so ``{% render %}`` fails (include is Jekyll's)."""

    def get_source(self, env: Any, template_name: str, **kwargs: Any) -> Any:
        raise RenderFailure("This liquid context does not allow includes.", token=None)


class JekyllEnvironment(Environment):
    """python-liquid with Jekyll's tags and filters and Jekyll's error rules."""

    template_class = JekyllTemplate

    def __init__(self, plugin_tags: tuple[tuple[str, str | None], ...], strict_filters: bool,
                 strict_variables: bool) -> None:
        super().__init__(tolerance=Mode.LAX, strict_filters=strict_filters,
                         undefined=StrictUndefined if strict_variables else Undefined,
                         loader=_NoFileSystem())
        for name in _NOT_TAGS - {"content", "output", "illegal"}:
            self.tags.pop(name, None)
        for name in [n for n in self.filters if n not in RUBY_FILTERS]:
            del self.filters[name]
        for tag in JEKYLL_TAGS:
            self.add_tag(tag)
        self.plugin_kinds: dict[str, str | None] = {}
        for name, kind in plugin_tags:
            if kind == "include":
                self.add_tag(type("IncludeCached", (IncludeCachedTag,), {"name": name}))
            elif name not in self.tags:
                self.add_tag(plugin_tag(name, kind))
                self.plugin_kinds[name] = kind
        self.block_names = frozenset(
            name for name, tag in self.tags.items()
            if getattr(tag, "block", False) and getattr(tag, "end", "") and name not in _NOT_TAGS)
        for tag in self.tags.values():   # so a warning can say where its statement is
            tag.get_node = _positioned(tag.get_node)  # type: ignore[method-assign]
        for table in (URL_FILTERS, DATE_FILTERS, STRING_FILTERS, ARRAY_FILTERS):
            for name, func in table.items():
                self.add_filter(name, func)
        self.add_filter("smartify", smartify)

    def error(self, exc: Any, msg: str | None = None, token: Token | None = None) -> None:
        """Raise while rendering and for Fatal errors; while parsing, record a warning."""
        if not isinstance(exc, LiquidError):
            exc = exc(msg, token=token)
        facts, warnings = _state.facts, _state.warnings
        if exc.token is None or exc.token.start_index < 0:   # the statement has a place
            exc.token = token or (_state.position if warnings is not None else exc.token)
        if isinstance(exc, Fatal) or warnings is None or (facts and facts.error_mode == "strict"):
            raise exc
        if facts is None or facts.error_mode == "warn":
            warnings.append(exc)

    def parse_partial_name(self, source: str) -> BoundTemplate:
        """Parse the Liquid of a tag's argument (include's file name, link's path)."""
        return self.from_string(source)

    def check_include(self, name: str, tag: str, token: Token) -> None:
        """Refuse, while parsing, an include of a fixed name that cannot be included."""
        facts = _state.facts
        if facts is None or tag == "include_relative":
            return
        real, reason = None, include_name_error(name, tag)
        if reason is None:
            real, reason = locate_include(facts, name)
        if reason is None and real is not None:
            reason = _partial_error(facts, real, name)
        if reason:
            raise Fatal(reason if reason.startswith("Liquid") else f"Liquid: {reason}", token=token)


_partial_errors: dict[tuple, str | None] = {}   # (path, mtime, size) -> why it does not parse


def _partial_error(facts: SiteFacts, real: str, name: str) -> str | None:
    """Return why the include file *real* does not parse (Jekyll stops the build), or None."""
    try:
        st = os.stat(real)
        key = (real, st.st_mtime_ns, st.st_size)
    except OSError:
        return None
    if key not in _partial_errors:
        including = _state.including
        if real in including:   # it includes itself: Jekyll would never finish; stop here
            return None
        including.add(real)
        try:
            with open(real, encoding="utf-8", errors="replace") as handle:
                parse(handle.read(), facts)
            _partial_errors[key] = None
        except LiquidSyntax as exc:
            _partial_errors[key] = f"Liquid: in included file {name}: {exc.reason}"
        except OSError:
            return None
        finally:
            including.discard(real)
        if len(_partial_errors) > 1024:
            _partial_errors.pop(next(iter(_partial_errors)))
    return _partial_errors[key]


def _positioned(get_node: Any) -> Any:
    def get_node_at(stream: Any) -> Any:
        _state.position = stream.current
        return get_node(stream)
    return get_node_at


def locate_include(facts: SiteFacts, name: str) -> tuple[str | None, str | None]:
    """Return (real path, None) of _includes/*name*, or (None, why not): missing, or a
    symlink that leads out of _includes (never followed)."""
    path = os.path.join(facts.includes_dir, name)
    real = os.path.realpath(path)
    if not (real + os.sep).startswith(facts.includes_dir + os.sep):
        return None, (f"include {name!r} leads outside {os.path.basename(facts.includes_dir)}/ "
                      "(a symlink out of it); not read")
    if not os.path.isfile(real):
        return None, (f"Could not locate the included file {name!r} in "
                      f"{os.path.relpath(facts.includes_dir, facts.root)}/")
    return real, None


@functools.lru_cache(maxsize=16)
def _environment(plugin_tags: tuple[tuple[str, str | None], ...], strict_filters: bool,
                 strict_variables: bool) -> JekyllEnvironment:
    return JekyllEnvironment(plugin_tags, strict_filters, strict_variables)


def environment_for(facts: SiteFacts) -> JekyllEnvironment:
    """Return the (shared) environment of a site's plugin tags and Liquid settings."""
    return _environment(tuple(sorted(facts.plugin_tags.items())), facts.strict_filters,
                        facts.strict_variables)


def line_of(token: Token, source: str, first_line: int) -> int:
    """Return the file line of *token* in *source*, which starts on line *first_line*."""
    start = max(token.start_index, 0)
    return first_line + source.count("\n", 0, min(start, len(source)))


class LiquidSyntax(Exception):
    """A template that does not parse: why, and on which line of the file."""

    def __init__(self, reason: str, line: int | None) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line


def _tokens(env: JekyllEnvironment, source: str, first_line: int) -> list[Token]:
    try:
        return list(env.tokenizer()(source))
    except LiquidSyntaxError as exc:   # an unterminated {{ or {%
        token = exc.token
        start = max(token.start_index, 0) if token is not None else 0
        rest = source[start:]
        # Liquid 5.4's tokenizer: "{{" up to the first "}" (or "}}"), else "{{" alone.
        found = re.match(r"\{\{.*?\}\}?" if rest.startswith("{{") else r"\{%.*?%\}", rest, re.S)
        text = found.group() if found else rest[:2]
        what, end = ("Variable", "/\\}\\}/") if rest.startswith("{{") else ("Tag", "/\\%\\}/")
        line = line_of(token, source, first_line) if token is not None else None
        raise LiquidSyntax(f"Liquid syntax error: {what} '{text}' was not properly terminated "
                           f"with regexp: {end}", line) from None


def check_structure(env: JekyllEnvironment, source: str, first_line: int) -> list[Token]:
    """Return the tokens of *source*; raise LiquidSyntax where Liquid 5.4 stops parsing."""
    tokens = _tokens(env, source, first_line)
    stack: list[tuple[str, Token]] = []
    blocks = env.block_names
    for index, token in enumerate(tokens):
        if token.kind == TOKEN_OUTPUT and "}" in token.value.strip("{}-"):
            raise LiquidSyntax(f"Liquid syntax error: Variable '{token.value.split('}')[0]}}}' "
                               "was not properly terminated with regexp: /\\}\\}/",
                               line_of(token, source, first_line))
        if token.kind != TOKEN_TAG:
            continue
        name = token.value
        if stack and name == "end" + stack[-1][0]:
            stack.pop()
        elif name in env.plugin_kinds:
            rest = _Rest(tokens, index)
            if plugin_is_block(name, env.plugin_kinds[name], rest):
                stack.append((name, token))
        elif name in blocks:
            stack.append((name, token))
        elif name not in env.tags or name in _NOT_TAGS:
            if not (stack and name in _INNER.get(stack[-1][0], ())):
                raise LiquidSyntax(_unknown(name, stack[-1][0] if stack else None),
                                   line_of(token, source, first_line))
    if stack:
        name, token = stack[-1]
        raise LiquidSyntax(f"Liquid syntax error: '{name}' tag was never closed",
                           line_of(token, source, first_line))
    return tokens


class _Rest:
    """The part of a token list after one token, as plugin_is_block reads a stream."""

    def __init__(self, tokens: list[Token], index: int) -> None:
        self.tokens, self.pos = tokens, index


def _unknown(name: str, block: str | None) -> str:
    """Return Liquid 5.4's message for a tag nobody takes (Block/Document#unknown_tag)."""
    if name == "raw":
        return "Liquid syntax error: 'raw' tag was never closed"
    if block is None:
        if name in ("else", "end"):
            return f"Liquid syntax error: Unexpected outer '{name}' tag"
        return f"Liquid syntax error: Unknown tag '{name}'"
    if name == "else":
        return f"Liquid syntax error: {block} tag does not expect 'else' tag"
    if name.startswith("end"):
        return (f"Liquid syntax error: '{name}' is not a valid delimiter for {block} tags. "
                f"use end{block}")
    return f"Liquid syntax error: Unknown tag '{name}'"


def parse(source: str, facts: SiteFacts, first_line: int = 1
          ) -> tuple[BoundTemplate, list[tuple[int | None, str]]]:
    """Parse *source* as Jekyll would; return the template and its warnings (line, why).

    Raise LiquidSyntax for what stops Jekyll's build.
    """
    env = environment_for(facts)
    check_structure(env, source, first_line)
    saved = _state.facts, _state.warnings
    _state.facts, _state.warnings = facts, []
    try:
        template = env.from_string(source)
    except LiquidError as exc:   # a Fatal one, or any in error_mode strict
        token = exc.token
        line = line_of(token, source, first_line) if token is not None else None
        reason = exc.message
        if not reason.startswith("Liquid"):
            reason = f"Liquid syntax error: {reason}"
        raise LiquidSyntax(reason, line) from None
    finally:
        warnings = _state.warnings
        _state.facts, _state.warnings = saved
    found = []
    for warning in warnings or ():
        token = warning.token
        placed = token is not None and token.start_index >= 0
        line = line_of(token, source, first_line) if placed else None
        found.append((line, f"Liquid warning: {warning.message}"))
    return template, found


def check_syntax(rel: str, body: str, first_line: int, root: str) -> None:
    """Raise ContentError(rel, reason, line) if *body* is not a template Jekyll can parse."""
    try:
        parse(body, site_facts(root), first_line)
    except LiquidSyntax as exc:
        raise ContentError(rel, exc.reason, exc.line) from None
