"""End-to-end tests start real processes: feedsvc serve, gunicorn, nginx, Chromium, wrk.

Every test collected under tests/e2e/ is marked ``e2e``, so ``pytest -m "not e2e"`` runs
the fast, in-process tests alone. The helpers to start and stop servers are in
tests/support/ (bench/ uses the same ones).
"""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)
