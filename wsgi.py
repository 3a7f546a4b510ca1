"""The WSGI entry point in a checkout: ``gunicorn wsgi:app`` (installed: ``feedsvc.wsgi:app``)."""
from feedsvc.wsgi import app

__all__ = ["app"]
