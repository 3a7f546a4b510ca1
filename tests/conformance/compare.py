"""Differential conformance: feedsvc against the real Jekyll 4.3 + jekyll-feed 0.17.

Both sides are run as programs and read back from what they write, so nothing here imports feedsvc:

* Jekyll: ``ruby jekyll_dump.rb SITE OUT [OVERRIDES_JSON]`` (Debian's jekyll + ruby-jekyll-feed)
  writes ``OUT/posts.json`` (every post as Jekyll sees it) and ``OUT/_site/feed.xml`` etc.
* feedsvc: ``feedsvc build --site SITE --out DIR`` with ``FEEDSVC_FEED_LIMIT=1000``, which writes
  ``DIR/feeds/all.atom`` and the jekyll-feed paths ``DIR/feed.xml``, ``DIR/feed/<category>.xml``,
  ``DIR/feed/by_tag/<tag>.xml``.

Every feed is parsed with feedparser. :func:`compare_site` returns a list of :class:`Difference`
records (plain data); ``python compare.py`` prints them, or writes them as JSON.

Which feedsvc runs: ``$FEEDSVC_CMD`` (split like a shell command) if set; else the feedsvc package
of the checkout this file is in, run as ``python -m feedsvc.cli`` with that checkout first on
``PYTHONPATH`` and the interpreter of ``/work/main/.venv`` when it exists (it has feedsvc's
dependencies), else this interpreter. Set ``FEEDSVC_CMD=/work/main/.venv/bin/feedsvc`` to test
whatever that venv's editable install points at instead.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import html
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterable, Mapping

import feedparser

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent.parent            # the repository root holding tests/conformance/
DUMP_SCRIPT = HERE / "jekyll_dump.rb"
MAIN_VENV = Path("/work/main/.venv")
FEED_LIMIT = "1000"

SITES = {
    "site": HERE / "site",
    "site_utc": HERE / "site_utc",
}
ERROR_SITES_DIR = HERE / "site_errors"

# The permalink styles run against the main site (both sides get the same override).
PERMALINK_STYLES = ("date", "pretty", "ordinal", "weekdate", "none",
                    "/:categories/:year/:i_month/:i_day/:short_year-:y_day-:hour:minute:second/:title:output_ext")


# ----------------------------------------------------------------------------------------------
# Records
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """One way feedsvc's output differs from Jekyll's, for one post (or one feed)."""

    site: str            # "site", "site_utc", "site_errors/<case>", "site[permalink=pretty]"
    subject: str         # a post's path relative to the site root, or a feed path ("/feed.xml")
    field: str           # included, url, published, updated, title, categories, tags, feed_terms,
                         # author, summary, content_present, content_text, id, feed_* , build
    jekyll: Any
    feedsvc: Any
    hint: str = ""       # a mechanical observation about the values (never a cause): e.g.
                         # "equal after percent-decoding", "feedsvc text has Liquid markup"

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class JekyllBuild:
    site_dir: Path
    out_dir: Path
    ok: bool
    data: dict[str, Any]
    seconds: float                      # wall clock of the ruby process
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)   # by relative_path

    @property
    def timings(self) -> dict[str, float]:
        return self.data.get("timings", {})


@dataclass
class FeedEntry:
    """The parts of an Atom entry the comparison looks at, from feedparser."""

    id: str
    link: str
    title: str
    title_type: str
    published: str | None
    updated: str | None
    author: str | None
    author_email: str | None
    author_uri: str | None
    lang: str | None                    # the entry's own xml:lang
    categories: list[str]               # feedsvc: scheme .../categories/; jekyll-feed: n/a
    tags: list[str]                     # feedsvc: scheme .../tags/;       jekyll-feed: n/a
    terms: list[str]                    # every <category term>, in order
    summary: str | None
    summary_type: str | None
    content: str | None
    image: str | None


@dataclass
class Feed:
    path: str
    title: str
    id: str
    self_link: str | None
    alternate_link: str | None
    updated: str | None
    author: str | None
    subtitle: str | None
    entries: list[FeedEntry]
    bozo: str | None


# ----------------------------------------------------------------------------------------------
# Running the two sides
# ----------------------------------------------------------------------------------------------

def run_jekyll_dump(site_dir: Path, out_dir: Path, overrides: Mapping[str, Any] | None = None,
                    ruby: str = "ruby") -> JekyllBuild:
    """Build *site_dir* with the real Jekyll into *out_dir* and load ``posts.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [ruby, str(DUMP_SCRIPT), str(site_dir), str(out_dir)]
    if overrides:
        cmd.append(json.dumps(overrides))
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - start
    posts_json = out_dir / "posts.json"
    if not posts_json.exists():
        raise RuntimeError(f"jekyll_dump.rb wrote no posts.json (exit {proc.returncode}):\n{proc.stderr}")
    data = json.loads(posts_json.read_text(encoding="utf-8"))
    data["stderr"] = proc.stderr
    build = JekyllBuild(site_dir, out_dir, bool(data.get("ok")), data, seconds)
    build.posts = {p["relative_path"]: p for p in data.get("posts", [])}
    return build


def feedsvc_command() -> tuple[list[str], dict[str, str]]:
    """The command that runs feedsvc's CLI, and the environment additions it needs."""
    if os.environ.get("FEEDSVC_CMD"):
        return shlex.split(os.environ["FEEDSVC_CMD"]), {}
    python = MAIN_VENV / "bin" / "python"
    interpreter = str(python) if python.exists() else sys.executable
    pythonpath = os.pathsep.join(p for p in (str(CHECKOUT), os.environ.get("PYTHONPATH", "")) if p)
    return [interpreter, "-m", "feedsvc.cli"], {"PYTHONPATH": pythonpath}


def run_feedsvc(args: list[str], env_extra: Mapping[str, str | None] | None = None,
                cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd, env_add = feedsvc_command()
    env = dict(os.environ)
    env.update(env_add)
    env.setdefault("FEEDSVC_FEED_LIMIT", FEED_LIMIT)
    for key, value in (env_extra or {}).items():
        if value is None:           # None: leave the variable unset (feedsvc's own default)
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(cmd + args, capture_output=True, text=True, env=env, timeout=600,
                          cwd=str(cwd or tempfile.gettempdir()))


def run_feedsvc_build(site_dir: Path, out_dir: Path,
                      env_extra: Mapping[str, str | None] | None = None) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``feedsvc build --site SITE --out OUT``; returns the folder the ``OUT`` symlink points at."""
    proc = run_feedsvc(["build", "--site", str(site_dir), "--out", str(out_dir)], env_extra)
    if proc.returncode != 0:
        raise RuntimeError(f"feedsvc build failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return out_dir.resolve(), proc


# ----------------------------------------------------------------------------------------------
# Parsing feeds
# ----------------------------------------------------------------------------------------------

def _link(links: Iterable[Mapping[str, Any]], rel: str) -> str | None:
    for link in links:
        if link.get("rel", "alternate") == rel:
            return link.get("href")
    return None


ATOM = "{http://www.w3.org/2005/Atom}"


XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _raw_entries(data: bytes) -> list[tuple[list[tuple[str, str]], str | None]] | None:
    """Every entry's ``<category term scheme>`` pairs in document order, duplicates kept, and
    the entry's own ``xml:lang``.

    feedparser drops an entry's repeated (term, scheme) pairs, and jekyll-feed does repeat them
    (a name that is both a category and a tag, or a tag listed twice), so terms are read from the
    XML itself. None if the XML does not parse.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    return [([(c.get("term", ""), c.get("scheme") or "") for c in entry.findall(ATOM + "category")],
             entry.get(XML_LANG)) for entry in root.findall(ATOM + "entry")]


def parse_feed(data: bytes, path: str = "") -> Feed:
    """Parse Atom bytes with feedparser into a :class:`Feed` (category terms from the raw XML)."""
    parsed = feedparser.parse(data)
    raw = _raw_entries(data)
    if raw is not None and len(raw) != len(parsed.entries):
        raw = None
    entries = []
    for i, e in enumerate(parsed.entries):
        terms, cats, tags = [], [], []
        pairs = raw[i][0] if raw is not None else [(t.get("term") or "", t.get("scheme") or "")
                                                   for t in e.get("tags", [])]
        for term, scheme in pairs:
            terms.append(term)
            if scheme.endswith("/categories/"):
                cats.append(term)
            elif scheme.endswith("/tags/"):
                tags.append(term)
        content = e.content[0].value if e.get("content") else None
        summary = e.get("summary") if "summary_detail" in e else None
        thumb = (e.get("media_thumbnail") or [{}])[0].get("url")
        entries.append(FeedEntry(
            id=e.get("id", ""), link=_link(e.get("links", []), "alternate") or e.get("link", ""),
            title=e.get("title", ""), title_type=e.get("title_detail", {}).get("type", ""),
            published=e.get("published"), updated=e.get("updated"),
            author=(e.get("author_detail") or {}).get("name"),
            author_email=(e.get("author_detail") or {}).get("email"),
            author_uri=(e.get("author_detail") or {}).get("href"),
            lang=raw[i][1] if raw is not None else None,
            categories=cats, tags=tags, terms=terms,
            summary=summary, summary_type=(e.get("summary_detail") or {}).get("type"),
            content=content, image=thumb))
    f = parsed.feed
    return Feed(path=path, title=f.get("title", ""), id=f.get("id", ""),
                self_link=_link(f.get("links", []), "self"), alternate_link=_link(f.get("links", []), "alternate"),
                updated=f.get("updated"), author=(f.get("author_detail") or {}).get("name"),
                subtitle=f.get("subtitle"), entries=entries,
                bozo=str(parsed.get("bozo_exception")) if parsed.bozo else None)


def feed_files(root: Path) -> dict[str, Path]:
    """jekyll-feed-style feed paths under a built site: "/feed.xml", "/feed/x.xml", ... -> file."""
    found = {}
    for p in sorted(root.rglob("*.xml")):
        rel = "/" + p.relative_to(root).as_posix()
        if rel.startswith(("/feed", "/atom")) or rel == "/feed.xml":
            found[rel] = p
    return found


# ----------------------------------------------------------------------------------------------
# Normalising text
# ----------------------------------------------------------------------------------------------

class _Text(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "tr", "table",
             "blockquote", "aside", "article", "section", "ul", "ol", "hr", "figure", "figcaption", "td", "th"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.BLOCK:
            self.out.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCK:
            self.out.append(" ")

    def handle_data(self, data: str) -> None:
        self.out.append(data)


TYPOGRAPHY = str.maketrans({
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u00a0": " ", "\u202f": " ", "\u2009": " ",
})
TYPOGRAPHY_MULTI = (("\u2014", "---"), ("\u2013", "--"), ("\u2026", "..."), ("\u00ab", "<<"), ("\u00bb", ">>"))


def html_text(fragment: str | None) -> str:
    """Text of an HTML fragment: tags dropped, entities decoded, white space collapsed."""
    if not fragment:
        return ""
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    return " ".join("".join(parser.out).split())


def fold(text: str) -> str:
    """Typographic quotes, dashes, ellipsis and odd spaces folded to ASCII; NFC; white space collapsed."""
    text = unicodedata.normalize("NFC", text).translate(TYPOGRAPHY)
    for fancy, plain in TYPOGRAPHY_MULTI:
        text = text.replace(fancy, plain)
    return " ".join(text.split())


def field_text(value: str | None, kind: str | None) -> str:
    """Reader-visible text of an Atom text construct as feedparser returns it."""
    if value is None:
        return ""
    if kind in ("text/plain", "text"):
        return " ".join(value.split())
    return html_text(value)


def first_difference(a: str, b: str, context: int = 40) -> str:
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    lo = max(0, i - context)
    return f"at char {i}: jekyll …{a[lo:i + context]!r}… feedsvc …{b[lo:i + context]!r}…"


# ----------------------------------------------------------------------------------------------
# Matching posts
# ----------------------------------------------------------------------------------------------

TAG_ID = re.compile(r"^tag:[^,]+,\d{4}-\d{2}-\d{2}:(?P<path>.+)$")


def candidate_files(site_dir: Path) -> list[str]:
    """Every file below a folder named _posts or _drafts (at any depth, _site excluded)."""
    out = []
    for p in sorted(site_dir.rglob("*")):
        if not p.is_file() and not p.is_symlink():
            continue
        rel = p.relative_to(site_dir).as_posix()
        parts = rel.split("/")
        if parts[0] == "_site":
            continue
        if any(part in ("_posts", "_drafts") for part in parts[:-1]):
            out.append(rel)
    return out


def stem(rel: str) -> str:
    """A post path without its extension (feedsvc's tag ids drop it)."""
    name = rel.rsplit("/", 1)[-1]
    if "." in name.lstrip("."):
        return rel[: len(rel) - len(name) + name.rindex(".")]
    return rel


def match_feedsvc_entries(entries: list[FeedEntry], candidates: list[str],
                          jekyll: JekyllBuild) -> tuple[dict[str, FeedEntry], list[FeedEntry]]:
    """feedsvc entries keyed by the post path they come from; and the ones that matched nothing."""
    by_stem: dict[str, list[str]] = {}
    for rel in candidates:
        by_stem.setdefault(stem(rel), []).append(rel)
    by_url = {p.get("absolute_url"): rel for rel, p in jekyll.posts.items()}
    matched: dict[str, FeedEntry] = {}
    unmatched = []
    for e in entries:
        rel = None
        m = TAG_ID.match(e.id)
        if m:
            path = urllib.parse.unquote(m.group("path"))
            options = by_stem.get(path, [])
            rel = options[0] if len(options) == 1 else None
        if rel is None:
            rel = by_url.get(e.link)
        if rel is None or rel in matched:
            unmatched.append(e)
        else:
            matched[rel] = e
    return matched, unmatched


# ----------------------------------------------------------------------------------------------
# Comparing
# ----------------------------------------------------------------------------------------------

def _instant(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _offset(text: str | None) -> str | None:
    m = re.search(r"(Z|[+-]\d{2}:\d{2})$", text or "")
    return m.group(1) if m else None


def _url_hint(a: str | None, b: str | None) -> str:
    if a and b and urllib.parse.unquote(a) == urllib.parse.unquote(b):
        return "equal after percent-decoding"
    if a and b and a.lower() == b.lower():
        return "equal ignoring case"
    return ""


def _text_hint(j: str, f: str) -> str:
    if fold(j) == fold(f):
        return "equal after typographic folding"
    if "{{" in f or "{%" in f:
        return "feedsvc text has Liquid markup"
    if fold(j).replace(" ", "") == fold(f).replace(" ", ""):
        return "equal ignoring white space"
    return ""


def compare_posts(site: str, jekyll: JekyllBuild, jfeed: Feed | None, ffeed: Feed,
                  candidates: list[str], fs_id_feed: Feed | None = None) -> list[Difference]:
    """Per-post differences between Jekyll (posts.json + its feed.xml) and feedsvc's Atom feed."""
    diffs: list[Difference] = []
    fs_by_rel, fs_unmatched = match_feedsvc_entries(ffeed.entries, candidates, jekyll)
    site_feed = (jekyll.data.get("site_config") or {}).get("feed") or {}
    site_feed = site_feed if isinstance(site_feed, dict) else {}
    j_by_link = {e.link: e for e in (jfeed.entries if jfeed else [])}
    fs_ids: dict[str, str] = {}
    if fs_id_feed is not None and len(fs_id_feed.entries) == len(ffeed.entries):
        # Same store, same order: the jekyll-feed id build lines up with the default build.
        for e, e2 in zip(ffeed.entries, fs_id_feed.entries):
            rel = next((r for r, x in fs_by_rel.items() if x is e), None)
            if rel:
                fs_ids[rel] = e2.id

    for e in fs_unmatched:
        diffs.append(Difference(site, e.id, "included", None, e.link, "feedsvc entry matches no file"))

    for rel in sorted(set(candidates) | set(jekyll.posts)):
        jp = jekyll.posts.get(rel)
        fe = fs_by_rel.get(rel)
        if jp is None and fe is None:
            continue
        if (jp is None) != (fe is None):
            diffs.append(Difference(site, rel, "included", jp is not None, fe is not None,
                                    f"jekyll url {jp['url']}" if jp else f"feedsvc url {fe.link}"))
            continue
        je = j_by_link.get(_jekyll_link(jp))
        diffs += _compare_post(site, rel, jp, je, fe, fs_ids.get(rel), site_feed)
    return diffs


def _jekyll_link(jp: Mapping[str, Any]) -> str:
    # jekyll-feed writes `post.url | absolute_url`: url + baseurl + url, Addressable-normalised.
    return jp["absolute_url"]


def _liquid_truthy(value: Any) -> bool:
    """Whether Liquid's `default` filter keeps *value* (it replaces nil, false and empty)."""
    return value not in (None, False, "", [], {})


def jekyll_summary(jp: Mapping[str, Any]) -> str | None:
    """jekyll-feed's summary for a post, from posts.json: `post.description | default: post.excerpt`,
    `strip_html | normalize_whitespace`, and no <summary> at all when that is empty."""
    if _liquid_truthy((jp.get("data") or {}).get("description")):
        text = html_text(jp["description_s"])
    else:   # a generated excerpt's output, or a front-matter excerpt's to_s ("" for none)
        text = html_text((jp.get("excerpt") or {}).get("html") or "")
    return text or None


def jekyll_excerpt_only(jp: Mapping[str, Any], site_feed: Mapping[str, Any]) -> bool:
    """`post.feed.excerpt_only | default: site.feed.excerpt_only` (a post's false cannot win)."""
    own = ((jp.get("data") or {}).get("feed") or {})
    own = own.get("excerpt_only") if isinstance(own, dict) else None
    return bool(own if _liquid_truthy(own) else site_feed.get("excerpt_only"))


def _compare_post(site: str, rel: str, jp: Mapping[str, Any], je: FeedEntry | None, fe: FeedEntry,
                  fs_jekyll_style_id: str | None, site_feed: Mapping[str, Any]) -> list[Difference]:
    out: list[Difference] = []

    def diff(fieldname: str, j: Any, f: Any, hint: str = "") -> None:
        out.append(Difference(site, rel, fieldname, j, f, hint))

    # URL: the feed's link when the post is in Jekyll's feed, else posts.json
    jurl = je.link if je else _jekyll_link(jp)
    if jurl != fe.link:
        diff("url", jurl, fe.link, _url_hint(jurl, fe.link))

    # Instants
    j_pub = je.published if je else jp["date"]
    if _instant(j_pub) != _instant(fe.published):
        delta = ""
        if _instant(j_pub) and _instant(fe.published):
            hours = (_instant(fe.published) - _instant(j_pub)).total_seconds() / 3600
            delta = f"feedsvc - jekyll = {hours:+g} h"
        diff("published", j_pub, fe.published, delta)
    elif _offset(j_pub) != _offset(fe.published):
        diff("published_offset", j_pub, fe.published, "same instant, printed in another zone")
    if je and _instant(je.updated) != _instant(fe.updated):
        diff("updated", je.updated, fe.updated)

    # Title (jekyll-feed: smartify | strip_html | normalize_whitespace | xml_escape, type="html")
    j_title = field_text(je.title, je.title_type) if je else jp["title"]
    f_title = field_text(fe.title, fe.title_type)
    if j_title != f_title:
        diff("title", j_title, f_title, _text_hint(j_title, f_title))

    # Categories and tags as data (Jekyll's post.categories / post.tags, stringified)
    j_cats = jp.get("categories") or []
    j_tags = jp.get("tags") or []
    if j_cats != fe.categories:
        diff("categories", j_cats, fe.categories)
    if j_tags != fe.tags:
        diff("tags", j_tags, fe.tags)
    # What jekyll-feed actually prints as <category term> (post.category wins over categories)
    if je is not None and je.terms != fe.terms:
        diff("feed_terms", je.terms, fe.terms)

    # Author name, e-mail, uri; entry language
    if je is not None:
        ja = {k: v for k, v in (("name", je.author), ("email", je.author_email), ("uri", je.author_uri)) if v}
        fa = {k: v for k, v in (("name", fe.author), ("email", fe.author_email), ("uri", fe.author_uri)) if v}
        if ja != fa:
            diff("author", ja, fa, "same name" if ja.get("name") == fa.get("name") else "")
        if (je.lang or "") != (fe.lang or ""):
            diff("lang", je.lang, fe.lang)

    # Summary: presence and text. A post beyond jekyll-feed's posts_limit is not in its feed:
    # then jekyll-feed's rule is applied to posts.json (jekyll_summary, jekyll_excerpt_only).
    where = "" if je is not None else "jekyll side from posts.json (beyond posts_limit); "
    if je is not None:
        j_sum = field_text(je.summary, je.summary_type) if je.summary is not None else None
        j_content = je.content is not None
    else:
        j_sum = jekyll_summary(jp)
        j_content = not jekyll_excerpt_only(jp, site_feed)
    f_sum = field_text(fe.summary, fe.summary_type) if fe.summary is not None else None
    if (j_sum is None) != (f_sum is None):
        diff("summary_present", j_sum is not None, f_sum is not None, f"{where}jekyll {j_sum!r} feedsvc {f_sum!r}")
    elif j_sum is not None and j_sum != f_sum:
        diff("summary", j_sum, f_sum, where + (_text_hint(j_sum, f_sum) or first_difference(j_sum, f_sum)))
    # Content presence (feed.excerpt_only) and text
    if j_content != (fe.content is not None):
        diff("content_present", j_content, fe.content is not None, where.rstrip("; "))

    j_text = fold(html_text(jp.get("content")))
    if fe.content is not None:
        f_text = fold(html_text(fe.content))
        if j_text != f_text:
            hint = _text_hint(j_text, f_text)
            diff("content_text", j_text[:300], f_text[:300], hint or first_difference(j_text, f_text))

    # Image
    if je is not None and je.image != fe.image:
        diff("image", je.image, fe.image, _url_hint(je.image, fe.image))

    # Ids: jekyll-feed's `post.id | absolute_url` against feedsvc's id_style: jekyll-feed
    if je is not None and fs_jekyll_style_id is not None and je.id != fs_jekyll_style_id:
        diff("id", je.id, fs_jekyll_style_id, _url_hint(je.id, fs_jekyll_style_id))
    return out


def compare_feeds(site: str, jekyll_root: Path, feedsvc_root: Path,
                  jfeeds: Mapping[str, Feed] | None = None) -> list[Difference]:
    """Feed-level differences at the jekyll-feed paths: which feeds exist, their metadata and entries."""
    out: list[Difference] = []
    jfiles = feed_files(jekyll_root)
    ffiles = {p: f for p, f in feed_files(feedsvc_root).items()}
    # Decode names so "/feed/东方网新闻.xml" matches however each side spells it on disk.
    for path in sorted(set(jfiles) | set(ffiles)):
        if path not in ffiles:
            out.append(Difference(site, path, "feed_exists", True, False))
            continue
        if path not in jfiles:
            out.append(Difference(site, path, "feed_exists", False, True))
            continue
        jf = (jfeeds or {}).get(path) or parse_feed(jfiles[path].read_bytes(), path)
        ff = parse_feed(ffiles[path].read_bytes(), path)
        for name in ("title", "id", "self_link", "alternate_link", "author", "subtitle"):
            a, b = getattr(jf, name), getattr(ff, name)
            if name == "title":
                a, b = html_text(a), html_text(b)
            if (a or "") != (b or ""):
                out.append(Difference(site, path, f"feed_{name}", a, b,
                                      _url_hint(a, b) if "link" in name or name == "id" else
                                      (_text_hint(a or "", b or "") if name == "title" else "")))
        if jf.bozo or ff.bozo:
            out.append(Difference(site, path, "feed_bozo", jf.bozo, ff.bozo))
        jl = [e.link for e in jf.entries]
        fl = [e.link for e in ff.entries]
        if len(jl) != len(fl):
            out.append(Difference(site, path, "feed_entry_count", len(jl), len(fl)))
            # Different limits: compare the newest entries both hold.
            n = min(len(jl), len(fl))
            jl, fl = jl[:n], fl[:n]
        if set(jl) != set(fl):
            out.append(Difference(site, path, "feed_entries", sorted(set(jl) - set(fl)), sorted(set(fl) - set(jl)),
                                  "jekyll only / feedsvc only (by link)"))
        elif jl != fl:
            # Entries with the same instant may come in any order: jekyll-feed's `sort: "date"` is
            # Ruby's unstable Array#sort!. Only an order the instants do not explain is a difference.
            j_when = [_instant(e.published) for e in jf.entries][: len(jl)]
            f_when = [_instant(e.published) for e in ff.entries][: len(fl)]
            if j_when != f_when:
                first = next((i for i, (a, b) in enumerate(zip(jl, fl)) if a != b), min(len(jl), len(fl)))
                out.append(Difference(site, path, "feed_order", jl[first:first + 3], fl[first:first + 3],
                                      f"first difference at entry {first}"))
        # jekyll-feed's <updated> is site.time (the build time); feedsvc's is the newest entry's.
        if jf.updated and ff.updated and jf.entries:
            newest = max((_instant(e.updated) for e in jf.entries if e.updated), default=None)
            if _instant(jf.updated) != newest and _instant(ff.updated) == newest:
                out.append(Difference(site, path, "feed_updated", "build time (site.time)",
                                      "newest entry updated", f"jekyll {jf.updated} feedsvc {ff.updated}"))
    return out


# ----------------------------------------------------------------------------------------------
# One site, end to end
# ----------------------------------------------------------------------------------------------

@dataclass
class SiteResult:
    site: str
    jekyll: JekyllBuild
    feedsvc_root: Path | None
    differences: list[Difference]
    posts_compared: int
    feedsvc_seconds: float
    notes: list[str] = field(default_factory=list)


def compare_site(name: str, site_dir: Path, work: Path, overrides: Mapping[str, Any] | None = None,
                 urls_only: bool = False) -> SiteResult:
    """Build *site_dir* with both, compare, and return every difference."""
    tag = name if not overrides else f"{name}[{','.join(f'{k}={v}' for k, v in overrides.items())}]"
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", tag)
    jekyll = run_jekyll_dump(site_dir, work / f"{safe}.jekyll", overrides)
    env = {f"FEEDSVC_{k.upper()}": str(v) for k, v in (overrides or {}).items()}
    start = time.monotonic()
    fs_root, _ = run_feedsvc_build(site_dir, work / f"{safe}.feedsvc", env)
    fs_id_root, _ = run_feedsvc_build(site_dir, work / f"{safe}.feedsvc-ids",
                                      {**env, "FEEDSVC_ID_STYLE": "jekyll-feed"})
    # Feed-level comparisons use feedsvc as a migrating site gets it: its own feed_limit default.
    fs_default_root = None
    if not urls_only:
        fs_default_root, _ = run_feedsvc_build(site_dir, work / f"{safe}.feedsvc-default-limit",
                                               {**env, "FEEDSVC_FEED_LIMIT": None})
    fs_seconds = time.monotonic() - start
    ffeed = parse_feed((fs_root / "feeds" / "all.atom").read_bytes(), "/feeds/all.atom")
    fs_id_feed = parse_feed((fs_id_root / "feeds" / "all.atom").read_bytes(), "/feeds/all.atom")
    jsite = jekyll.out_dir / "_site"
    jfeeds = {p: parse_feed(f.read_bytes(), p) for p, f in feed_files(jsite).items()} if jsite.exists() else {}
    main_path = (jekyll.data.get("site_config") or {}).get("feed", {}) or {}
    main_path = main_path.get("path") or "/feed.xml"
    jfeed = jfeeds.get(main_path)
    candidates = candidate_files(site_dir)
    diffs = compare_posts(tag, jekyll, jfeed, ffeed, candidates, fs_id_feed)
    if urls_only:
        diffs = [d for d in diffs if d.field in ("url", "included")]
    else:
        diffs += compare_feeds(tag, jsite, fs_default_root, jfeeds)
    notes = []
    if jfeed is not None and len(jfeed.entries) < len(jekyll.posts):
        notes.append(f"jekyll-feed's {main_path} holds {len(jfeed.entries)} of {len(jekyll.posts)} posts "
                     f"(posts_limit); posts beyond it are compared from posts.json only")
    both = len(set(jekyll.posts) & set(match_feedsvc_entries(ffeed.entries, candidates, jekyll)[0]))
    return SiteResult(tag, jekyll, fs_root, diffs, both, fs_seconds, notes)


def compare_error_site(case: str, site_dir: Path, work: Path) -> SiteResult:
    """A site that may stop Jekyll's build: what Jekyll does, and what feedsvc does."""
    name = f"site_errors/{case}"
    jekyll = run_jekyll_dump(site_dir, work / f"errors-{case}.jekyll")
    check = run_feedsvc(["check", "--site", str(site_dir)])
    diffs = []
    j_outcome = ("built" if jekyll.ok else
                 f"build fails in {jekyll.data.get('phase')}: {jekyll.data['error']['class']}: "
                 f"{jekyll.data['error']['message'].splitlines()[0][:200]}")
    j_outcome = j_outcome.replace(str(site_dir), "SITE")
    f_outcome = f"check exit {check.returncode}: " + " | ".join(
        line for line in check.stdout.splitlines() if line.strip())
    if not jekyll.ok or check.returncode != 0:
        diffs.append(Difference(name, "(site)", "build", j_outcome, f_outcome))
    try:
        fs_root, _ = run_feedsvc_build(site_dir, work / f"errors-{case}.feedsvc")
        ffeed = parse_feed((fs_root / "feeds" / "all.atom").read_bytes(), "/feeds/all.atom")
        candidates = candidate_files(site_dir)
        matched, _ = match_feedsvc_entries(ffeed.entries, candidates, jekyll)
        for rel in candidates:
            j_in = rel in jekyll.posts
            f_in = rel in matched
            if j_in != f_in:
                diffs.append(Difference(name, rel, "included", j_in, f_in))
    except RuntimeError as exc:
        fs_root = None
        diffs.append(Difference(name, "(site)", "feedsvc_build", None, str(exc)[:300]))
    return SiteResult(name, jekyll, fs_root, diffs, 0, 0.0)


def run_all(work: Path, styles: bool = True) -> list[SiteResult]:
    results = [compare_site(name, path, work) for name, path in SITES.items()]
    if styles:
        for style in PERMALINK_STYLES:
            results.append(compare_site("site", SITES["site"], work, {"permalink": style}, urls_only=True))
    if ERROR_SITES_DIR.exists():
        for case_dir in sorted(p for p in ERROR_SITES_DIR.iterdir() if p.is_dir()):
            results.append(compare_error_site(case_dir.name, case_dir, work))
    return results


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------

def _short(value: Any, width: int = 110) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def summary_lines(results: list[SiteResult]) -> list[str]:
    lines = []
    for r in results:
        counts: dict[str, int] = {}
        for d in r.differences:
            counts[d.field] = counts.get(d.field, 0) + 1
        t = r.jekyll.timings
        lines.append(f"{r.site}: jekyll {'ok' if r.jekyll.ok else 'FAILED'} "
                     f"({len(r.jekyll.posts)} posts, ruby {r.jekyll.seconds:.2f}s wall, "
                     f"render {t.get('render', 0):.2f}s, total in-process {t.get('total', 0):.2f}s); "
                     f"compared {r.posts_compared}; {len(r.differences)} differences "
                     + json.dumps(dict(sorted(counts.items())), ensure_ascii=False))
        lines += [f"  note: {n}" for n in r.notes]
    return lines


def _cell(value: Any, width: int = 160) -> str:
    text = _short(value, width) if value is not None else "—"
    return text.replace("|", "\\|").replace("\n", " ") or '""'


def markdown_table(results: list[SiteResult]) -> str:
    """Every difference as Markdown, one table per site, rows grouped by field."""
    out = ["# Every difference, as compare.py found it", "",
           "Generated by `python tests/conformance/compare.py --markdown FILE`; REPORT.md groups them "
           "by cause. Values are cut at 160 characters.", ""]
    out += ["```", *summary_lines(results), "```", ""]
    for r in results:
        if not r.differences:
            continue
        out += [f"## {r.site}", "", "| field | subject | jekyll | feedsvc | hint |", "|---|---|---|---|---|"]
        for d in sorted(r.differences, key=lambda d: (d.field, d.subject)):
            out.append(f"| {d.field} | {_cell(d.subject, 90)} | {_cell(d.jekyll)} | {_cell(d.feedsvc)} | "
                       f"{_cell(d.hint, 120) if d.hint else ''} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep", metavar="DIR", help="build into DIR and keep it (default: a temp dir, removed)")
    ap.add_argument("--json", metavar="FILE", help="write every difference as JSON to FILE")
    ap.add_argument("--markdown", metavar="FILE", help="write every difference as Markdown tables to FILE")
    ap.add_argument("--no-styles", action="store_true", help="skip the permalink-style runs")
    ap.add_argument("--site", action="append", metavar="NAME",
                    help=f"compare only these of {sorted(SITES)} (repeatable); skips styles and errors")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    args = ap.parse_args(argv)
    if not shutil.which("ruby"):
        print("compare.py: ruby not found: apt-get install -y jekyll ruby-jekyll-feed", file=sys.stderr)
        return 2
    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="conformance-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.site:
            results = [compare_site(n, SITES[n], work) for n in args.site]
        else:
            results = run_all(work, styles=not args.no_styles)
        if not args.quiet:
            for r in results:
                for d in r.differences:
                    print(f"{d.site} | {d.subject} | {d.field} | jekyll={_short(d.jekyll)} | "
                          f"feedsvc={_short(d.feedsvc)}" + (f" | {d.hint}" if d.hint else ""))
        print("\n".join(summary_lines(results)))
        if args.markdown:
            Path(args.markdown).write_text(markdown_table(results), encoding="utf-8")
        if args.json:
            payload = {
                "results": [{
                    "site": r.site, "jekyll_ok": r.jekyll.ok, "jekyll_posts": len(r.jekyll.posts),
                    "posts_compared": r.posts_compared, "jekyll_seconds": r.jekyll.seconds,
                    "jekyll_timings": r.jekyll.timings, "feedsvc_seconds": r.feedsvc_seconds,
                    "jekyll_error": r.jekyll.data.get("error"), "jekyll_log": r.jekyll.data.get("log"),
                    "notes": r.notes, "differences": [d.as_dict() for d in r.differences],
                } for r in results],
                "feedsvc_command": feedsvc_command()[0],
            }
            Path(args.json).write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
