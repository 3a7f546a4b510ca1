"""The site (feedsvc/site.py): one reload() publishes snapshot → feeds → pages, or keeps the
old state and records why.

``Site.reload()`` is what every caller runs (the scheduler, ``feedsvc build``, the tests);
``Site.try_reload()`` is the step of every reload loop; ``Site.next_reload_at()`` says when
the next future post falls due; ``on_reload`` is the hook the web layer observes reloads by.
The scheduler that calls them is tested in tests/test_scheduler.py.
"""
from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest

from feedsvc.errors import ContentError
from feedsvc.site import DUE_MARGIN, Published, ReloadStatus, Site, hooks
from tests.conftest import FakeClock

CST = dt.timezone(dt.timedelta(hours=8))
MISSING = "cannot read the site folder: site folder is missing"


def published_entries(site: Site, path: str = "/feeds/all.atom") -> list:
    """Return the entries of the feed *site* publishes at *path*."""
    return feedparser.parse(site.current.documents[path].body).entries


@pytest.fixture
def make_site(make_settings, clock) -> Callable[..., Site]:
    """Return a factory of sites of ``site_dir`` on the fixed clock, not loaded yet."""
    def make_site(**kwargs: object) -> Site:
        return Site(make_settings(), clock, **kwargs)
    return make_site


@pytest.fixture
def hide_site(site_dir: Path, tmp_path: Path) -> Callable[[bool], None]:
    """Return a function moving the site folder away (True) or back (False)."""
    kept = tmp_path / "kept"

    def hide_site(hidden: bool = True) -> None:
        if hidden:
            shutil.move(site_dir, kept)
        else:
            shutil.move(kept, site_dir)
    return hide_site


# --- reload --------------------------------------------------------------------------------

def test_reload_publishes_every_document_and_records_the_success(write_post, make_site, clock):
    write_post("one", date="2024-12-31 08:00:00 +0800", categories="metro", title="One")
    site = make_site()
    assert site.current is None and site.document("/feeds/all.atom") is None
    published = site.reload()
    assert site.current is published
    assert site.document("/feeds/all.atom") is published.documents["/feeds/all.atom"]
    assert "/feeds/categories/metro.rss" in published.documents
    assert [e.title for e in published_entries(site)] == ["One"]
    assert (published.summary.posts, published.summary.categories) == (1, 1)
    assert published.snapshot is site.store.snapshot
    status = site.status
    assert (status.reloads, status.failures, status.last_success) == (1, 0, clock.now)
    assert status.last_duration is not None and status.last_duration >= 0


def test_unchanged_reload_reads_no_file_and_builds_no_feed(write_post, make_site):
    write_post("one", date="2024-12-31 08:00:00 +0800", categories="metro", tags="早高峰")
    site = make_site()
    first = site.reload()
    reads, builds = site.store.reads, site.builder.builds
    second = site.reload()
    assert (site.store.reads, site.builder.builds) == (reads, builds)
    assert {p: d.etag for p, d in second.documents.items()} == \
        {p: d.etag for p, d in first.documents.items()}


def test_only_feeds_touched_by_a_changed_post_are_rebuilt(write_post, make_site):
    write_post("metro", date="2024-12-30 08:00:00 +0800", categories="metro", title="M")
    write_post("sport", date="2024-12-31 08:00:00 +0800", categories="sports", title="S")
    site = make_site()
    first = site.reload()
    builds = site.builder.builds
    write_post("metro", date="2024-12-30 08:00:00 +0800", categories="metro", title="M2")
    second = site.reload()
    assert site.store.reads == 3
    untouched = "/feeds/categories/sports.rss"
    assert second.documents[untouched].body == first.documents[untouched].body
    assert second.documents[untouched].etag == first.documents[untouched].etag
    touched = "/feeds/categories/metro.rss"
    assert second.documents[touched].etag != first.documents[touched].etag
    # all + metro, three formats each, and their jekyll-feed paths; nothing of sports.
    assert site.builder.builds - builds == 8


def test_change_on_disk_is_served_over_http_after_reload(make_app, write_post):
    write_post("one", date="2024-12-31 08:00:00 +0800", title="One")
    app = make_app(auto_reload=False)
    client = app.test_client()
    before = client.get("/feeds/all.atom")
    assert [e.title for e in feedparser.parse(before.data).entries] == ["One"]
    write_post("two", date="2025-01-01 08:00:00 +0800", title="Two")
    app.state.site.reload()
    after = client.get("/feeds/all.atom")
    assert after.status_code == 200
    assert [e.title for e in feedparser.parse(after.data).entries] == ["Two", "One"]
    assert after.headers["ETag"] != before.headers["ETag"]


# --- a failed reload -----------------------------------------------------------------------

def test_failed_reload_raises_keeps_the_published_state_and_records_why(write_post, make_site,
                                                                        clock, hide_site):
    write_post("one", date="2024-12-31 08:00:00 +0800", title="One")
    site = make_site()
    before = site.reload()
    succeeded = clock.now
    hide_site()
    clock.advance(60)
    with pytest.raises(ContentError):
        site.reload()
    assert site.current is before
    assert site.document("/feeds/all.atom") is before.documents["/feeds/all.atom"]
    status = site.status
    assert (status.reloads, status.failures, status.last_error) == (1, 1, MISSING)
    assert (status.last_success, status.last_failure) == (succeeded, clock.now)


# --- try_reload: the step of every reload loop ---------------------------------------------

def test_try_reload_returns_what_it_published_or_none_and_logs_why(write_post, make_site,
                                                                   hide_site, caplog):
    write_post("one", date="2024-12-31 08:00:00 +0800", title="One")
    site = make_site()
    before = site.try_reload()
    assert before is not None and before is site.current
    hide_site()
    with caplog.at_level(logging.ERROR, logger="feedsvc.site"):
        assert site.try_reload() is None                # no exception escapes
    assert [r.getMessage() for r in caplog.records if r.name == "feedsvc.site"] == \
        [f"reload failed: {MISSING}"]
    assert site.current is before and site.status.failures == 1
    hide_site(False)                                    # back: the next step recovers
    after = site.try_reload()
    assert after is site.current and after is not before
    assert [e.title for e in published_entries(site)] == ["One"]


def test_an_unexpected_error_is_recorded_without_its_details_and_try_reload_survives_it(
        write_post, make_site, monkeypatch, caplog):
    write_post("one", title="One")
    site = make_site()
    before = site.reload()

    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the builder")
    monkeypatch.setattr(site.builder, "build", broken)
    with caplog.at_level(logging.ERROR, logger="feedsvc.site"):
        with pytest.raises(RuntimeError):
            site.reload()
        assert site.try_reload() is None
    assert site.current is before and site.status.failures == 2
    assert site.status.last_error == "internal error (RuntimeError); see the service log"
    assert "reload failed unexpectedly" in caplog.text and "a bug in the builder" in caplog.text


# --- the on_reload hook --------------------------------------------------------------------

def test_on_reload_gets_every_outcome_with_the_status_after_it(write_post, make_site,
                                                               hide_site):
    write_post("one", date="2024-12-31 08:00:00 +0800", title="One")
    calls: list[tuple[Published | None, ReloadStatus]] = []
    site = make_site(on_reload=lambda published, status: calls.append((published, status)))
    first = site.reload()
    assert calls == [(first, site.status)]
    assert calls[0][1].reloads == 1 and calls[0][0].documents["/feeds/all.atom"]
    hide_site()
    assert site.try_reload() is None
    with pytest.raises(ContentError):
        site.reload()
    # A failure is reported too: with None, and the status that counts it.
    assert [(published, status.failures) for published, status in calls[1:]] == \
        [(None, 1), (None, 2)]
    assert calls[2][1] is site.status and calls[2][1].last_error == MISSING
    hide_site(False)
    second = site.reload()
    assert calls[3] == (second, site.status)
    assert (calls[3][1].reloads, calls[3][1].failures) == (2, 2)


def test_hooks_calls_each_given_hook_in_turn():
    calls = []
    status = ReloadStatus()
    hook = hooks(lambda p, s: calls.append(("a", p, s)), None,
                 lambda p, s: calls.append(("b", p, s)))
    hook(None, status)
    assert calls == [("a", None, status), ("b", None, status)]


# --- when the next future post falls due ---------------------------------------------------

def test_next_reload_at_is_the_next_due_post_plus_a_margin(write_post, make_site,
                                                           clock: FakeClock):
    write_post("now", date="2025-01-01 08:00:00 +0800", title="Now")
    site = make_site()
    assert site.next_reload_at() is None                # nothing loaded yet
    site.reload()
    assert site.next_reload_at() is None                # no post waiting
    write_post("later", date="2025-01-01 21:00:00 +0800", title="Later")   # the clock + 1 h
    write_post("last", date="2025-01-02 09:00:00 +0800", title="Last")
    site.reload()
    due = dt.datetime(2025, 1, 1, 21, 0, tzinfo=CST)
    assert site.current.snapshot.next_due == due
    assert site.next_reload_at() == due + DUE_MARGIN
    assert site.next_reload_at(margin=dt.timedelta(seconds=5)) == due + dt.timedelta(seconds=5)
    # Already due (the clock moved past it): reload right away, never at an instant passed.
    clock.now = due + dt.timedelta(seconds=5)
    assert site.next_reload_at() == clock.now + DUE_MARGIN
    site.reload()                                       # published: the next one is due next
    assert [e.title for e in published_entries(site)] == ["Later", "Now"]
    assert site.next_reload_at() == dt.datetime(2025, 1, 2, 9, 0, tzinfo=CST) + DUE_MARGIN
