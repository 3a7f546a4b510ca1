"""Jekyll's tags for python-liquid: include, include_relative, highlight, link, post_url
(``jekyll/tags/*.rb``), and stand-ins for tags of Ruby plugins, which cannot run here.

A tag's render reads the post being rendered from ``context.registers`` (a ``RenderRun`` of
:mod:`.engine`): the site, the other posts, where to report notes.
"""
from __future__ import annotations

import re
from io import StringIO
from typing import Any, TextIO

from liquid.ast import BlockNode, Node
from liquid.exceptions import LiquidError, LiquidSyntaxError
from liquid.parser import get_parser
from liquid.stream import TokenStream
from liquid.tag import Tag
from liquid.token import TOKEN_EXPRESSION, TOKEN_TAG, Token
from liquid.undefined import Undefined


class Fatal(LiquidSyntaxError):
    """A syntax error Jekyll stops the build for in any error mode (never just a warning)."""


class RenderFailure(LiquidError):
    """An error of a Jekyll tag while rendering (a missing include, an unknown post...)."""


def _markup(stream: TokenStream) -> tuple[Token, str]:
    """Return the tag token and its raw markup; leave the stream on the tag's last token."""
    token = stream.current
    if stream.peek.kind == TOKEN_EXPRESSION:
        next(stream)
        return token, stream.current.value
    return token, ""


# --- include, include_relative: jekyll/tags/include.rb -----------------------------------------
_VALID = (r"""([\w-]+)\s*=\s*(?:"([^"\\]*(?:\\.[^"\\]*)*)"|'([^'\\]*(?:\\.[^'\\]*)*)'|"""
          r"""([\w.-]+))""")
VALID_PARAMS = re.compile(_VALID, re.A)
FULL_VALID_PARAMS = re.compile(rf"\A\s*(?:{_VALID}(?=\s|\Z)\s*)*\Z", re.A)
VARIABLE_FILE = re.compile(r"(?P<variable>[^{]*(\{\{\s*[\w\-.]+\s*(\|.*)?\}\}[^\s{}]*)+)"
                           r"(?P<params>.*)", re.S | re.A)
VALID_FILENAME = re.compile(r"^[\w/.\-()+~#@]+$", re.A)
INVALID_SEQUENCES = re.compile(r"[./]{2,}")


def include_name_error(name: str, tag: str) -> str | None:
    """Return why Jekyll refuses an include file name (``validate_file_name``), or None."""
    if INVALID_SEQUENCES.search(name) or not VALID_FILENAME.match(name):
        return (f"Invalid syntax for include tag. File contains invalid characters or "
                f"sequences: {name} (valid: {{% {tag} file.ext param='value' %}})")
    return None


class IncludeNode(Node):
    """``{% include file a="x" b=var %}``: a file of _includes/ rendered in this context."""

    __slots__ = ("tag", "file", "file_template", "params")

    def __init__(self, token: Token, tag: str, file: str, file_template: Any, params: str | None):
        super().__init__(token)
        self.tag, self.file, self.file_template, self.params = tag, file, file_template, params
        self.blank = False

    def render_to_output(self, context: Any, buffer: TextIO) -> int:
        run = context.registers
        name = self.file
        if self.file_template is not None:
            out = StringIO()
            self.file_template.render_with_context(context, out, partial=True)
            name = out.getvalue()
        reason = include_name_error(name, self.tag)
        if reason:
            raise RenderFailure(reason, token=self.token)
        partial = run.include(name, relative=self.tag == "include_relative", token=self.token)
        namespace = {} if self.params is None else {"include": self._params(context)}
        with context.extend(namespace):
            partial.render_with_context(context, buffer, partial=True)
        return 1

    def _params(self, context: Any) -> dict[str, Any]:
        params = {}
        for match in VALID_PARAMS.finditer(self.params or ""):
            key, dquoted, squoted, variable = match.groups()
            if dquoted is not None:
                params[key] = dquoted.replace('\\"', '"')
            elif squoted is not None:
                params[key] = squoted.replace("\\'", "'")
            else:
                params[key] = expression_value(variable, context, self.token)
        return params


_LITERALS = {"nil": None, "null": None, "": None, "true": True, "false": False,
             "blank": "", "empty": ""}


def expression_value(text: str, context: Any, token: Token) -> Any:
    """Return Liquid's ``context[text]``: a literal (3, 1.5, true, nil) or a variable's value."""
    if text in _LITERALS:
        return _LITERALS[text]
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d[\d.]+", text):
        try:
            return float(text)
        except ValueError:
            pass
    value = context.get(text.split("."), token=token)
    return None if isinstance(value, Undefined) else value


class IncludeTag(Tag):
    """Jekyll's include: the file name may hold ``{{ }}``; parameters are ``key=value``."""

    name = "include"
    block = False

    def parse(self, stream: TokenStream) -> Node:
        token, markup = _markup(stream)
        markup = markup.strip()
        matched = VARIABLE_FILE.search(markup)
        if matched:   # Jekyll: params is then "" at least, so include becomes {}
            file, params = matched["variable"].strip(), matched["params"].strip()
        else:
            parts = re.split(r"\s+", markup, maxsplit=1) if markup else [""]
            file, params = parts[0], (parts[1] if len(parts) > 1 else None)
        if params is not None and not FULL_VALID_PARAMS.match(params):
            raise Fatal(f"Invalid syntax for include tag: {params} "
                        f"(valid: {{% {self.name} file.ext param='value' %}})", token=token)
        template = None
        if matched:
            template = self.env.parse_partial_name(file)
        else:
            self.env.check_include(file, self.name, token)
        return IncludeNode(token, self.name, file, template, params)


class IncludeRelativeTag(IncludeTag):
    """Jekyll's include_relative: a file beside the post (never outside the site)."""

    name = "include_relative"


class IncludeCachedTag(IncludeTag):
    """jekyll-include-cache's include_cached: what include renders, cached by Jekyll."""

    name = "include_cached"


# --- highlight: jekyll/tags/highlight.rb, Rouge's HTML without token spans --------------------
HIGHLIGHT_SYNTAX = re.compile(r"^([a-zA-Z0-9.+#_-]+)((\s+\w+(=(\w+|\"([0-9]+\s)*[0-9]+\"))?)*)$",
                              re.A)
_LINE_ENDS = re.compile(r"\A[\n\r]+|[\n\r]+\Z")


def _escape_code(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class HighlightNode(Node):
    """``{% highlight lang [linenos] %}``: the block's text as escaped code in a figure."""

    __slots__ = ("lang", "linenos", "block")

    def __init__(self, token: Token, lang: str, linenos: bool, block: BlockNode):
        super().__init__(token)
        self.lang, self.linenos, self.block = lang, linenos, block
        self.blank = False

    def render_to_output(self, context: Any, buffer: TextIO) -> int:
        inner = StringIO()
        for node in self.block.nodes:
            node.render(context, inner)
        code = _escape_code(_LINE_ENDS.sub("", inner.getvalue()))
        if self.linenos:   # Rouge::Formatters::HTMLTable
            if not code.endswith("\n"):
                code += "\n"
            numbers = "".join(f"{i}\n" for i in range(1, code.count("\n") + 1))
            code = ('<table class="rouge-table"><tbody><tr><td class="gutter gl">'
                    f'<pre class="lineno">{numbers}</pre></td><td class="code"><pre>{code}'
                    "</pre></td></tr></tbody></table>")
        code = code[:-1] if code.endswith("\n") else code   # Ruby's chomp
        prefix = context.resolve("highlighter_prefix", default="") or ""
        suffix = context.resolve("highlighter_suffix", default="") or ""
        buffer.write(f'{prefix}<figure class="highlight"><pre><code class="language-'
                     f'{self.lang.replace("+", "-")}" data-lang="{self.lang}">{code}'
                     f"</code></pre></figure>{suffix}")
        return 1


class HighlightTag(Tag):
    """Jekyll's highlight block."""

    name = "highlight"
    end = "endhighlight"

    def parse(self, stream: TokenStream) -> Node:
        token, markup = _markup(stream)
        match = HIGHLIGHT_SYNTAX.match(markup.strip())
        if match is None:
            raise Fatal(f"Syntax Error in tag 'highlight' while parsing the following markup: "
                        f"{markup} (valid syntax: highlight <lang> [linenos])", token=token)
        options = re.findall(r'(?:\w="[^"]*"|\w=\w|\w)+', match.group(2), re.A)
        linenos = any(opt.split("=")[0] == "linenos" for opt in options)
        next(stream)
        block = get_parser(self.env).parse_block(stream, (self.end,))
        stream.expect(TOKEN_TAG, value=self.end)
        return HighlightNode(token, match.group(1).lower(), linenos, block)


# --- link and post_url: jekyll/tags/link.rb, post_url.rb ----------------------------------------
class LinkNode(Node):
    """``{% link path %}``: the relative_url of the post, page or file at *path*."""

    __slots__ = ("template",)

    def __init__(self, token: Token, template: Any):
        super().__init__(token)
        self.template = template
        self.blank = False

    def render_to_output(self, context: Any, buffer: TextIO) -> int:
        out = StringIO()
        self.template.render_with_context(context, out, partial=True)
        buffer.write(context.registers.link(out.getvalue(), self.token))
        return 1


class LinkTag(Tag):
    """Jekyll's link tag (its path may hold Liquid)."""

    name = "link"
    block = False

    def parse(self, stream: TokenStream) -> Node:
        token, markup = _markup(stream)
        return LinkNode(token, self.env.parse_partial_name(markup.strip()))


POST_NAME = re.compile(r"^(.+/)*(\d+-\d+-\d+)-(.*)$")


class PostUrlNode(Node):
    """``{% post_url [dir/]YYYY-MM-DD-slug %}``: the relative_url of that post."""

    __slots__ = ("name", "folder", "date", "slug")

    def __init__(self, token: Token, name: str, folder: str, date: str, slug: str):
        super().__init__(token)
        self.name, self.folder, self.date, self.slug = name, folder, date, slug
        self.blank = False

    def render_to_output(self, context: Any, buffer: TextIO) -> int:
        buffer.write(context.registers.post_url(self, self.token))
        return 1


class PostUrlTag(Tag):
    """Jekyll's post_url tag."""

    name = "post_url"
    block = False

    def parse(self, stream: TokenStream) -> Node:
        token, markup = _markup(stream)
        name = markup.strip()
        match = POST_NAME.match(re.sub(r"^/", "", name))
        if match is None:
            raise Fatal(f'Could not parse name of post "{name}" in tag \'post_url\'. Make sure '
                        "the post exists and the name is correct.", token=token)
        folder, date, slug = match.group(1) or "", match.group(2), match.group(3)
        return PostUrlNode(token, name, folder, date, slug)


# --- tags of Ruby plugins: rendered as their block's body, or as nothing ------------------------
class PluginNode(Node):
    """A plugin's tag: its body if it is a block, else nothing; reported either way."""

    __slots__ = ("tag", "block")

    def __init__(self, token: Token, tag: str, block: BlockNode | None):
        super().__init__(token)
        self.tag, self.block = tag, block
        self.blank = block is None

    def render_to_output(self, context: Any, buffer: TextIO) -> int:
        context.registers.plugin_used(self.tag, self.block is not None, self.token)
        if self.block is None:
            return 0
        return self.block.render(context, buffer)


def plugin_is_block(name: str, kind: str | None, stream: TokenStream) -> bool:
    """Return whether a plugin tag is a block: as its Ruby class says, else if an
    ``end<name>`` tag follows it."""
    if kind is not None:
        return kind == "block"
    end = "end" + name
    return any(t.kind == TOKEN_TAG and t.value == end for t in stream.tokens[stream.pos + 1:])


def plugin_tag(tag_name: str, kind: str | None) -> type[Tag]:
    """Return a python-liquid tag class standing in for the plugin tag *tag_name*."""
    class PluginTag(Tag):
        name = tag_name
        end = "end" + tag_name
        block = kind != "tag"

        def parse(self, stream: TokenStream) -> Node:
            token, _ = _markup(stream)
            if not plugin_is_block(tag_name, kind, stream):
                return PluginNode(token, tag_name, None)
            next(stream)
            block = get_parser(self.env).parse_block(stream, (self.end,))
            stream.expect(TOKEN_TAG, value=self.end)
            return PluginNode(token, tag_name, block)

    PluginTag.__name__ = PluginTag.__qualname__ = f"PluginTag_{tag_name}"
    return PluginTag


JEKYLL_TAGS = (IncludeTag, IncludeRelativeTag, HighlightTag, LinkTag, PostUrlTag)
