"""Instant restarts: the last published documents are served from cache_dir at once."""
from __future__ import annotations

import logging
import time

import feedparser
import pytest

from feedsvc.document_cache import FILE_NAME

WAIT = 30.0


@pytest.fixture
def restarted(make_app, tmp_path):
    """Return a factory of apps sharing one cache_dir: each call is a process restart."""
    cache = tmp_path / "cache"

    def restarted(**overrides):
        return make_app(cache_dir=str(cache), **overrides)
    restarted.cache = cache
    return restarted


def caught_up(app) -> None:
    """Wait for the catch-up reload a restored app runs in the background."""
    deadline = time.monotonic() + WAIT
    while app.state.site.status.reloads == 0:
        assert time.monotonic() < deadline, "no catch-up reload"
        time.sleep(0.01)


def titles(client, path="/feeds/all.atom"):
    return [e.title for e in feedparser.parse(client.get(path).data).entries]


def test_a_restart_serves_the_last_documents_before_any_reload(write_post, restarted):
    write_post("a", title="A", categories="metro")
    first = restarted()
    before = first.test_client().get("/feeds/all.atom", headers={"Accept-Encoding": "gzip"})
    second = restarted()
    site = second.state.site
    assert site.current.restored_at is not None
    client = second.test_client()
    after = client.get("/feeds/all.atom", headers={"Accept-Encoding": "gzip"})
    assert (after.status_code, after.data, after.headers["ETag"]) == \
        (200, before.data, before.headers["ETag"])
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").get_json()["posts"] == 1
    caught_up(second)
    assert client.get("/healthz").get_json()["status"] == "ok"
    assert client.get("/feeds/all.atom").data == first.test_client().get("/feeds/all.atom").data


def test_healthz_says_restored_until_the_catch_up_reload(write_post, restarted, monkeypatch):
    write_post("a", title="A")
    restarted()
    monkeypatch.setattr("feedsvc.scheduler.threading.Thread.start", lambda self: None)
    app = restarted()   # its catch-up reload never runs
    body = app.test_client().get("/healthz").get_json()
    assert (body["status"], body["posts"], body["last_reload"]) == ("restored", 1, None)


def test_what_changed_while_down_is_served_after_the_catch_up(write_post, restarted):
    write_post("a", title="A")
    restarted()
    write_post("b", title="B", date="2022-05-12 10:00:00 +0800")   # while it was down
    app = restarted()
    caught_up(app)
    assert titles(app.test_client()) == ["B", "A"]


def test_documents_of_other_settings_are_not_restored(write_post, restarted):
    write_post("a", title="A")
    restarted()
    app = restarted(title="Another title")
    assert app.state.site.current.restored_at is None   # loaded, not restored
    assert feedparser.parse(app.test_client().get("/feeds/all.atom").data).feed.title \
        == "Another title"


def test_a_damaged_cache_is_logged_and_the_site_loads(write_post, restarted, caplog):
    write_post("a", title="A")
    restarted()
    (restarted.cache / FILE_NAME).write_bytes(b"not a database" * 100)
    for leftover in restarted.cache.glob(FILE_NAME + "-*"):
        leftover.unlink()
    with caplog.at_level(logging.WARNING, logger="feedsvc"):
        app = restarted()
    assert "document cache" in caplog.text
    assert app.state.site.current.restored_at is None
    assert titles(app.test_client()) == ["A"]


def test_a_save_cut_short_is_not_restored(write_post, restarted):
    import sqlite3
    write_post("a", title="A")
    restarted()
    with sqlite3.connect(restarted.cache / FILE_NAME) as db:
        db.execute("DELETE FROM documents WHERE path = '/feeds/all.rss'")
    app = restarted()
    assert app.state.site.current.restored_at is None
    assert app.test_client().get("/feeds/all.rss").status_code == 200
