"""Indexes of posts by category and tag: built whole, or patched where few posts changed."""
from __future__ import annotations

from collections.abc import Callable, Mapping

from .model import Post


def patch_posts(posts: tuple[Post, ...], gone: set[str], new: list[Post]) -> tuple[Post, ...]:
    """Return *posts* (newest first) without the paths *gone*, with *new* put in place."""
    kept = [post for post in posts if post.path not in gone] if gone else list(posts)
    for post in new:
        key, low, high = post.sort_key, 0, len(kept)
        while low < high:   # binary search in a list sorted newest first
            middle = (low + high) // 2
            if kept[middle].sort_key > key:
                low = middle + 1
            else:
                high = middle
        kept.insert(low, post)
    return tuple(kept)


def patch_index(index: Mapping[str, tuple[Post, ...]], gone: list[Post], new: list[Post],
                 names: Callable[[Post], tuple[str, ...]]) -> dict[str, tuple[Post, ...]]:
    """Return a category or tag index with only the names the changed posts touch redone."""
    result = dict(index)
    gone_paths = {post.path for post in gone}
    for name in {name for post in gone + new for name in names(post)}:
        patched = patch_posts(index.get(name, ()), gone_paths,
                         [post for post in new if name in names(post)])
        if patched:
            result[name] = patched
        else:
            result.pop(name, None)
    return {name: result[name] for name in sorted(result)}


def build_index(posts: list[Post], names: Callable[[Post], tuple[str, ...]]
                ) -> dict[str, tuple[Post, ...]]:
    """Return name -> its posts (in the order of *posts*), names sorted."""
    groups: dict[str, list[Post]] = {}
    for post in posts:
        for name in names(post):
            groups.setdefault(name, []).append(post)
    return {name: tuple(groups[name]) for name in sorted(groups)}
