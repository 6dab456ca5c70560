"""REST API v1: flask-smorest blueprints, one error contract (RFC 9457), tokens, limits."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, current_app, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, UnsupportedMediaType

from ...core.extensions import csrf
from .common import JSON_TYPES, principal, require_scope
from .problems import problem
from .schemas import ProblemSchema

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


def _webargs_errors(data: dict[str, Any]) -> dict[str, Any]:
    """Flatten webargs' {location: {field: msgs}} into {field: msgs}."""
    messages = data.get("messages") or data.get("errors") or {}
    out: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            for name, msgs in fields.items():
                out[name] = msgs
        else:
            out[location] = fields
    return out


class MarktplatzApi(Api):
    """flask-smorest Api whose errors under /api/ are RFC 9457 problems.

    flask-smorest registers its JSON error handler app-wide; here it wraps the web UI's
    handler instead, so HTML pages keep their German error pages.
    """

    ERROR_SCHEMA = ProblemSchema

    # The OpenAPI document is built when it is first read, not when the app is created:
    # documenting 35 blueprints cost ~0.1 s of every create_app (each test's app, each CLI
    # command, each gunicorn worker), and most apps never serve the document.
    _pending_docs: list[tuple[Any, str, Any]]
    _finish_docs: Any = None

    def __init__(self, app: Flask | None = None, *, spec_kwargs: dict[str, Any] | None = None,
                 config_prefix: str = "") -> None:
        self._pending_docs = []
        self._docs_lock = threading.RLock()
        self._documenting = False
        super().__init__(app, spec_kwargs=spec_kwargs, config_prefix=config_prefix)

    @property
    def spec(self) -> Any:
        """Return the APISpec, documenting the blueprints registered since it was last read."""
        spec = self.__dict__["_spec"]
        if self._pending_docs or self._finish_docs is not None:
            with self._docs_lock:  # one thread documents; the others wait for the whole document
                if not self._documenting:
                    self._documenting = True
                    try:
                        while self._pending_docs:
                            blp, name, parameters = self._pending_docs.pop(0)
                            blp.register_views_in_doc(self, self._app, spec, name=name, parameters=parameters)
                            spec.tag({"name": name, "description": blp.description})
                        finish, self._finish_docs = self._finish_docs, None
                        if finish is not None:
                            finish(self, self._app)
                    finally:
                        self._documenting = False
        return spec

    @spec.setter
    def spec(self, value: Any) -> None:
        self.__dict__["_spec"] = value

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """Register blp with the app now; add it to the OpenAPI document when that is read."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._pending_docs.append((blp, name, parameters))

    def finish_docs_with(self, finish: Any) -> None:
        """Run finish(api, app) once, after the last blueprint is documented."""
        self._finish_docs = finish

    def _register_error_handlers(self) -> None:
        app = self._app
        previous = app.error_handler_spec.get(None, {}).get(None, {}).get(HTTPException)

        def _http(err: HTTPException):
            if request.path.startswith("/api/"):
                return self.handle_http_exception(err)
            return previous(err) if previous else err

        app.register_error_handler(HTTPException, _http)

    def handle_http_exception(self, error: HTTPException):  # noqa: D102
        data = getattr(error, "data", None) or {}
        headers = dict(data.get("headers") or {})
        code = error.code or 500
        if code in (405, 429, 503):
            headers.update({k: v for k, v in error.get_headers() if k in ("Retry-After", "Allow")})
        slug = None
        errors = None
        detail = ""
        if code == 422:
            errors = _webargs_errors(data)
        elif code == 400 and _is_json_error(error, data):
            slug = "invalid-json"
        elif code == 415 and error.description != UnsupportedMediaType.description:
            detail = error.description or ""  # our own German text from _check_content_type
        elif code == 412:
            slug = "precondition-failed"
        return problem(code, None, detail, errors, headers, slug=slug)


def _is_json_error(error: HTTPException, data: dict[str, Any]) -> bool:
    """Tell whether a 400 comes from a body that is not JSON (webargs or Flask's get_json)."""
    if isinstance(data.get("exc"), ValueError):  # JSONDecodeError, UnicodeDecodeError
        return True
    messages = data.get("messages") or {}
    if isinstance(messages, dict) and "json" in messages:
        return True
    return "JSON" in (error.description or "")


API_BLUEPRINTS: set[str] = set()


def _check_content_type():
    """Answer 415 when a request body has a content type the endpoint does not accept."""
    if request.blueprint not in API_BLUEPRINTS:
        return None
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    accepted = getattr(view, "_api_accepts", JSON_TYPES)
    has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding")
    if not has_body and not request.mimetype:
        return None
    if request.mimetype not in accepted:
        raise UnsupportedMediaType(
            f"Erwartet wird Content-Type {' oder '.join(accepted)}."
        )
    return None


def _authenticate():
    """Authenticate the bearer token; writes need the write scope before any body parsing."""
    if request.blueprint not in API_BLUEPRINTS:
        return
    principal()
    view = current_app.view_functions.get(request.endpoint or "")
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and not getattr(view, "_api_read_only", False):
        require_scope("write")


def init_app(app: Flask) -> None:
    """Create the Api for app and register the API and docs blueprints."""
    api = MarktplatzApi(app)  # its settings and defaults are in config.py
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{}, {"bearerAuth": []}]
    app.extensions["marktplatz_api"] = api

    from . import (
        catalogue,
        changes,
        docs,
        listings,
        municipalities,
        openapi,
        registers,
        reuses,
        sync,
    )

    for mod in (municipalities, catalogue, listings, reuses, changes, sync, registers):
        api.register_blueprint(mod.blp)
        API_BLUEPRINTS.add(mod.blp.name)
        csrf.exempt(mod.blp)  # bearer tokens, no cookies: CSRF does not apply
    api.finish_docs_with(openapi.complete)  # examples and problem responses, once documented
    app.register_blueprint(docs.bp)
    app.before_request(_check_content_type)
    app.before_request(_authenticate)
