"""The wheel, installed into a fresh virtual environment outside the checkout, serves the
bundled sample site with the same bytes as the checkout does.

This catches what an editable install hides: a file not packaged (templates, schemas, the
sample site, feedsvc.wsgi), a dependency imported but not declared, a path looked up next
to the source tree.
"""
from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import pytest

from feedsvc import __version__, create_app
from tests.support.net import fetch, free_port
from tests.support.serve import PYTHON, ROOT, answering

PATHS = ("/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/feed.xml", "/feeds.opml",
         "/", "/feeds/categories/metro.rss")
INSTALL_LIMIT = 900   # seconds: pip may fetch every dependency from the registry


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """Build the wheel and install it into a new venv in a folder outside the checkout."""
    where = tmp_path_factory.mktemp("wheel")
    assert ROOT not in where.parents
    subprocess.run([PYTHON, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(where / "dist"), str(ROOT)], check=True, timeout=300)
    [wheel] = (where / "dist").glob("feedsvc-*.whl")
    assert wheel.name.startswith(f"feedsvc-{__version__}-")
    venv.create(where / "venv", with_pip=True)
    python = where / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   timeout=INSTALL_LIMIT, cwd=where)
    return where


def outside_env(where: Path) -> dict[str, str]:
    """Return an environment naming nothing of the checkout: no PYTHONPATH, no FEEDSVC_*."""
    return {"PATH": f"{where / 'venv' / 'bin'}:/usr/bin:/bin", "HOME": str(where),
            "LANG": "C.UTF-8"}


def checkout_bytes() -> dict[str, bytes]:
    client = create_app({"auto_reload": False}).test_client()
    return {path: client.get(path).data for path in PATHS}


def served_bytes(command: list[str], where: Path, port: int) -> dict[str, bytes]:
    log = where / f"{Path(command[0]).name}-{port}.log"
    with answering(command, port, log, outside_env(where), cwd=where,   # outside the checkout
                   start_new_session=True) as running:
        return {path: fetch(running.base + path)[2] for path in PATHS}


def test_installed_wheel_reports_its_version(installed):
    result = subprocess.run([str(installed / "venv" / "bin" / "feedsvc"), "--version"],
                            capture_output=True, text=True, env=outside_env(installed),
                            cwd=installed, timeout=60, check=True)
    assert result.stdout.strip() == f"feedsvc {__version__}"


def test_installed_feedsvc_serve_gives_the_checkouts_bytes(installed):
    port = free_port()
    command = [str(installed / "venv" / "bin" / "feedsvc"), "serve", "--port", str(port),
               "--workers", "1"]
    assert served_bytes(command, installed, port) == checkout_bytes()


def test_installed_gunicorn_feedsvc_wsgi_gives_the_checkouts_bytes(installed):
    port = free_port()
    command = [str(installed / "venv" / "bin" / "gunicorn"), "-c",
               "python:feedsvc.gunicorn_conf", "--bind", f"127.0.0.1:{port}", "--workers", "1",
               "feedsvc.wsgi:app"]
    assert served_bytes(command, installed, port) == checkout_bytes()
