"""Blueprints of the web UI, the REST API and the health check."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint."""
    from .. import health
    from . import api, feeds, moderation, networks, notifications, publish, tokens, web, webhooks

    for module in (web, publish, feeds, networks, moderation, notifications, webhooks, tokens):
        app.register_blueprint(module.bp)
    api.init_app(app)
    health.init_app(app)
