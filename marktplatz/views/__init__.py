"""Blueprints of the web UI (and, later, the API)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint."""
    from . import web
    from .. import health

    app.register_blueprint(web.bp)
    health.init_app(app)
