"""Helpers the tests and ``bench/`` share, defined once.

- ``net``: a free loopback port, a GET that treats any status as an answer, waiting for a URL.
- ``serve``: starting ``feedsvc serve`` (or any child) from this checkout, waiting for it to
  answer, and stopping it within a bounded time.
- ``nginx``: finding Debian's nginx, writing its config, running it in the foreground.
- ``procs``: what Linux's ``/proc`` says of a process: its children, memory, CPU time, and
  which process holds a connection's server end.
- ``urls``: many distinct unknown request targets.
- ``profiles``: the Hypothesis profiles (``ci``, the default, and ``fuzz``).
- ``websub``: a real WebSub hub (Flask-WebSub), a subscriber, a topic server and a scripted hub.

Importable as ``tests.support`` from the repository root (``pythonpath = .`` for pytest;
``python -m bench.run`` puts the current folder on the path).
"""
