"""Stores of the test's site (tests/conftest.py's ``site_dir``) on the fixed ``clock``.

``make_store(**overrides)`` builds a store from ``make_settings``; ``only_post()`` loads the
site and returns its one post; ``write_config(text)`` replaces the site's ``_config.yml``
with *text*, keeping the site's URL and zone.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from feedsvc.source import Post, Store
from tests.conftest import SITE_URL

SITE_ZONE = "Asia/Shanghai"


@pytest.fixture
def make_store(make_settings, clock) -> Callable[..., Store]:
    """Return a factory of stores of ``site_dir``; keyword arguments override settings."""
    def make_store(**overrides: object) -> Store:
        return Store.from_settings(make_settings(**overrides), clock=clock)
    return make_store


@pytest.fixture
def only_post(make_store) -> Callable[..., Post]:
    """Return a function loading the site and returning its one post (no errors allowed)."""
    def only_post(**overrides: object) -> Post:
        snapshot = make_store(**overrides).reload()
        assert snapshot.errors == ()
        assert len(snapshot.posts) == 1
        return snapshot.posts[0]
    return only_post


@pytest.fixture
def write_config(site_dir: Path) -> Callable[[str], Path]:
    """Return a function replacing the site's ``_config.yml`` by its URL, zone and *text*."""
    def write_config(text: str) -> Path:
        path = site_dir / "_config.yml"
        path.write_text(f'url: "{SITE_URL}"\ntimezone: {SITE_ZONE}\n{text}', encoding="utf-8")
        return path
    return write_config
