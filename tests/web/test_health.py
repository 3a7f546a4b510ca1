"""/healthz: 200 with the counts when fresh, 503 when stale or before the first load."""
from __future__ import annotations


def test_healthz_is_200_with_the_counts_when_fresh(web, clock):
    clock.advance(30)
    response = web.get("/healthz")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body.pop("last_reload_seconds") >= 0
    assert body == {
        "status": "ok", "posts": 4, "categories": 5, "tags": 4, "broken_posts": 0,
        "pending_posts": 0, "last_reload": "2025-01-01T12:00:00+00:00",
        "snapshot_age_seconds": 30.0, "last_error": None, "last_failure": None, "failures": 0,
    }


def test_healthz_is_503_degraded_once_stale(web, clock):
    clock.advance(300)
    assert web.get("/healthz").status_code == 200    # stale_after is "older than"
    clock.advance(1)
    response = web.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "degraded"
    assert response.get_json()["snapshot_age_seconds"] == 301.0


def test_broken_posts_are_counted_not_fatal(write_post, site_dir, make_app):
    write_post("good", title="Good")
    (site_dir / "_posts" / "2022-05-12-bad.md").write_text("---\ntitle: [unclosed\n---\n")
    body = make_app().test_client().get("/healthz").get_json()
    assert (body["status"], body["posts"], body["broken_posts"]) == ("ok", 1, 1)


def test_before_the_first_load_everything_is_503(unloaded, monkeypatch):
    client = unloaded.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    body = health.get_json()
    assert body["status"] == "starting"
    assert body["posts"] is None and body["last_reload"] is None
    assert body["failures"] == 1
    assert "site" in body["last_error"] and "/" not in body["last_error"]   # no paths
    feed = client.get("/feeds/all.rss")
    assert feed.status_code == 503
    assert feed.headers["Retry-After"] == "60"
    assert feed.data == b"The feeds are not loaded yet; try again in a moment.\n"
    monkeypatch.undo()
    unloaded.state.site.reload()
    assert client.get("/healthz").status_code == 200
    assert client.get("/feeds/categories/news.rss").status_code == 200
