"""`feedsvc build --out` served by a real nginx with config/nginx-export.conf: the service's bytes.

Needs Debian's `nginx` binary (.ci/run installs it); without it this test fails, it is not
skipped. nginx runs in the foreground on 127.0.0.1 with its pid, logs and temp files in tmp_path
(tests/support/nginx.py).
"""
from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from feedsvc import create_app
from feedsvc.cli import main
from feedsvc.urls import encode_name, FORMATS, INDEX_PATH, OPML_PATH, feed_path, page_path
from tests.support.net import free_port
from tests.support.nginx import export_config, nginx_running, write_config

WAIT = 10.0
# Awkward names on top of the sample site: a '/', a '.', a name ending in .html, Chinese.
AWKWARD_POST = """\
---
title: "Awkward names 名称"
date: 2024-03-01 09:00:00 +0800
categories: ["a/b", "东方网新闻"]
tags: [".", "a.html", "早 高峰"]
---
<p>正文</p>
"""
# Its URL, /feeds/tags/%2E, is /feeds/tags/ to nginx (RFC 3986 dot segment): the export
# skips it (docs/freshness.md).
NOT_EXPORTED = {"/feeds/tags/."}


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Callable[[Path], int]]:
    """Return a starter of nginx serving a folder (on a port it returns); stop it after."""
    with ExitStack() as running:
        def start(root: Path) -> int:
            work, port = tmp_path / "nginx", free_port()
            conf = write_config(work, export_config(root, port, work))
            running.enter_context(nginx_running(conf, work, port))
            return port
        yield start


def every_url(snapshot) -> dict[str, str]:
    """Return the URL of every document of a snapshot, keyed by its decoded path."""
    urls = {INDEX_PATH: INDEX_PATH, OPML_PATH: OPML_PATH, "/feed.xml": "/feed.xml"}
    names = [("all", "")] + [("category", n) for n in snapshot.categories] + \
        [("tag", n) for n in snapshot.tags]
    jekyll = {"category": "/feed/", "tag": "/feed/by_tag/"}   # every one keeps its path
    for kind, name in names:
        urls[page_path(kind, name, encoded=False)] = page_path(kind, name)
        if kind in jekyll:
            urls[f"{jekyll[kind]}{name}.xml"] = f"{jekyll[kind]}{encode_name(name)}.xml"
        for fmt in FORMATS:
            urls[feed_path(kind, name, fmt, encoded=False)] = feed_path(kind, name, fmt)
    return urls


def fetch(connection: http.client.HTTPConnection, url: str, **headers: str):
    connection.request("GET", url, headers=headers)
    response = connection.getresponse()
    return response.status, response.getheaders(), response.read()


def test_nginx_serves_the_export_with_the_services_bytes_and_types(tmp_path, sample_site,
                                                                    nginx):
    site_dir = sample_site
    (site_dir / "_posts" / "2024-03-01-awkward.md").write_text(AWKWARD_POST, encoding="utf-8")
    out = tmp_path / "public" / "feeds"
    assert main(["build", "--site", str(site_dir), "--out", str(out)]) == 0
    app = create_app({"site_dir": str(site_dir), "auto_reload": False})
    site = app.state.site
    documents = site.current.documents
    urls = every_url(site.current.snapshot)
    assert set(urls) == set(documents)     # every document is checked below
    client = app.test_client()
    port = nginx(out)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    checked = 0
    try:
        for path, url in sorted(urls.items()):
            if path in NOT_EXPORTED:
                continue
            document = documents[path]
            service = client.get(url, headers={"Accept-Encoding": "identity"})
            status, headers, body = fetch(connection, url, **{"Accept-Encoding": "identity"})
            headers = {name.lower(): value for name, value in headers}
            assert (status, body) == (200, service.data), url
            assert body == document.body, url
            assert headers["content-type"] == service.headers["Content-Type"], url
            assert headers["cache-control"] == service.headers["Cache-Control"], url
            assert headers["x-content-type-options"] == "nosniff"
            assert "content-encoding" not in headers
            packed = client.get(url, headers={"Accept-Encoding": "gzip"})
            status, headers, body = fetch(connection, url, **{"Accept-Encoding": "gzip"})
            headers = {name.lower(): value for name, value in headers}
            assert (status, body) == (200, packed.data), url
            assert body == document.gzip, url
            assert headers["content-encoding"] == "gzip"
            assert headers["content-type"] == document.content_type, url
            assert headers["vary"] == "Accept-Encoding"
            checked += 1
        assert checked == len(documents) - len(NOT_EXPORTED)
        # Pages carry the service's Content-Security-Policy; feeds carry none.
        _, page_headers, _ = fetch(connection, "/feeds/categories/metro")
        _, feed_headers, _ = fetch(connection, "/feeds/all.rss")
        service_page = client.get("/feeds/categories/metro")
        assert dict(page_headers)["Content-Security-Policy"] == \
            service_page.headers["Content-Security-Policy"]
        assert "Content-Security-Policy" not in dict(feed_headers)
        # nginx's own validators work: a conditional GET with its ETag is a 304.
        _, headers, _ = fetch(connection, "/feeds/all.atom")
        status, _, body = fetch(connection, "/feeds/all.atom",
                                **{"If-None-Match": dict(headers)["ETag"]})
        assert (status, body) == (304, b"")
        status, _, _ = fetch(connection, "/feeds/categories/no-such-category.rss")
        assert status == 404
    finally:
        connection.close()
