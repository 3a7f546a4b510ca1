"""WebSub: a real hub (Flask-WebSub) delivers to a subscriber; HubNotifier pings hubs.

The hub tests need ``Flask-WebSub`` and ``celery`` (docs/aggregators.md); without them they
are skipped and the rest still run. Flask-WebSub runs its Celery tasks eagerly here, so a hub
answers a publish ping only after it has fetched the topic and delivered it: once the notifier
is idle (``flush``), every delivery it caused has arrived, and no test has to sleep.
Everything runs in this process; the lock's take-over from a killed child process is in
tests/e2e/test_websub_e2e.py.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from feedsvc.websub import LOCK_NAME, HubNotifier
from tests.support.net import free_port, wait_until
from tests.support.websub import (ScriptedServer, Subscriber, TopicServer, atom_feed, post_form,
                                  running_hub, unresponsive_port)

UPDATED_1 = "2025-01-01T00:00:00Z"
UPDATED_2 = "2025-01-02T00:00:00Z"
# Flask-WebSub reads the topic of a publish ping from hub.topic; Google's and Superfeedr's
# hubs from hub.url. Sending both serves either kind.
BOTH_FIELDS = ("hub.url", "hub.topic")
# A notifier that retries at once and gives up quickly: tests stay fast and deterministic.
FAST = {"backoff_base": 0.001, "backoff_max": 0.01, "timeout": 5.0}


@pytest.fixture
def hub_url(tmp_path: Path):
    pytest.importorskip("celery")
    pytest.importorskip("flask_websub.hub")
    with running_hub(tmp_path / "hub") as url:
        yield url


@pytest.fixture
def subscriber():
    with Subscriber() as sub:
        yield sub


@pytest.fixture
def topics(hub_url: str):
    with TopicServer(hub_url) as server:
        yield server


def notifier(hubs: list[str], **options) -> HubNotifier:
    return HubNotifier(hubs, **{**FAST, **options})


@pytest.fixture
def closing():
    """Collect notifiers and close every one at the end of the test."""
    made: list[HubNotifier] = []

    def make(hubs: list[str], **options) -> HubNotifier:
        made.append(notifier(hubs, **options))
        return made[-1]

    yield make
    for n in made:
        n.close()


# -- Goal A: the real hub, end to end, without feedsvc -----------------------------------------

def test_real_hub_delivers_a_publish_ping_to_a_verified_subscriber(hub_url, topics, subscriber):
    topic = topics.publish(atom_feed(topics.url(), hub_url, ["first"], UPDATED_1))
    subscriber.subscribe(hub_url, topic, secret="s3cret")
    verification = subscriber.verifications[-1]
    assert verification["hub.mode"] == "subscribe" and verification["hub.topic"] == topic
    assert int(verification["hub.lease_seconds"]) > 0

    new_feed = atom_feed(topic, hub_url, ["second", "first"], UPDATED_2)
    topics.publish(new_feed)
    status, text = post_form(hub_url, [("hub.mode", "publish"), ("hub.url", topic),
                                       ("hub.topic", topic)])
    assert status == 202, text

    [delivery] = subscriber.wait_for_deliveries(1)
    assert delivery.body == new_feed
    assert delivery.headers["content-type"].startswith("application/atom+xml")
    assert delivery.links == {"hub": hub_url, "self": topic}
    assert delivery.headers["x-hub-signature"].startswith("sha512=")
    assert delivery.signature_ok("s3cret") and not delivery.signature_ok("wrong")
    assert topics.fetches.count("/feed.atom") == 1   # the hub fetched the topic itself


def test_real_hub_wants_hub_topic_not_hub_url(hub_url, topics):
    topic = topics.publish(atom_feed(topics.url(), hub_url, ["first"], UPDATED_1))
    status, text = post_form(hub_url, [("hub.mode", "publish"), ("hub.url", topic)])
    assert (status, text.strip()) == (400, "Missing form argument: hub.topic")


# -- Goal B: HubNotifier against the real hub ----------------------------------------------------

def test_notify_reaches_the_subscriber_through_the_real_hub(hub_url, topics, subscriber, closing):
    topic = topics.publish(atom_feed(topics.url(), hub_url, ["first"], UPDATED_1))
    subscriber.subscribe(hub_url, topic)
    new_feed = atom_feed(topic, hub_url, ["second", "first"], UPDATED_2)
    topics.publish(new_feed)

    n = closing([hub_url], topic_fields=BOTH_FIELDS)
    assert n.notify([topic, topic]) == 1             # de-duplicated within the batch
    assert n.flush(10)
    [delivery] = subscriber.wait_for_deliveries(1)
    assert delivery.body == new_feed and delivery.links["self"] == topic
    snap = n.snapshot()
    assert snap["role"] == "sender"
    assert (snap["sent"], snap["failed"], snap["retried"], snap["queue_length"]) == (1, 0, 0, 0)
    assert snap["hubs"][hub_url]["last_status"] == 202
    assert snap["hubs"][hub_url]["last_success"] <= time.time()
    assert snap["last_failure"] is None


def test_a_4xx_from_the_real_hub_is_not_retried(hub_url, topics, closing):
    topic = topics.publish(atom_feed(topics.url(), hub_url, ["first"], UPDATED_1))
    n = closing([hub_url], max_attempts=5)           # hub.url only: this hub answers 400
    n.notify([topic])
    assert n.flush(10)
    snap = n.snapshot()
    assert (snap["sent"], snap["failed"], snap["retried"]) == (0, 1, 0)
    hub = snap["hubs"][hub_url]
    assert hub["last_status"] == 400 and "hub.topic" in hub["last_error"]
    assert hub["last_failure"] is not None and hub["last_success"] is None


def test_queue_overflow_drops_the_oldest_and_the_rest_reach_the_hub(hub_url, topics, subscriber,
                                                                  closing):
    urls = [topics.publish(atom_feed(topics.url(f"/t{i}.atom"), hub_url, [f"e{i}"], UPDATED_1),
                           f"/t{i}.atom") for i in range(5)]
    for url in urls:
        subscriber.subscribe(hub_url, url)
    n = closing([hub_url], topic_fields=BOTH_FIELDS, max_queue=3, start=False)
    assert n.notify(urls) == 5
    assert n.notify(urls[-2:]) == 0                   # already waiting for this hub
    snap = n.snapshot()
    assert (snap["queue_length"], snap["dropped"], snap["deduplicated"]) == (3, 2, 2)

    n.start()
    assert n.flush(10)
    delivered = [d.links["self"] for d in subscriber.wait_for_deliveries(3)]
    assert delivered == urls[2:]                      # oldest two dropped, order kept
    assert n.snapshot()["sent"] == 3


def test_two_notifiers_sharing_a_lock_dir_send_once(hub_url, topics, subscriber, closing,
                                                    tmp_path):
    topic = topics.publish(atom_feed(topics.url(), hub_url, ["first"], UPDATED_1))
    subscriber.subscribe(hub_url, topic)
    locks = tmp_path / "locks"
    a = closing([hub_url], topic_fields=BOTH_FIELDS, lock_dir=locks, lock_retry_interval=0.05)
    b = closing([hub_url], topic_fields=BOTH_FIELDS, lock_dir=locks, lock_retry_interval=0.05)
    assert (a.role, b.role) == ("sender", "standby")
    assert (locks / LOCK_NAME).read_text().strip() == str(os.getpid())

    for n in (a, b):                      # every worker reloads and sees the same change
        n.notify([topic])
    assert a.flush(10)
    assert len(subscriber.wait_for_deliveries(1)) == 1   # eager hub: all deliveries are in
    assert (a.snapshot()["sent"], b.snapshot()["sent"]) == (1, 0)
    assert b.snapshot()["queue_length"] == 1 and not b.flush(0.1)

    a.close()                             # the sender goes away: the standby takes over
    wait_until(lambda: b.role == "sender", "b to become the sender", 5)
    assert b.flush(10)
    assert len(subscriber.wait_for_deliveries(2)) == 2   # it sent what it had queued
    assert b.snapshot()["sent"] == 1


# -- Goal B: failures, without a hub --------------------------------------------------------------

def test_a_hub_that_is_down_is_retried_then_counted_failed_and_notify_never_blocks(closing):
    down = f"http://127.0.0.1:{free_port()}/hub"
    n = closing([down], max_attempts=3)
    started = time.monotonic()
    assert n.notify(["https://news.example.com/feeds/all.atom"]) == 1
    assert time.monotonic() - started < 0.5
    assert n.flush(10)
    snap = n.snapshot()
    assert (snap["sent"], snap["failed"], snap["retried"], snap["queue_length"]) == (0, 1, 2, 0)
    hub = snap["hubs"][down]
    assert "refused" in hub["last_error"].lower() and hub["last_status"] is None


def test_a_hub_that_never_answers_times_out_without_blocking_the_caller(closing):
    with unresponsive_port() as port:
        url = f"http://127.0.0.1:{port}/hub"
        n = closing([url], max_attempts=2, timeout=0.2)
        started = time.monotonic()
        for i in range(50):
            n.notify([f"https://news.example.com/feeds/tags/t{i}.atom"])
        assert time.monotonic() - started < 0.5
        assert n.snapshot()["queue_length"] == 50
        wait_until(lambda: n.snapshot()["failed"] >= 1, "a failed delivery", 5)
        assert "timed out" in n.snapshot()["hubs"][url]["last_error"]


def test_5xx_and_429_are_retried_honouring_retry_after_then_succeed(closing):
    with ScriptedServer([503, (429, {"Retry-After": "0"}), 204]) as hub:
        n = closing([hub.url], max_attempts=5)
        n.notify(["https://news.example.com/feeds/all.atom"])
        assert n.flush(10)
        snap = n.snapshot()
        assert (snap["sent"], snap["failed"], snap["retried"]) == (1, 0, 2)
        assert len(hub.requests) == 3
        request = hub.requests[0]
        assert request.form == [("hub.mode", "publish"),
                                ("hub.url", "https://news.example.com/feeds/all.atom")]
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_one_request_per_topic_per_hub(closing):
    with ScriptedServer([202]) as one, ScriptedServer([204]) as two:
        n = closing([one.url, two.url, one.url], topic_fields=BOTH_FIELDS)
        topics = [f"https://news.example.com/feeds/categories/c{i}.atom" for i in range(3)]
        assert n.notify(topics) == 6
        assert n.flush(10)
        for hub in (one, two):
            assert [r.form for r in hub.requests] == [
                [("hub.mode", "publish"), ("hub.url", t), ("hub.topic", t)] for t in topics]
        assert n.snapshot()["sent"] == 6


def test_a_redirect_or_404_fails_at_once(closing):
    moved_script = [(301, {"Location": "/elsewhere"})]
    with ScriptedServer(moved_script) as moved, ScriptedServer([404]) as gone:
        n = closing([moved.url, gone.url], max_attempts=5)
        n.notify(["https://news.example.com/feeds/all.atom"])
        assert n.flush(10)
        snap = n.snapshot()
        assert (snap["failed"], snap["retried"]) == (2, 0)
        assert [len(moved.requests), len(gone.requests)] == [1, 1]
        assert snap["hubs"][moved.url]["last_status"] == 301


def test_backoff_is_exponential_capped_with_jitter():
    low = HubNotifier([], backoff_base=1.0, backoff_max=30.0, rng=lambda: 0.0, start=False)
    high = HubNotifier([], backoff_base=1.0, backoff_max=30.0, rng=lambda: 1.0, start=False)
    assert [low._backoff(k, None) for k in (1, 2, 3, 6, 100)] == [0.5, 1.0, 2.0, 15.0, 15.0]
    assert [high._backoff(k, None) for k in (1, 2, 3, 6, 100)] == [1.0, 2.0, 4.0, 30.0, 30.0]
    assert low._backoff(1, 10.0) == 10.0 and low._backoff(1, 999.0) == 30.0


def test_a_standby_forgets_topics_older_than_its_window(tmp_path, closing):
    locks = tmp_path / "locks"
    closing([], lock_dir=locks)                                   # the sender
    n = closing(["http://127.0.0.1:9/hub"], lock_dir=locks, lock_retry_interval=0.02,
                standby_window=0.05)
    n.notify(["https://news.example.com/feeds/all.atom"])
    wait_until(lambda: n.snapshot()["expired"] == 1, "an expired lease", 5)
    assert n.snapshot()["queue_length"] == 0 and n.role == "standby"


def test_close_stops_the_thread_and_frees_the_lock(tmp_path):
    locks = tmp_path / "locks"
    n = HubNotifier(["http://127.0.0.1:9/hub"], lock_dir=locks)
    thread = n._thread
    assert thread is not None and thread.is_alive() and n.role == "sender"
    n.close(timeout=5)
    assert not thread.is_alive() and n.role == "closed"
    assert n.notify(["https://news.example.com/feeds/all.atom"]) == 0
    n.close()                                                    # twice is fine
    other = HubNotifier([], lock_dir=locks, start=False)
    try:
        assert other.role == "sender"                            # the lock was let go
    finally:
        other.close()


def test_a_notifier_refuses_to_work_in_a_forked_child():
    n = HubNotifier([], start=False)
    n._pid = -1                                   # as if this were a child of its creator
    with pytest.raises(RuntimeError, match="after fork"):
        n.notify(["https://news.example.com/feeds/all.atom"])
    n.close()
