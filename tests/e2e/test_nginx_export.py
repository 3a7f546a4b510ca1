"""`feedsvc build --out` served by a real nginx with config/nginx-export.conf: the service's bytes.

Needs Debian's `nginx` binary (.ci/run installs it); without it this test fails, it is not
skipped. nginx runs in the foreground on 127.0.0.1 with its pid, logs and temp files in tmp_path.
"""
from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from feedsvc import create_app
from feedsvc.cli import main
from feedsvc.config import SAMPLE_SITE
from feedsvc.urls import encode_name, FORMATS, INDEX_PATH, OPML_PATH, feed_path, page_path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "config" / "nginx-export.conf"
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


def find_nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.fail("nginx is not installed: this test serves the static export with a real "
                    "nginx. Install it (Debian: apt-get install nginx; .ci/run does).")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def nginx_config(root: Path, port: int, work: Path) -> str:
    """Return a whole nginx.conf around the shipped server block, for a test run."""
    server = CONF.read_text(encoding="utf-8")
    assert "listen 80;" in server and "root /srv/feedsvc/site;" in server
    server = server.replace("listen 80;", f"listen 127.0.0.1:{port};")
    server = server.replace("root /srv/feedsvc/site;", f"root {root};")
    temp = " ".join(f"{name}_temp_path {work / name};"
                    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, nginx's workers would run as nobody, who cannot enter pytest's tmp folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"daemon off;\n{user}worker_processes 1;\npid {work / 'nginx.pid'};\n"
            f"error_log {work / 'error.log'} warn;\nevents {{ worker_connections 64; }}\n"
            f"http {{\n access_log off;\n {temp}\n{server}\n}}\n")


@pytest.fixture
def nginx(tmp_path):
    """Return a starter of nginx serving a folder; stop it after the test."""
    binary = find_nginx()
    processes: list[subprocess.Popen] = []

    def start(root: Path) -> int:
        work = tmp_path / "nginx"
        work.mkdir()
        port = free_port()
        conf = work / "nginx.conf"
        conf.write_text(nginx_config(root, port, work), encoding="utf-8")
        process = subprocess.Popen([binary, "-p", str(work), "-c", str(conf), "-e", "stderr"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        processes.append(process)
        deadline = time.monotonic() + WAIT
        while True:
            if process.poll() is not None:
                pytest.fail(f"nginx exited: {process.stderr.read().decode(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"nginx did not listen on {port} within {WAIT} s")
                time.sleep(0.05)
    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


def test_nginx_serves_the_export_with_the_services_bytes_and_types(tmp_path, nginx):
    site_dir = tmp_path / "site"
    shutil.copytree(SAMPLE_SITE, site_dir)
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
