"""A real browser: headless Chromium renders the index and a category page of a live server."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest
from lxml import html
from werkzeug.serving import make_server

from tests.support.serve import ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM_BIN") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-dev-shm-usage")
TYPES = {"application/rss+xml", "application/atom+xml", "application/feed+json"}


def chromium(tmp_path: Path, *args: str) -> str:
    """Run headless Chromium with a throwaway profile; return what it printed."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: install the Debian 'chromium' "
                    "package (.ci/run does) or set CHROMIUM_BIN")
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, encoding="utf-8", errors="replace", timeout=90,
        stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def live(write_post, make_app):
    """Serve a small site on 127.0.0.1; its public URL is the server's own address."""
    write_post("metro-night", title="地铁夜间延时运营", date="2022-05-11 17:16:04 +0800",
               categories="metro", tags="东方网新闻", body="<p>末班车推迟至凌晨零点半。</p>\n")
    write_post("rain", title="Rainstorm < warning > & closures", date="2022-05-12 08:00:00 +0800",
               categories=["weather", "metro"], tags=["with space"])
    write_post("market", title="菜市场改造完成", date="2022-05-13 09:30:00 +0800",
               categories="城市生活")
    holder = {}
    server = make_server("127.0.0.1", 0, lambda env, start: holder["app"](env, start),
                         threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    holder["app"] = make_app(public_url=base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)


def rendered(tmp_path: Path, url: str):
    return html.fromstring(chromium(tmp_path, "--dump-dom", url))


def assert_subscribe_links_work(tree, base: str) -> int:
    links = [(a.get("href"), a.get("type")) for a in tree.xpath("//a[@type]")]
    assert links, "no subscribe links"
    for href, media_type in links:
        assert media_type in TYPES
        assert href.startswith(base + "/feeds/")
        with urllib.request.urlopen(href, timeout=10) as response:
            assert response.status == 200, href
            assert response.headers["Content-Type"] == f"{media_type}; charset=utf-8", href
    return len(links)


def test_index_in_chromium_lists_categories_and_working_links(live, tmp_path):
    tree = rendered(tmp_path, live + "/")
    assert tree.xpath("//section[@id='categories']//li/a[@class='name']/text()") == [
        "metro", "weather", "城市生活"]
    assert tree.xpath("//section[@id='tags']//li/a[@class='name']/text()") == [
        "with space", "东方网新闻"]
    assert tree.xpath("//section[@id='latest']//h3/a/text()") == [
        "菜市场改造完成", "Rainstorm < warning > & closures", "地铁夜间延时运营"]
    # 3 for every post, 3 per category and 3 per tag
    assert assert_subscribe_links_work(tree, live) == 3 + 3 * 3 + 3 * 2
    pages = tree.xpath("//section[@id='categories']//li/a[@class='name']/@href")
    for href in pages:
        with urllib.request.urlopen(href, timeout=10) as response:
            assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_category_page_in_chromium_shows_entries_and_working_links(live, tmp_path):
    tree = rendered(tmp_path, live + "/feeds/categories/metro")
    assert tree.findtext(".//h1") == "metro"
    assert tree.xpath("//section[@id='entries']//h3/a/text()") == [
        "Rainstorm < warning > & closures", "地铁夜间延时运营"]
    assert tree.xpath("//section[@id='entries']//time/@datetime") == [
        "2022-05-12T08:00:00+08:00", "2022-05-11T17:16:04+08:00"]
    assert tree.xpath("//section[@id='subscribe']//input/@value") == [
        f"{live}/feeds/categories/metro.rss", f"{live}/feeds/categories/metro.atom",
        f"{live}/feeds/categories/metro.json"]
    assert assert_subscribe_links_work(tree, live) == 3


def test_screenshot_of_the_index_is_saved(live, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "index.png"
    shot.unlink(missing_ok=True)
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", live + "/")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])   # the IHDR chunk
    assert (width, height) == (1280, 900)
    assert len(data) > 20_000   # a blank 1280x900 PNG is a few kilobytes
