"""The web tests' apps: tests/conftest.py's pipeline serving tests/web/news.py's site.

``news`` is the app of that site, ``site`` its loaded site and ``web`` its test client;
``unloaded`` an app whose first load failed.
"""
from __future__ import annotations

import pytest

from tests.web.news import write_news


@pytest.fixture
def news(write_post, make_app):
    """Return the app of the news site (tests/web/news.py)."""
    write_news(write_post)
    return make_app()


@pytest.fixture
def site(news):
    return news.state.site


@pytest.fixture
def web(news):
    return news.test_client()


@pytest.fixture
def unloaded(write_post, make_app, monkeypatch):
    """Return an app whose first load failed: the site's files vanished while it listed them.

    Its site has one post, in category ``news``. ``monkeypatch.undo()`` gives the files back;
    the next reload then succeeds.
    """
    write_post("good", title="Good", categories="news")

    def vanished(*args):
        raise FileNotFoundError(2, "No such file or directory")
    monkeypatch.setattr("feedsvc.source.store.find_post_files", vanished)
    return make_app()
