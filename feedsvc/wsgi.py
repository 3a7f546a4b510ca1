"""The WSGI entry point of an installed feedsvc: ``gunicorn feedsvc.wsgi:app``.

Settings come from the environment (``FEEDSVC_*``, ``FEEDSVC_CONFIG``) as for every command.
For metrics that add up across gunicorn workers, add ``-c python:feedsvc.gunicorn_conf``
(``feedsvc serve`` does all of this for you; docs/deploy.md).
"""
from . import create_app

app = create_app()
