"""The pipeline every test builds on: a temporary site, posts, settings, the app, a clock.

``site_dir`` is a Jekyll site folder (a ``_config.yml`` and an empty ``_posts/``) made fresh
for each test; ``write_post`` writes posts in the news site's shape and ``write_file`` any
file at all; ``make_settings`` loads the settings of the site, ``make_app`` its app from
``create_app({...})`` (flaskr's conftest, datasette's config folders in ``tmp_path``).
Everything runs on a fixed ``clock``.

Hypothesis runs the ``ci`` profile unless ``HYPOTHESIS_PROFILE`` names another
(tests/support/profiles.py); it is loaded here, before any test module is imported, so every
``@settings`` of a test inherits it.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from feedsvc import create_app
from feedsvc.config import Settings, load_settings
from tests.support import profiles

profiles.load()

NOW = dt.datetime(2025, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
SITE_URL = "https://news.example.com"
SITE_CONFIG = f"""\
url: "{SITE_URL}"
title: "东方网 Test News"
description: "Test site <of> news & more"
timezone: Asia/Shanghai
lang: zh-CN
author: "News Desk"
"""


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by *seconds*."""
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    """Return a site folder with a ``_config.yml`` and an empty ``_posts/``."""
    root = tmp_path / "site"
    (root / "_posts").mkdir(parents=True)
    (root / "_config.yml").write_text(SITE_CONFIG, encoding="utf-8")
    return root


def _yaml_list(value: str | Iterable[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(list(value), ensure_ascii=False)   # a JSON list is a YAML flow list


@pytest.fixture
def write_post(site_dir: Path) -> Callable[..., Path]:
    """Return a factory writing one post, front matter shaped like the news site's."""
    def write_post(slug: str = "post", *, date: str = "2022-05-11 17:16:04 +0800",
                   title: str | None = None, categories: str | Iterable[str] | None = None,
                   tags: str | Iterable[str] | None = None,
                   body: str = "<p>正文 body</p>\n", extra: str = "",
                   folder: str = "_posts") -> Path:
        lines = ["---", "layout: post"]
        if title is not None:
            lines.append(f"title: {json.dumps(title, ensure_ascii=False)}")
        lines.append(f"date: {date}")
        for key, value in (("categories", categories), ("tags", tags)):
            shown = _yaml_list(value)
            if shown is not None:
                lines.append(f"{key}: {shown}")
        if extra:
            lines.append(extra.rstrip("\n"))
        lines.append("---")
        path = site_dir / folder / f"{date[:10]}-{slug}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n" + body, encoding="utf-8")
        return path
    return write_post


@pytest.fixture
def write_file(site_dir: Path) -> Callable[..., Path]:
    """Return a factory writing any file under the site folder, for tests of files as such.

    ``write_file(rel, front, body)`` writes ``---``, *front*, ``---`` and *body* (UTF-8);
    ``front=None`` leaves the front matter out; ``raw=`` writes those bytes instead.
    """
    def write_file(rel: str, front: str | None = "title: T", body: str = "<p>body</p>\n",
                   *, raw: bytes | None = None) -> Path:
        path = site_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if raw is None:
            text = body if front is None else f"---\n{front}\n---\n{body}"
            raw = text.encode("utf-8")
        path.write_bytes(raw)
        return path
    return write_file


@pytest.fixture
def make_settings(site_dir: Path) -> Callable[..., Settings]:
    """Return a factory of the settings of ``site_dir``; keyword arguments override any key.

    No environment and the shipped config/feedsvc.yaml, as ``create_app({...})`` loads them;
    ``site_dir=`` points it at another folder.
    """
    def make_settings(**overrides: object) -> Settings:
        return load_settings({"site_dir": str(site_dir), **overrides}, environ={})
    return make_settings


@pytest.fixture
def make_app(site_dir: Path, clock: FakeClock):
    """Return a factory of apps serving ``site_dir`` (as written so far) at the fixed clock.

    The scheduled reload is off (tests reload by calling ``site.reload()``); pass
    ``auto_reload=True`` to have it.
    """
    def make_app(**overrides: object):
        return create_app({"site_dir": str(site_dir), "auto_reload": False, **overrides},
                          clock=clock)
    return make_app


@pytest.fixture
def app(make_app):
    """Return the app of ``site_dir``: write posts before asking for it, or reload after."""
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(autouse=True)
def stop_reload_schedulers():
    """Stop every reload scheduler a test started (create_app starts one per app)."""
    yield
    from feedsvc.scheduler import shutdown_all
    shutdown_all()
