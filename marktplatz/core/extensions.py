"""Unbound extension objects, bound to the app in init_app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from . import ratelimit_store  # noqa: F401 - registers the sqlitefile:// store with limits

login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def _no_search_term() -> bool:
    return not (request.args.get("q") or "").strip()


def search_limit(setting: str) -> Callable[[Any], Any]:
    """Limit a route per client to the config setting's rate (flask-limiter syntax) whenever
    the request carries a search term q (searching costs far more than a plain page)."""
    return limiter.limit(lambda: current_app.config[setting], key_func=get_remote_address,
                         exempt_when=_no_search_term, override_defaults=False)


RETRY_AFTER_STATUSES = (429, 503)


def _retry_after_only_when_waiting(response: Any) -> Any:
    """Drop Retry-After except on 429 and 503 (RFC 9110 § 10.2.3).

    flask-limiter, with its headers enabled, sets Retry-After (the end of the rate window)
    on every response of a limited route, a 200 included; clients then wait for nothing.
    """
    if response.status_code not in RETRY_AFTER_STATUSES:
        response.headers.pop("Retry-After", None)
    return response


def init_app(app: Flask) -> None:
    """Bind the extensions to the app."""
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # Registered before the limiter: after_request functions run in reverse order, so this
    # one sees the limiter's headers.
    app.after_request(_retry_after_only_when_waiting)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Bitte melden Sie sich an, um diese Seite zu sehen."
    login_manager.login_message_category = "info"
