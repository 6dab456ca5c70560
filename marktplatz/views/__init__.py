"""Blueprints of the web UI, the REST API and the health check."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from ..core.db import is_failed


def init_app(app: Flask) -> None:
    """Register every blueprint."""
    from . import api
    from .web import (
        access,
        admin,
        auth,
        feeds,
        health,
        invitations,
        legal,
        moderation,
        networks,
        notifications,
        pages,
        publish,
        registers,
        search,
        tokens,
        webhooks,
    )

    for module in (pages, auth, publish, feeds, networks, moderation, notifications, webhooks, tokens,
                   search, health, legal, invitations, access, admin, registers):
        app.register_blueprint(module.bp)
    api.init_app(app)

    @app.after_request
    def _remember_write(response):
        # Read-your-writes: remember the change-log position of what this request committed,
        # for its author; their next search waits for the index or answers from SQL.
        # Runs before the unit of work commits (core/db registers its hook first, so it runs last).
        session = g.get("db_session")
        mark = session.info.pop("changelog_last", None) if session is not None else None
        if mark is not None and response.status_code < 400 and not is_failed():
            author = _author()
            if author is not None:
                from .. import search

                search.remember_write(session, author, mark)
        return response


def _author() -> Any:
    """Return the id of the user who made the current request (session or API token), or None."""
    principal = g.get("api_principal")
    if principal is not None and principal.user is not None:
        return principal.user.id
    from flask_login import current_user

    return current_user.id if current_user and current_user.is_authenticated else None
