"""What ``feedsvc check`` tells a site's authors besides broken posts.

Nothing here changes what is published: a notice is a post that is read exactly as Jekyll
reads it, but likely not as its author meant (an unquoted zone-less date, a URL Jekyll had
to clean), or a file under ``_posts`` that is no post. The pass re-reads every post's front
matter, so it runs only for ``feedsvc check``, never on a reload.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from ..errors import ContentError
from .frontmatter import read_text, split_front_matter
from .model import ParseOptions, Post
from .permalinks import slugify
from .posts import DATA_EXTENSIONS
from .scan import Walk, find_post_files


@dataclasses.dataclass(frozen=True)
class Notice:
    """One thing to tell about one file."""

    path: str
    kind: str       # "warning" (a post read, maybe not as meant) or "not a post"
    reason: str


# Checks of a post's text that other parts of the source layer add: each takes (path,
# front matter, body) and returns the reasons to warn of. The Liquid renderer
# (feedsvc/source/liquid.py) registers one for "Liquid it could not run" here.
POST_CHECKS: list[Callable[[str, Mapping, str], Iterable[str]]] = []


def site_notices(options: ParseOptions, posts: Iterable[Post]) -> list[Notice]:
    """Return the notices of a site: files under _posts that are no posts, then posts."""
    walk = Walk(os.path.realpath(options.root), options.exclude)
    files = [rel for rel, signature in find_post_files(Path(options.root), walk)
             if not isinstance(signature, ContentError)]
    notices = [Notice(rel, "not a post", reason) for rel, reason in walk.not_posts]
    notices += [Notice(rel, "not a post", "a YAML data file (Document#read loads it as data)")
                for rel in files if rel.rpartition(".")[2] in DATA_EXTENSIONS]
    for post in posts:
        notices += post_notices(post, options)
    return sorted(notices, key=lambda n: (n.path, n.kind, n.reason))


def post_notices(post: Post, options: ParseOptions) -> list[Notice]:
    """Return the warnings of one published or scheduled post."""
    try:
        with open(os.path.join(options.root, post.path), "rb") as handle:
            text = read_text(handle.read(options.max_post_bytes + 1), post.path)
        front, body = split_front_matter(text, post.path) or ({}, text)
    except (OSError, ContentError):
        return []   # changed since it was read: the next check sees it
    reasons = [*_zoneless_dates(front, post, options), *_cleaned_url(front, post)]
    for check in POST_CHECKS:
        reasons += check(post.path, front, body)
    return [Notice(post.path, "warning", reason) for reason in reasons]


def _zoneless_dates(front: Mapping, post: Post, options: ParseOptions) -> list[str]:
    """Warn of unquoted zone-less timestamps: YAML (Psych) reads them as UTC, which is
    rarely what an author in another zone meant."""
    reasons = []
    for key in ("date", "last_modified_at"):
        value = front.get(key)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            local = value.replace(tzinfo=dt.timezone.utc).astimezone(options.zone)
            if local.utcoffset():
                shown = value.isoformat(" ")
                offset = local.strftime("%z")
                reasons.append(
                    f"{key}: {shown} has no zone and no quotes, so Jekyll (and feedsvc) read "
                    f"it as UTC: {local:%Y-%m-%d %H:%M} in {options.timezone}. Write "
                    f"'{key}: {shown} {offset}' for {options.timezone} time, or quote it "
                    f"('{key}: \"{shown}\"') to mean the site's zone")
    return reasons


def _cleaned_url(front: Mapping, post: Post) -> list[str]:
    """Warn when Jekyll's URL rules changed what the post's name or categories say."""
    reasons = []
    name = post.path.rpartition("/")[2]
    slug = slugify(post.slug, "pretty", cased=True)
    if slug != post.slug:
        reasons.append(f"the URL slug {post.slug!r} was cleaned to {slug!r} "
                       f"(Utils.slugify): the URL is {post.url}")
    stem = name.rpartition(".")[0]
    if stem.endswith(".") and "slug" not in front:
        reasons.append(f"the dots at the end of {stem!r} are dropped from the URL ({post.url})")
    odd = [c for c in post.categories if ".." in c or "./" in c or "//" in c]
    if odd:
        reasons.append(f"the categories {odd!r} hold '..', './' or '//', which Jekyll removes "
                       f"from the URL (URL#sanitize_url): {post.url}")
    return reasons
