"""Feeds of the test's site (tests/conftest.py's pipeline) with the news site's metadata.

``build(**overrides)`` loads the site from scratch and builds its feeds;
``store_and_builder()`` gives a store and a builder to keep across reloads (incremental
builds); ``write`` writes a post, ``news`` the news site; ``atom_schema`` validates Atom
against RFC 4287.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree, isoschematron

from feedsvc.config import Settings
from feedsvc.feeds import FeedBuilder, FeedSet
from feedsvc.source import Store
from tests.feeds.news import BODY, META, SCHEMAS


@pytest.fixture
def feed_settings(make_settings) -> Callable[..., Settings]:
    """Return a factory of the news site's settings; keyword arguments override any key."""
    def feed_settings(**overrides: object) -> Settings:
        return make_settings(**{**META, **overrides})
    return feed_settings


@pytest.fixture
def build(feed_settings, clock) -> Callable[..., FeedSet]:
    """Return a function loading the site from scratch and building its feeds."""
    def build(**overrides: object) -> FeedSet:
        settings = feed_settings(**overrides)
        store = Store.from_settings(settings, clock=clock)
        return FeedBuilder.from_settings(settings).build(store.reload(), store)
    return build


@pytest.fixture
def store_and_builder(feed_settings, clock) -> Callable[..., tuple[Store, FeedBuilder]]:
    """Return a factory of a store and a builder of the site as configured now, to keep
    across reloads (the incremental builds); keyword arguments override any setting."""
    def store_and_builder(**overrides: object) -> tuple[Store, FeedBuilder]:
        settings = feed_settings(**overrides)
        return Store.from_settings(settings, clock=clock), FeedBuilder.from_settings(settings)
    return store_and_builder


@pytest.fixture
def write(write_file) -> Callable[..., Path]:
    """Return a factory writing ``_posts/<name>`` with *front* and the news body by default."""
    def write(name: str, front: str, body: str = BODY) -> Path:
        return write_file(f"_posts/{name}", front, body)
    return write


@pytest.fixture
def news(write) -> None:
    """Write the news site: three due posts (news.py's POST_1..3), one future post, one
    unpublished post."""
    write("2022-05-11-shi-gong-jing-lian.md",
          'title: "政策解读答疑、助力复工复产……线上搭平台"\n'
          "date: 2022-05-11 17:16:04 +0800\ncategories: dongfangwang\ntags: 东方网新闻")
    write("2022-05-10-metro-line.md",
          "title: Metro line 5 opens\ndate: 2022-05-10T08:00:00+08:00\n"
          "categories: [metro, dongfangwang]\ntags: [交通, 东方网新闻]\nauthor: 王记者\n"
          "last_modified_at: 2022-05-12 09:30:00 +0800")
    write("2022-05-09-weather.md",
          "title: 晴\ndate: '2022-05-09 07:30:00'\ncategories: weather\ntags: 天气\n"
          "image: /img/sun.jpg\ndescription: 今天天气晴朗。")
    write("2099-01-01-future.md", "title: Future\ndate: 2099-01-01 00:00:00 +0800\n"
          "categories: dongfangwang")
    write("2022-05-08-draft.md", "title: Draft\npublished: false\ncategories: drafts")


@pytest.fixture(scope="session")
def atom_schema() -> Callable[[etree._Element], None]:
    """Return a validator of Atom against RFC 4287's RELAX NG grammar and Schematron rules."""
    relax_ng = etree.RelaxNG(etree.parse(str(SCHEMAS / "atom.rng")))
    schematron = isoschematron.Schematron(etree.parse(str(SCHEMAS / "atom.sch")))

    def validate(root: etree._Element) -> None:
        assert relax_ng.validate(root), relax_ng.error_log
        assert schematron.validate(root), schematron.error_log
    return validate
