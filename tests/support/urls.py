"""Request targets for tests that throw many URLs at the service."""
from __future__ import annotations


def unknown_urls(count: int, start: int = 0) -> list[str]:
    """Return *count* distinct unknown URLs of every shape a document has."""
    shapes = ("/feeds/categories/cat-{}.rss", "/feeds/tags/%E6%A0%87-{}.json",
              "/feeds/categories/c{}", "/feed/x-{}.xml", "/feed/by_tag/t{}.xml", "/x{}")
    return [shapes[i % len(shapes)].format(i) for i in range(start, start + count)]
