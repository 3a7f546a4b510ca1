"""Jekyll's string, URL and date filters (``jekyll/filters.rb``, ``filters/url_filters.rb``,
``filters/date_filters.rb``), each as Jekyll 4.3.1 computes it.

Array filters (where, sort, group_by...) are in :mod:`.collections`; smartify in
:mod:`.smartypants`.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any
from urllib.parse import quote

import cmarkgfm
from cmarkgfm.cmark import Options
from dateutil import parser as date_parser
from liquid.filter import with_context

from ..permalinks import dash_runs
from .drops import PostDrop, ruby_inspect, ruby_json

# --- URLs: Addressable::URI#normalize, as relative_url and absolute_url use it ---------------
_UNRESERVED = "A-Za-z0-9\\-._~"
_SUB_DELIMS = "!$&'()*+,;="
_PCHAR = _UNRESERVED + _SUB_DELIMS + ":@"
_RESERVED = ":/?#\\[\\]@" + _SUB_DELIMS
_NOT_PCHAR = re.compile(rb"[^" + _PCHAR.encode() + rb"]")
_NOT_QUERY = re.compile(rb"[^" + (_UNRESERVED + "!$'()*+,=:@/?").encode() + rb"]")
_NOT_FRAGMENT = re.compile(rb"[^" + (_PCHAR + "/?").encode() + rb"]")
_NOT_COMPONENT = re.compile(rb"[^" + (_RESERVED + _UNRESERVED).encode() + rb"]")
_SCHEME = re.compile(r"\A([A-Za-z][A-Za-z0-9+.\-]*):")


def normalize_component(text: str, not_allowed: re.Pattern, keep: bytes = b"") -> str:
    """Return Addressable's ``normalize_component``: decode %XX, NFKC, encode what is not
    allowed (upper-case hex); an encoded byte in *keep* stays encoded."""
    def decode(match: re.Match) -> bytes:
        byte = bytes.fromhex(match.group()[1:].decode())
        return match.group().upper() if byte in keep else byte
    raw = re.sub(rb"%[0-9A-Fa-f]{2}", decode, text.encode("utf-8", "surrogatepass"))
    try:
        raw = unicodedata.normalize("NFKC", raw.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:
        pass
    keep_re = b"|".join(b"%" + bytes([k]).hex().upper().encode() for k in keep)
    pattern = not_allowed if not keep else re.compile(
        not_allowed.pattern[:-1] + b"%]|%(?!" + keep_re + b")")
    return pattern.sub(lambda m: "".join(f"%{b:02X}" for b in m.group()).encode(), raw).decode()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, as Addressable's normalize_path does it."""
    out: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if len(out) > 1 or (out and out[0] != ""):
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/".join(out)


def normalize_url(url: str) -> str:
    """Return ``Addressable::URI.parse(url).normalize.to_s`` for the URLs templates use."""
    rest, _, fragment = url.partition("#")
    has_fragment = "#" in url
    rest, has_query, query = rest.partition("?")
    scheme_match = _SCHEME.match(rest)
    scheme, authority, path = "", None, rest
    if scheme_match:
        scheme = scheme_match.group(1).lower()
        path = rest[scheme_match.end():]
    if path.startswith("//"):
        authority, slash, path = path[2:].partition("/")
        path = slash + path
        authority = authority.lower()
        if (scheme, authority.rpartition(":")[2]) in (("http", "80"), ("https", "443")):
            authority = authority.rpartition(":")[0]
    path = "/".join(normalize_component(seg, _NOT_PCHAR) for seg in path.strip().split("/"))
    path = _remove_dot_segments(path)
    if not path and scheme in ("http", "https", "ftp", "tftp"):
        path = "/"
    out = (scheme + ":" if scheme else "") + ("//" + authority if authority is not None else "")
    out += path
    if has_query:
        out += "?" + "&".join(normalize_component(p, _NOT_QUERY, b"+") for p in query.split("&"))
    if has_fragment:
        out += "#" + normalize_component(fragment, _NOT_FRAGMENT)
    return out


def _is_absolute(url: str) -> bool:
    return _SCHEME.match(url) is not None


def _leading_slash(text: str) -> str:
    return text if not text or text.startswith("/") else "/" + text


def _url_of(value: Any) -> str:
    return str(value["url"]) if isinstance(value, PostDrop) else str(value)


def site_relative_url(url: str, baseurl: str) -> str:
    """Return *url* under *baseurl* (Jekyll's compute_relative_url), unless it is absolute."""
    if _is_absolute(url):
        return url
    return normalize_url(_leading_slash(baseurl.rstrip("/")) + _leading_slash(url))


@with_context
def relative_url(value: Any, *, context: Any) -> str | None:
    """Return *value* under the site's baseurl, unless it is absolute (it has a scheme)."""
    if value is None:
        return None
    return site_relative_url(_url_of(value), str(context.registers.options.baseurl or ""))


@with_context
def absolute_url(value: Any, *, context: Any) -> str | None:
    """Return *value* as an absolute URL on the site's url and baseurl."""
    if value is None:
        return None
    url = _url_of(value)
    if _is_absolute(url):
        return url
    options = context.registers.options
    relative = site_relative_url(url, str(options.baseurl or ""))
    return normalize_url(options.url + relative) if options.url else relative


def strip_index(value: Any) -> Any:
    """Return a URL without its trailing ``/index.html``."""
    if value is None or str(value) == "":
        return value
    return re.sub(r"/index\.html?$", "/", str(value))


# --- dates ------------------------------------------------------------------------------------
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def to_time(value: Any, zone: dt.tzinfo) -> dt.datetime:
    """Return Liquid's ``Utils.to_date(value).to_time.localtime`` in the site's zone."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=zone)
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day, tzinfo=zone)
    elif isinstance(value, int) and not isinstance(value, bool):
        moment = dt.datetime.fromtimestamp(value, zone)
    elif isinstance(value, str) and value.strip():
        text = value.strip().lower()
        if text in ("now", "today"):
            moment = dt.datetime.now(zone)
        elif text.isdigit():
            moment = dt.datetime.fromtimestamp(int(text), zone)
        else:
            try:
                moment = date_parser.parse(value)
            except (ValueError, OverflowError):
                raise ValueError(f"Invalid Date: '{ruby_inspect(value)}' is not a valid "
                                 "datetime.") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
    else:
        raise ValueError(f"Invalid Date: '{ruby_inspect(value)}' is not a valid datetime.")
    return moment.astimezone(zone)


def _empty(value: Any) -> bool:
    return value is None or str(value) == ""


def _offset(moment: dt.datetime, colon: bool) -> str:
    text = moment.strftime("%z")
    return text[:3] + ":" + text[3:] if colon else text


@with_context
def date_to_xmlschema(value: Any, *, context: Any) -> Any:
    """Return the date as ``Time#xmlschema``: 2011-04-24T20:34:46+08:00."""
    if _empty(value):
        return value
    moment = to_time(value, context.registers.zone)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + _offset(moment, True)


@with_context
def date_to_rfc822(value: Any, *, context: Any) -> Any:
    """Return the date as ``Time#rfc822``: Sun, 24 Apr 2011 12:34:46 +0000."""
    if _empty(value):
        return value
    m = to_time(value, context.registers.zone)
    return (f"{_DAYS[m.weekday()]}, {m.day:02d} {_MONTHS[m.month - 1][:3]} {m.year} "
            f"{m:%H:%M:%S} {_offset(m, False)}")


def _ordinal(day: int) -> str:
    if 11 <= day <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _stringify_date(value: Any, long: bool, kind: Any, style: Any, zone: dt.tzinfo) -> Any:
    if _empty(value):
        return value
    m = to_time(value, zone)
    month = _MONTHS[m.month - 1] if long else _MONTHS[m.month - 1][:3]
    if kind == "ordinal":
        day = f"{m.day}{_ordinal(m.day)}"
        return f"{month} {day}, {m.year}" if style == "US" else f"{day} {month} {m.year}"
    return f"{m.day:02d} {month} {m.year}"


@with_context
def date_to_string(value: Any, kind: Any = None, style: Any = None, *, context: Any) -> Any:
    """Return the date as ``27 Jan 2011`` (``27th Jan 2011``, ``Jan 27th, 2011``)."""
    return _stringify_date(value, False, kind, style, context.registers.zone)


@with_context
def date_to_long_string(value: Any, kind: Any = None, style: Any = None, *, context: Any) -> Any:
    """Return the date as ``27 January 2011`` (or an ordinal form, as date_to_string)."""
    return _stringify_date(value, True, kind, style, context.registers.zone)


# --- strings --------------------------------------------------------------------------------
def xml_escape(value: Any) -> str:
    """Return the text with & < > " ' as XML entities (``encode(xml: :attr)``)."""
    text = "" if value is None else str(value)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def cgi_escape(value: Any) -> str:
    """Return Ruby's ``CGI.escape``: space as +, all but [A-Za-z0-9_.~-] percent-encoded."""
    return quote(str(value), safe="").replace("%20", "+")


def uri_escape(value: Any) -> str:
    """Return ``Addressable::URI.normalize_component`` of the text (reserved chars kept)."""
    return normalize_component(str(value), _NOT_COMPONENT)


def normalize_whitespace(value: Any) -> str:
    """Return the text with every run of white space one space, ends trimmed."""
    return re.sub(r"\s+", " ", "" if value is None else str(value)).strip()


_CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
                  r"\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]")
_NON_CJK_WORD = re.compile(_CJK.pattern.replace("[", "[^\\s", 1) + "+")


def number_of_words(value: Any, mode: Any = None) -> int:
    """Return the number of words; mode ``cjk`` counts each Han/Kana/Hangul character."""
    text = "" if value is None else str(value)
    if mode == "cjk":
        return len(_CJK.findall(text)) + len(_NON_CJK_WORD.findall(text))
    if mode == "auto":
        cjk = len(_CJK.findall(text))
        return len(text.split()) if cjk == 0 else cjk + len(_NON_CJK_WORD.findall(text))
    return len(text.split())


def markdownify(value: Any) -> str:
    """Return the text rendered as Markdown by cmark-gfm, as feedsvc renders post bodies.

    (Jekyll uses kramdown: its HTML differs in places, see docs/jekyll.md.)
    """
    text = "" if value is None else str(value)
    return cmarkgfm.markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE)


def jsonify(value: Any) -> str:
    """Return the value as compact JSON, as Ruby's ``to_json`` writes it."""
    return ruby_json(value)


def inspect(value: Any) -> str:
    """Return Ruby's ``inspect`` of the value, XML-escaped."""
    return xml_escape(ruby_inspect(value))


# --- slugify: Jekyll::Utils.slugify -----------------------------------------------------------
_SLUG_MODES = ("raw", "default", "pretty", "ascii", "latin")
_PRETTY_KEEP = set("._~!$&'()+,;=@")
# I18n's default approximations (i18n/backend/transliterator.rb), used by mode "latin".
_LATIN = dict(zip(
    "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝàáâãäåçèéêëìíîïðñòóôõöøùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĐđ"
    "ĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħĨĩĪīĬĭĮįİıĴĵĶķĸĹĺĻļĽľĿŀŁłŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧ"
    "ŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽž",
    "AAAAAACEEEEIIIIDNOOOOOxOUUUUYaaaaaaceeeeiiiidnoooooouuuuyyAaAaAaCcCcCcCcDdDd"
    "EeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiJjKkkLlLlLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtTt"
    "UuUuUuUuUuUuWwYyYZzZzZz"))
_LATIN.update({"Æ": "AE", "Þ": "Th", "ß": "ss", "æ": "ae", "þ": "th", "Ĳ": "IJ", "ĳ": "ij",
               "ŉ": "'n", "Ŋ": "NG", "ŋ": "ng", "Œ": "OE", "œ": "oe"})


def _slug_keeps(char: str, mode: str) -> bool:
    if mode == "raw":
        return not char.isspace()
    if mode == "ascii":
        return char.isascii() and char.isalnum()
    category = unicodedata.category(char)
    if category[0] in "LM" or category == "Nd":   # [\p{M}\p{L}\p{Nd}]
        return True
    return mode == "pretty" and char in _PRETTY_KEEP


def slugify(value: Any, mode: Any = None) -> Any:
    """Return Jekyll's slug of the text in one of its modes (default, raw, pretty, ascii,
    latin; any other mode only lower-cases)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"undefined method `gsub' for {ruby_inspect(value)}")
    mode = mode or "default"
    if mode not in _SLUG_MODES:
        return value.lower()
    text = value
    if mode == "latin":
        text = "".join(_LATIN.get(c, c if c.isascii() else "?") for c in text)
    return dash_runs(text, lambda char: _slug_keeps(char, mode)).lower()


def to_integer(value: Any) -> int:
    """Return the value as an integer (true is 1, false 0), as Ruby's ``to_i``."""
    if value is True:
        return 1
    if value is False:
        return 0
    match = re.match(r"\s*[-+]?\d+", str(value))
    return int(match.group()) if match else 0


URL_FILTERS = {"relative_url": relative_url, "absolute_url": absolute_url,
               "strip_index": strip_index}
DATE_FILTERS = {"date_to_xmlschema": date_to_xmlschema, "date_to_rfc822": date_to_rfc822,
                "date_to_string": date_to_string, "date_to_long_string": date_to_long_string}
STRING_FILTERS = {"xml_escape": xml_escape, "cgi_escape": cgi_escape, "uri_escape": uri_escape,
                  "normalize_whitespace": normalize_whitespace,
                  "number_of_words": number_of_words, "markdownify": markdownify,
                  "jsonify": jsonify, "inspect": inspect, "slugify": slugify,
                  "to_integer": to_integer}
