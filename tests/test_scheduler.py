"""The scheduled reload: its job options, failures, future posts on time, which process runs it.

Most tests call the job function and the due-time computation directly with the fixed clock;
two start real APScheduler timers and wait for an event with a bound (never a timed assertion).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import threading
import time
import types

import pytest
from flask import Flask

from feedsvc.config import load_settings
from feedsvc.errors import ContentError
from feedsvc.scheduler import DUE_JOB, RELOAD_JOB, ReloadScheduler, attach
from feedsvc.site import DUE_MARGIN, Site
from feedsvc.dates import utc_now
from tests.test_site import published_entries

CST = dt.timezone(dt.timedelta(hours=8))
WAIT = 30.0   # bound of every wait on a real timer (generous: CI machines get busy)


class FakeSite:
    """A site whose reload() counts calls, can fail, and reports a chosen next_due.

    The loop step and the due time are the real Site's, run on this fake's reload().
    """

    try_reload = Site.try_reload
    next_reload_at = Site.next_reload_at

    def __init__(self, clock, next_due: dt.datetime | None = None, failures: int = 0) -> None:
        self.clock = clock
        self.failures = failures
        self.calls = 0
        self.called = threading.Event()
        self.succeeded = threading.Event()
        self.next_due = next_due
        self.current = self._published()

    def _published(self) -> types.SimpleNamespace:
        return types.SimpleNamespace(summary=types.SimpleNamespace(next_due=self.next_due))

    def reload(self) -> types.SimpleNamespace:
        self.calls += 1
        self.called.set()
        if self.failures:
            self.failures -= 1
            raise ContentError(".", "cannot read the site folder: No such file or directory")
        self.current = self._published()
        self.succeeded.set()
        return self.current


@pytest.fixture
def scheduler_of():
    """Return a factory of schedulers, every one shut down after the test."""
    made: list[ReloadScheduler] = []

    def scheduler_of(site, interval: float = 60, **kwargs: object) -> ReloadScheduler:
        scheduler = ReloadScheduler(site, interval, **kwargs)
        made.append(scheduler)
        return scheduler
    yield scheduler_of
    for scheduler in made:
        scheduler.shutdown()


# --- the job itself ----------------------------------------------------------------------

def test_reload_job_runs_one_at_a_time_coalesced_and_never_dropped(clock, scheduler_of):
    scheduler = scheduler_of(FakeSite(clock), interval=60)
    scheduler.start()
    job = scheduler.job(RELOAD_JOB)
    assert scheduler.running
    assert job.trigger.interval == dt.timedelta(seconds=60)
    assert job.max_instances == 1
    assert job.coalesce is True
    # None: run however late; APScheduler's default (1 s) drops runs when its pool is busy.
    assert job.misfire_grace_time is None


def test_failed_reload_is_logged_with_its_cause_and_the_job_lives_on(clock, scheduler_of,
                                                                    caplog):
    site = FakeSite(clock, failures=1)
    scheduler = scheduler_of(site)
    scheduler.start()
    with caplog.at_level(logging.WARNING, logger="feedsvc.scheduler"):
        scheduler.run_reload()   # must not raise
    assert site.calls == 1
    assert "scheduled reload failed" in caplog.text
    assert scheduler.running
    assert scheduler.job(RELOAD_JOB) is not None
    scheduler.run_reload()
    assert site.succeeded.is_set()


def test_real_timer_keeps_reloading_after_a_failure(clock, scheduler_of):
    site = FakeSite(clock, failures=1)
    scheduler = scheduler_of(site, interval=1)
    scheduler.start(reload_now=True)
    assert site.succeeded.wait(WAIT), "no successful reload after the failed one"
    assert site.calls >= 2
    assert scheduler.running


def test_shutdown_stops_the_thread_and_a_request_does_not_restart_it(clock, scheduler_of):
    scheduler = scheduler_of(FakeSite(clock))
    scheduler.start()
    scheduler.shutdown()
    assert not scheduler.running
    scheduler.ensure_started()
    assert not scheduler.running


# --- future posts --------------------------------------------------------------------------

def near(instant: dt.datetime, expected: dt.datetime) -> bool:
    """Return whether a job's run time (taken from the real clock) is *expected*, give or take."""
    return abs(instant - expected) < dt.timedelta(seconds=5)


def test_each_reload_replaces_the_one_off_due_job(scheduler_of):
    due = dt.datetime(2099, 1, 1, 8, 0, tzinfo=CST)
    site = FakeSite(utc_now, due)
    scheduler = scheduler_of(site)
    scheduler.start()
    job = scheduler.job(DUE_JOB)
    assert near(job.next_run_time, due + DUE_MARGIN)
    assert job.misfire_grace_time is None
    site.next_due = due + dt.timedelta(days=1)
    scheduler.run_reload()
    assert near(scheduler.job(DUE_JOB).next_run_time, due + dt.timedelta(days=1) + DUE_MARGIN)
    site.next_due = None
    scheduler.run_reload()
    assert scheduler.job(DUE_JOB) is None


def test_due_job_waits_on_the_real_clock_as_long_as_the_site_clock_says(clock, scheduler_of):
    # A site on a fixed clock, its next post an hour ahead of it: the one-off reload is an
    # hour away in real time too (not "in the past, run now", again and again).
    scheduler = scheduler_of(FakeSite(clock, clock.now + dt.timedelta(hours=1)))
    scheduler.start()
    expected = utc_now() + dt.timedelta(hours=1) + DUE_MARGIN
    assert near(scheduler.job(DUE_JOB).next_run_time, expected)


def test_future_post_appears_when_the_clock_reaches_its_time(site_dir, write_post, clock,
                                                            scheduler_of):
    write_post("old", date="2024-12-31 08:00:00 +0800", title="Old")
    write_post("later", date="2025-01-01 21:00:00 +0800", title="Later")   # NOW + 1 h
    site = Site(load_settings({"site_dir": str(site_dir)}), clock)
    site.reload()
    scheduler = scheduler_of(site)
    due = dt.datetime(2025, 1, 1, 21, 0, tzinfo=CST)
    assert site.current.snapshot.next_due == due
    run_at = site.next_reload_at()
    assert run_at == due + DUE_MARGIN
    assert [e.title for e in published_entries(site)] == ["Old"]

    clock.now = due - dt.timedelta(seconds=1)
    scheduler.run_reload()
    assert [e.title for e in published_entries(site)] == ["Old"]

    clock.now = run_at
    scheduler.run_reload()
    entries = published_entries(site)
    assert [e.title for e in entries] == ["Later", "Old"]
    published = dt.datetime.fromisoformat(entries[0].published)
    assert published == due
    assert published.utcoffset() == dt.timedelta(hours=8)
    assert site.current.snapshot.next_due is None
    assert site.next_reload_at() is None


def test_real_timer_publishes_a_post_due_in_a_second(site_dir, write_post, scheduler_of):
    # The one test on the real clock: the date must lie just ahead of now. With an hourly
    # interval, only the one-off due job can publish it within the wait.
    site = Site(load_settings({"site_dir": str(site_dir)}))
    site.reload()
    due = dt.datetime.fromtimestamp(int(time.time()) + 2, CST)
    write_post("soon", date=due.strftime("%Y-%m-%d %H:%M:%S +0800"), title="Soon")
    scheduler = scheduler_of(site, interval=3600)
    scheduler.start(reload_now=True)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not published_entries(site):
        time.sleep(0.05)
    assert [e.title for e in published_entries(site)] == ["Soon"]
    assert site.current.snapshot.next_due is None


# --- a failed reload: the old state stays, the job lives on --------------------------------

def test_failing_reload_keeps_the_old_snapshot_and_reports_it(site_dir, write_post, clock,
                                                             scheduler_of, tmp_path):
    write_post("one", date="2024-12-31 08:00:00 +0800", title="One")
    site = Site(load_settings({"site_dir": str(site_dir)}), clock)
    before = site.reload()
    kept = tmp_path / "kept"
    shutil.move(site_dir, kept)                        # the site folder disappears
    scheduler = scheduler_of(site)
    scheduler.start()
    scheduler.run_reload()
    assert site.current is before
    assert site.status.failures == 1
    assert site.status.last_error.startswith("cannot read the site folder")
    assert site.status.last_failure == clock.now
    assert scheduler.job(RELOAD_JOB) is not None
    shutil.move(kept, site_dir)                        # back: the next run recovers
    scheduler.run_reload()
    assert site.status.reloads == 2
    assert [e.title for e in published_entries(site)] == ["One"]


# --- which process runs a scheduler ---------------------------------------------------------

def settings_of(**values: object) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{"auto_reload": True, "reload_interval": 60, **values})


def test_attach_starts_the_scheduler_in_the_serving_process(clock):
    app = Flask(__name__)
    scheduler = attach(app, FakeSite(clock), settings_of())
    try:
        assert isinstance(scheduler, ReloadScheduler)
        assert scheduler.running
        assert app.before_request_funcs[None] == [scheduler.ensure_started]
    finally:
        scheduler.shutdown()


def test_attach_does_nothing_when_the_setting_is_off(clock):
    app = Flask(__name__)
    assert attach(app, FakeSite(clock), settings_of(auto_reload=False)) is None
    assert "feedsvc.scheduler" not in app.extensions


def debug_app() -> Flask:
    app = Flask(__name__)
    app.debug = True
    app.add_url_rule("/", "index", lambda: "ok")
    return app


def test_debug_reloader_parent_starts_no_scheduler_its_child_does(clock, monkeypatch):
    # `flask run --debug` loads the app in the watching parent and in the serving child,
    # which the reloader marks WERKZEUG_RUN_MAIN=true.
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    parent = attach(debug_app(), FakeSite(clock), settings_of())
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    child = attach(debug_app(), FakeSite(clock), settings_of())
    try:
        assert not parent.running
        assert child.running
    finally:
        parent.shutdown()
        child.shutdown()


def test_a_process_that_serves_starts_its_scheduler_on_the_first_request(clock, monkeypatch):
    # The debug server without its reloader: no WERKZEUG_RUN_MAIN, and it does serve.
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    app = debug_app()
    scheduler = attach(app, FakeSite(clock), settings_of())
    try:
        assert not scheduler.running
        assert app.test_client().get("/").status_code == 200
        assert scheduler.running
    finally:
        scheduler.shutdown()


def test_forked_child_runs_its_own_scheduler(clock, scheduler_of):
    # gunicorn --preload: the app (and its scheduler) is made before the workers fork; the
    # scheduler thread does not survive fork(), so the child must start a new one.
    site = FakeSite(clock)
    scheduler = scheduler_of(site)
    scheduler.start()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: report, then leave without running pytest's teardown
        status = 1
        try:
            ok = (scheduler.running and scheduler.job(RELOAD_JOB) is not None
                  and site.called.wait(WAIT))
            os.write(write_end, b"ok" if ok else b"no scheduler in the child")
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            answer = pipe.read()
    finally:
        os.waitpid(pid, 0)
    assert answer == b"ok"
    assert scheduler.running   # the parent's own scheduler carries on
    assert site.calls == 0     # the catch-up reload ran in the child only
