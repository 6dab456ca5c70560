"""Blueprints of the web UI (and, later, the API)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint."""
    from . import feeds, publish, web

    app.register_blueprint(web.bp)
    app.register_blueprint(publish.bp)
    app.register_blueprint(feeds.bp)
    from . import moderation, networks, notifications, webhooks

    for module in (networks, moderation, notifications, webhooks):
        app.register_blueprint(module.bp)
    from . import api, tokens

    app.register_blueprint(tokens.bp)
    api.init_app(app)
