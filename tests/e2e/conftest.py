"""End-to-end tests start real processes: feedsvc serve, gunicorn, nginx, Chromium, wrk.

Every test collected under tests/e2e/ is marked ``e2e``, so ``pytest -m "not e2e"`` runs
the fast, in-process tests alone. The helpers to start and stop servers are in
tests/support/ (bench/ uses the same ones).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from feedsvc.config import SAMPLE_SITE

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def sample_site(tmp_path: Path) -> Path:
    """Return a copy of the bundled sample site (feedsvc/sample_site), free to write posts into.

    The servers under test read it in another process, so it is a real folder, not
    tests/conftest.py's ``site_dir`` (which is a small site of the test's own posts).
    """
    copy = tmp_path / "site"
    shutil.copytree(SAMPLE_SITE, copy)
    return copy
