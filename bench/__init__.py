"""feedsvc's benchmarks (docs/benchmarks.md), a package run from the repository root.

    python -m bench.run --smoke                 # every part briefly (tests/e2e/test_bench_smoke.py)
    python -m bench.make_store N OUT            # a generated Jekyll site of N posts
    python -m bench.measure cold --site DIR     # one measured process (bench.run starts it)
    python -m bench.freshness --help            # memory and CPU of the process model
    python -m bench.restart SITE                # restart-to-ready with a warm cache_dir
    python -m bench.aggregators --help          # WebSub latency, archive pages, memory
    python -m bench.nginx_proxy --help          # nginx's proxy cache against a static file
    python -m bench.reliability.soak --help     # load with churn (docs/reliability.md)

``python -m`` puts the current folder first on ``sys.path``, so ``feedsvc`` and the shared
helpers of ``tests.support`` (free ports, fetches, starting and stopping ``feedsvc serve``,
``/proc``) import from this checkout; every child a bench starts gets the checkout on
``PYTHONPATH`` (``tests.support.serve.child_env``). Nothing is imported here: ``bench.measure``
times its own imports.
"""
