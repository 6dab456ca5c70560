"""Marktplatz: inter-municipal marketplace for digital administration."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates")
STATIC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the Flask application."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=TEMPLATE_DIR,
        static_folder=STATIC_DIR,
        instance_path=os.environ.get("MARKTPLATZ_INSTANCE_PATH")
        or os.path.join(os.path.dirname(TEMPLATE_DIR), "instance"),
    )
    from . import config as config_module

    config_module.init_app(app, config)

    from . import cli, views
    from .core import db, extensions
    from .views.web import errors, pagecache, security, templating

    db.init_app(app)
    from .services import events

    events.register(app.extensions["sqlalchemy_sessionmaker"])
    extensions.init_app(app)
    security.init_app(app)
    pagecache.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    views.init_app(app)
    cli.init_app(app)
    from . import search

    search.init_app(app)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        # Behind nginx: take client address, scheme and host from the trusted proxies only.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    return app
