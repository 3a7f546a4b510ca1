"""The WSGI entry point: ``gunicorn wsgi:app`` (``feedsvc serve`` does the same for you)."""
from feedsvc import create_app

app = create_app()
