"""Blueprints of the web UI, the REST API and the health check."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint."""
    from . import api
    from .web import (
        auth,
        feeds,
        health,
        moderation,
        networks,
        notifications,
        pages,
        publish,
        search,
        tokens,
        webhooks,
    )

    for module in (pages, auth, publish, feeds, networks, moderation, notifications, webhooks, tokens,
                   search, health):
        app.register_blueprint(module.bp)
    api.init_app(app)
