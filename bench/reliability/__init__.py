"""The reliability harness: load with churn (``python -m bench.reliability.soak``).

``soak`` runs wrk, the ``churn`` and the ``verify`` watcher against ``feedsvc serve`` and
compares every document with a from-scratch build at the end; tests/e2e/test_churn.py
imports ``verify`` from here (``from bench.reliability import verify``).
"""
