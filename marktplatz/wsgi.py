"""WSGI entry point for gunicorn: ``gunicorn marktplatz.wsgi:app``."""

from . import create_app

app = create_app()
