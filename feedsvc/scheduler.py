"""The scheduled reload: one APScheduler ``BackgroundScheduler`` per serving process.

The scheduler is thin: it runs :meth:`Site.try_reload`, the step every reload loop runs,
every ``reload_interval`` seconds and once more at :meth:`Site.next_reload_at`, just after
the next future post is due; a failure is logged and the job goes on (miniflux's scheduler
loop). Everything a reload does is tested without it.

Process model (docs/freshness.md): every process that serves holds its own ``Site`` and its
own scheduler; the builder's output is deterministic, so all processes serve the same bytes
and ETags for the same store. A scheduler thread does not survive ``fork()`` (POSIX copies only
the calling thread), so a child of a process whose scheduler was started (gunicorn
``--preload``) starts a new one at once, with an immediate catch-up reload.
"""
from __future__ import annotations

import atexit
import contextlib
import concurrent.futures.thread  # noqa: F401 - see _install_process_hooks
import datetime as dt
import logging
import os
import threading
import weakref
from typing import Any, Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from .dates import Clock, utc_now

log = logging.getLogger(__name__)

RELOAD_JOB = "reload"
DUE_JOB = "due"
# How long a fork waits for a running reload before going ahead (see _before_fork).
FORK_WAIT_SECONDS = 60.0


class Reloadable(Protocol):
    """What the scheduler needs of a site (:class:`feedsvc.site.Site`)."""

    clock: Clock

    def try_reload(self) -> Any: ...

    def next_reload_at(self) -> dt.datetime | None: ...


class ReloadScheduler:
    """Reload a site every interval, and just after its next future post is due."""

    def __init__(self, site: Reloadable, interval: float) -> None:
        self.site = site
        self.interval = interval
        self.clock = site.clock
        self.wanted = False          # start() was called and shutdown() was not
        self._scheduler: BackgroundScheduler | None = None
        self._pid: int | None = None
        self._start_lock = threading.Lock()
        self._reload_lock = threading.Lock()   # held around each reload; see _before_fork
        self._due_lock = threading.Lock()
        self._fork_locked = False
        self._restart_in_child = False
        _LIVE.add(self)

    @property
    def running(self) -> bool:
        """Return whether this process's scheduler thread is running."""
        scheduler = self._scheduler
        return scheduler is not None and self._pid == os.getpid() and scheduler.running

    def start(self, *, reload_now: bool = False) -> None:
        """Start the scheduler thread in this process (no-op if it runs already)."""
        with self._start_lock:
            self.wanted = True
            if self.running:
                return
            _quiet_apscheduler()   # before add_job: "Adding job tentatively" is INFO
            scheduler = BackgroundScheduler(
                timezone=dt.timezone.utc,
                # One worker: reloads never overlap, whichever job asked for them.
                executors={"default": ThreadPoolExecutor(max_workers=1)})
            first = utc_now() + dt.timedelta(seconds=0 if reload_now else self.interval)
            scheduler.add_job(
                self.run_reload, "interval", seconds=self.interval, id=RELOAD_JOB,
                name="reload the content store", next_run_time=first, **_NEVER_DROP)
            scheduler.start()
            self._scheduler, self._pid = scheduler, os.getpid()
            _install_process_hooks()
            log.info("reload scheduler started in process %d: every %s s",
                     self._pid, self.interval)
        self.schedule_due()

    def ensure_started(self) -> None:
        """Start the scheduler in this process if it should run and does not (lazy start)."""
        if self.wanted and not self.running:
            self.start(reload_now=self._pid is not None)

    def shutdown(self) -> None:
        """Stop the scheduler thread without waiting for a running reload."""
        with self._start_lock:
            self.wanted = False
            scheduler, self._scheduler = self._scheduler, None
            if scheduler is not None and self._pid == os.getpid() and scheduler.running:
                scheduler.shutdown(wait=False)
                log.info("reload scheduler stopped in process %d", self._pid)

    def job(self, job_id: str = RELOAD_JOB) -> Any:
        """Return the APScheduler job *job_id* of this process, or None."""
        return self._scheduler.get_job(job_id) if self.running else None

    def run_reload(self) -> None:
        """Reload the site once; on failure log why, keep the last snapshot, keep the job."""
        with self._reload_lock:
            if self.site.try_reload() is None:
                log.warning("scheduled reload failed; next try in %s s", self.interval)
        self.schedule_due()

    def schedule_due(self) -> None:
        """Replace the one-off reload at the next due instant (or drop it: nothing is due)."""
        # Read the snapshot and act on it in one step: start() and a reload finishing in the
        # pool both call this, and a stale read acted on late would drop the new due job.
        with self._due_lock:
            scheduler = self._scheduler if self.running else None
            if scheduler is None:
                return
            run_at = self.site.next_reload_at()
            if run_at is None:
                with contextlib.suppress(JobLookupError):
                    scheduler.remove_job(DUE_JOB)
                return
            # APScheduler waits on the real clock: keep the delay the site's clock asks for
            # (an injected clock never makes it fire at once, again and again).
            real_run_at = utc_now() + max(run_at - self.clock(), dt.timedelta(0))
            # Called from inside the due job too: safe, APScheduler removes a finished date
            # job under its job store lock before this add_job can take that lock.
            scheduler.add_job(self.run_reload, "date", run_date=real_run_at, id=DUE_JOB,
                              name="reload when the next future post is due",
                              replace_existing=True, **_NEVER_DROP)
        log.debug("next future post due: reload at %s", real_run_at.isoformat())

    def _before_fork(self) -> None:
        # A fork copies memory, not threads: a reload half done at fork time would leave the
        # child's locks held forever. Wait for it (bounded), then fork.
        self._restart_in_child = self.running
        self._fork_locked = self._reload_lock.acquire(timeout=FORK_WAIT_SECONDS)

    def _after_fork_in_parent(self) -> None:
        if self._fork_locked:
            self._fork_locked = False
            self._reload_lock.release()

    def _after_fork_in_child(self) -> None:
        # The parent's scheduler thread and pool did not come along: forget them (never call
        # their shutdown(), their locks may be held) and start afresh if the parent ran one.
        # A parent that only wanted one (lazy start) passes that on: the child starts its
        # own on its first request.
        self._scheduler = None
        self._start_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._due_lock = threading.Lock()
        self._fork_locked = False
        if self._restart_in_child:
            try:
                self.start(reload_now=True)
            except Exception:  # noqa: BLE001 - never break the fork; requests start it lazily
                log.exception("could not start the reload scheduler after fork")


# Run every reload, however late: APScheduler's default misfire_grace_time is 1 s
# (BaseScheduler._configure), and executors/base.py run_job skips, as EVENT_JOB_MISSED, a
# run that starts later than that, e.g. while the one pool worker is busy with a reload.
# One run at a time, and runs missed meanwhile coalesce into one.
_NEVER_DROP = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}

_LIVE: weakref.WeakSet[ReloadScheduler] = weakref.WeakSet()
_hooks_installed = False


def _install_process_hooks() -> None:
    """Register, once per interpreter, the at-fork and at-exit handlers of every scheduler."""
    # after_in_child hooks run in registration order: concurrent.futures.thread (imported
    # above, lazily imported otherwise) must reset its _global_shutdown_lock before ours
    # submits the catch-up reload to a new pool, or the child's scheduler thread deadlocks.
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    os.register_at_fork(before=_each("_before_fork"),
                        after_in_parent=_each("_after_fork_in_parent"),
                        after_in_child=_each("_after_fork_in_child"))
    # APScheduler registers no atexit handler of its own.
    atexit.register(shutdown_all)


def _quiet_apscheduler() -> None:
    """Keep APScheduler's warnings but not its INFO lines, unless configured."""
    # "Running job ..." and "... executed successfully" for every reload of every worker
    # would drown the service log; a failure is logged here, with its cause.
    apscheduler_log = logging.getLogger("apscheduler")
    if apscheduler_log.level == logging.NOTSET:
        apscheduler_log.setLevel(logging.WARNING)


def _each(method: str) -> Any:
    def call() -> None:
        for scheduler in list(_LIVE):
            getattr(scheduler, method)()
    return call


def shutdown_all() -> None:
    """Stop every reload scheduler of this process (atexit, gunicorn's worker_exit)."""
    for scheduler in list(_LIVE):
        scheduler.shutdown()


def _debug_reloader_parent(app: Any) -> bool:
    """Return whether this is the watching parent of Flask's debug reloader."""
    # The reloader runs the app in a child it marks WERKZEUG_RUN_MAIN=true; `flask run`
    # loads the app in the parent too, which serves nothing and must not reload.
    return bool(getattr(app, "debug", False)) and os.environ.get("WERKZEUG_RUN_MAIN") != "true"


def attach(app: Any, site: Reloadable, settings: Any, *,
           catch_up: bool = False) -> ReloadScheduler | None:
    """Give *app* the scheduled reload of *site*, started in the process that serves it.

    *catch_up*: the site serves documents restored from the cache; reload at once, in the
    background (without auto_reload, once).
    """
    if not settings.auto_reload:
        if catch_up:
            threading.Thread(target=site.try_reload, name="feedsvc-catch-up",
                             daemon=True).start()
        return None
    scheduler = ReloadScheduler(site, settings.reload_interval)
    scheduler.wanted = True
    # Lazy start for a process that serves without having started one (e.g. the debug
    # server without its reloader); a pid comparison per request.
    app.before_request(scheduler.ensure_started)
    if not _debug_reloader_parent(app):
        scheduler.start(reload_now=catch_up)
    return scheduler
