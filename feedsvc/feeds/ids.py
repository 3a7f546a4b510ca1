"""Entry ids: the id each post asks for, and unique ids when several ask for the same.

Names: the id a post *asks for* is its ``requested`` id (front matter ``id``, else one made
by ``id_style``); the unique id it gets in the feeds is its ``entry_id``.
"""
from __future__ import annotations

import bisect
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote, urlsplit

from ..source import Post
from .content import clean_text, collapse

_URI_PLAIN = re.compile(r"[A-Za-z0-9_.~/-]*")   # what quote(safe="/") leaves as it is


def tag_authority(url: str) -> str:
    """Return the host name of *url* as the authority of tag URIs (RFC 4151 §2.1)."""
    host = urlsplit(url).hostname or "localhost"
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return quote(host, safe="")


def tag_uri(post: Post, authority: str) -> str:
    """Return the post's tag URI: ``tag:<host>,<file date>:<path without extension>``.

    Neither the scheme nor the site's path is in it, and the date comes from the file
    name, so moving the site to https or under /blog, or fixing a post's time, keeps it.
    """
    # Run for every post on a cold start: skip quote() when it would change nothing.
    specific = post.path.rpartition(".")[0]
    if not _URI_PLAIN.fullmatch(specific):
        specific = quote(specific, safe="/")
    return f"tag:{authority},{post.file_date.isoformat()}:{specific}"


# What Addressable::URI#normalize leaves in a path (pchar and "/"), with an existing
# percent-escape, and the "#" that starts a fragment: jekyll-feed's ids keep a slug's "#".
_ID_SAFE = "/:@!$&'()*+,;=~-._%#?"


def jekyll_feed_id(post: Post, site_url: str) -> str:
    """Return jekyll-feed's id for a post: ``post.id | absolute_url``.

    ``Document#id`` (jekyll/document.rb) is ``File.join(File.dirname(url), data["slug"])``:
    the URL's folder and the post's raw slug, which is not the URL's last segment when the
    slug slugifies differently (``hash-#1``) or the permalink does not end in it.
    """
    url = post.url.rstrip("/") if post.url != "/" else post.url
    folder = url.rpartition("/")[0] or "/"
    path = folder.rstrip("/") + "/" + post.slug
    if not _URI_PLAIN.fullmatch(path):
        path = quote(path, safe=_ID_SAFE)
    return site_url + path


def requested_id(post: Post, id_style: str, site_url: str, authority: str) -> str:
    """Return the id a post asks for: jekyll-feed's (which no front matter changes) with
    *id_style* ``jekyll-feed``; else front matter ``id``, else a tag URI."""
    if id_style == "jekyll-feed":
        return jekyll_feed_id(post, site_url)
    declared = collapse(clean_text(post.id))
    if declared:
        return declared
    return tag_uri(post, authority)


def assign_ids(posts: Sequence[Post], requested: Mapping[str, str]
               ) -> tuple[dict[str, str], tuple[str, ...]]:
    """Return (post path -> unique id, ids that were duplicated).

    *posts* are newest first; *requested* maps each path to the id it asks for. Of posts
    asking for the same id the oldest (by sort key) keeps it, since subscribers have
    seen it already; the next get ``#2``, ``#3``, ... in age order.
    """
    groups: dict[str, list[Post]] = {}
    for post in reversed(posts):
        groups.setdefault(requested[post.path], []).append(post)
    taken = set(groups)
    ids: dict[str, str] = {}
    duplicates = []
    for asked, members in groups.items():
        ids[members[0].path] = asked
        if len(members) > 1:
            duplicates.append(asked)
        number = 2
        for post in members[1:]:
            while f"{asked}#{number}" in taken:
                number += 1
            ids[post.path] = f"{asked}#{number}"
            taken.add(ids[post.path])
    return ids, tuple(sorted(duplicates))


_AGE = operator.attrgetter("epoch", "path")   # Post.sort_key, without the property call


class IdRegistry:
    """Keep :func:`assign_ids` of the newest snapshot up to date, redoing only what changed.

    Redoing assign_ids over every post took 1.2 s of a 1.3 s reload at 100k posts. The
    id of a post depends only on the posts asking for the same id (its group) and on
    which ids are asked for at all: a suffix ``w#n`` skips an id some post asks for, and
    can equal no other group's suffix (``w`` is what precedes the last ``#``). So a
    reload redoes the groups whose members changed, and the group ``w`` of any id
    ``w#n`` that appeared or went away. tests/feeds/test_ids.py checks the result against
    assign_ids over the whole snapshot.
    """

    def __init__(self, requested_id_of: Callable[[Post], str]) -> None:
        self._requested_id_of = requested_id_of   # the same post always asks for the same id
        self._posts: dict[str, Post] = {}    # path -> the post as last seen
        # Asked-for id -> its post, or its posts oldest first when several ask for it (a
        # list per post would cost 9 MB at 100k posts).
        self._groups: dict[str, Post | list[Post]] = {}
        self._duplicated: set[str] = set()
        self.ids: dict[str, str] = {}        # path -> unique id
        self.duplicates: tuple[str, ...] = ()   # sorted ids more than one post asks for

    def update(self, posts: Sequence[Post]) -> dict[str, str]:
        """Return path -> unique id for *posts* (newest first), as assign_ids would.

        The mapping is the registry's own, changed by the next update: read, never keep.
        """
        changed, gone = self._changes(posts)
        if not changed and not gone:
            return self.ids
        # Ask first: if that raises, nothing has been half updated.
        asked = [(post, self._requested_id_of(post))
                 for post in reversed(changed)]   # oldest first
        if not self._posts:   # the first build: every group is new and in age order
            for post, requested in asked:
                self._join(post, requested)
            dirty = [requested for requested, held in self._groups.items()
                     if isinstance(held, list)]
            self.ids = {post.path: requested for requested, post in self._groups.items()
                        if not isinstance(post, list)}
        else:
            dirty = {self._leave(path) for path in gone}
            dirty.update(self._leave(post.path) for post in changed if post.path in self._posts)
            for path in gone:
                del self.ids[path]
            for post, requested in asked:
                self._join(post, requested)
                dirty.add(requested)
            dirty.update({_stem(requested) for requested in dirty})
        for requested in dirty:
            self._assign(requested)
        self.duplicates = tuple(sorted(self._duplicated))
        return self.ids

    def _changes(self, posts: Sequence[Post]) -> tuple[list[Post], list[str]]:
        """Return the posts that are new or changed (newest first), and the paths gone."""
        known = self._posts
        changed = []
        for post in posts:
            old = known.get(post.path)
            if old is post:
                continue
            if old is not None and old.digest == post.digest and old.epoch == post.epoch:
                self._replace(old, post)   # the same file read again: same id asked for
                continue
            changed.append(post)
        gone: list[str] = []
        if len(known) > len(posts) - sum(post.path not in known for post in changed):
            present = {post.path for post in posts}
            gone = [path for path in known if path not in present]
        return changed, gone

    def _replace(self, old: Post, post: Post) -> None:
        """Put *post* where *old*, another read of the same file, was (holding no stale copy)."""
        requested = self._requested_id_of(old)
        held = self._groups[requested]
        if isinstance(held, list):
            held[bisect.bisect_left(held, _AGE(old), key=_AGE)] = post
        else:
            self._groups[requested] = post
        self._posts[post.path] = post

    def _join(self, post: Post, requested: str) -> None:
        """Add *post* to the group asking for *requested* (at its end: _assign sorts)."""
        self._posts[post.path] = post
        held = self._groups.get(requested)
        if held is None:
            self._groups[requested] = post
        elif isinstance(held, list):
            held.append(post)
        else:
            self._groups[requested] = [held, post]

    def _leave(self, path: str) -> str:
        """Take the post at *path* out of its group; return the id it asked for."""
        post = self._posts.pop(path)
        requested = self._requested_id_of(post)
        held = self._groups[requested]
        if not isinstance(held, list):
            del self._groups[requested]
            return requested
        del held[bisect.bisect_left(held, _AGE(post), key=_AGE)]
        if len(held) == 1:
            self._groups[requested] = held[0]
        return requested

    def _assign(self, requested: str) -> None:
        """Give each post asking for *requested* its unique id, as assign_ids does."""
        held = self._groups.get(requested)
        if not isinstance(held, list):
            if held is not None:
                self.ids[held.path] = requested
            self._duplicated.discard(requested)
            return
        held.sort(key=_AGE)
        self.ids[held[0].path] = requested
        number = 2
        for post in held[1:]:
            while f"{requested}#{number}" in self._groups:
                number += 1
            self.ids[post.path] = f"{requested}#{number}"
            number += 1
        self._duplicated.add(requested)


def _stem(requested: str) -> str:
    """Return the id whose suffixes ``#2``, ``#3``, ... *requested* could block, or itself."""
    stem, hash_mark, number = requested.rpartition("#")
    return stem if hash_mark and number.isdigit() else requested

