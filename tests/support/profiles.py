"""Hypothesis profiles: ``ci``, the default, and ``fuzz``, for a longer search on purpose.

``ci`` is derandomized: every run tries the same examples (a hash of each test picks its
seed) with no example database and no deadline, so the README's test command gives the same
verdict every time. ``fuzz`` draws new random examples each run, ten times as many, and
keeps failures in ``.hypothesis/`` to replay them::

    HYPOTHESIS_PROFILE=fuzz .venv/bin/python -m pytest -q -m "not e2e"

A test that needs another number of examples than the profile's says so with
``@settings(max_examples=examples(N))``: N in ``ci``, ten times N in ``fuzz``.
"""
from __future__ import annotations

import os

from hypothesis import settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
FUZZ_FACTOR = 10
CI_EXAMPLES = 100

settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          max_examples=CI_EXAMPLES, print_blob=True)
settings.register_profile("fuzz", derandomize=False, deadline=None,
                          max_examples=CI_EXAMPLES * FUZZ_FACTOR, print_blob=True)


def load() -> None:
    """Load the profile HYPOTHESIS_PROFILE names (``ci`` when unset)."""
    settings.load_profile(PROFILE)


def examples(wanted: int) -> int:
    """Return how many examples a test that wants *wanted* in CI tries in this profile."""
    return wanted * FUZZ_FACTOR if PROFILE == "fuzz" else wanted
