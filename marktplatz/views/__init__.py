"""Blueprints of the web UI (and, later, the API)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint."""
    from . import web

    app.register_blueprint(web.bp)
    from . import api, tokens

    app.register_blueprint(tokens.bp)
    api.init_app(app)
