"""RFC 9457 problem responses and the per-blueprint error handlers of the API."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, json, request
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from ...services.errors import DomainError, Invalid

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str = "", errors: Any = None, headers: Any = None,
            **extra: Any) -> Response:
    """Return an application/problem+json response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    resp = Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def _domain(err: DomainError) -> Response:
    errors = err.errors if isinstance(err, Invalid) else None
    extra = {k: v for k, v in err.extra.items() if isinstance(v, (int, str)) and k not in ("type", "status")}
    headers = {"WWW-Authenticate": 'Bearer realm="marktplatz"'} if err.status == 401 else None
    return problem(err.status, err.title, err.message, errors, headers, **extra)


def _bad_data(err: Exception) -> Response:
    log.info("rejected API input on %s: %s", request.path, type(err).__name__)
    return problem(422, Invalid.title, "Die Eingabe enthält Werte, die nicht gespeichert werden können.")


def _too_deep(_err: RecursionError) -> Response:
    log.info("rejected too deeply nested API input on %s", request.path)
    return problem(400, "Bad Request", "Die JSON-Daten sind zu tief verschachtelt.")


def _db_down(err: OperationalError) -> Response:
    log.error("database unavailable on %s: %s", request.path, type(err.orig).__name__)
    return problem(503, "Service Unavailable", "Die Datenbank ist nicht erreichbar.", headers={"Retry-After": "30"})


def _unexpected(_err: Exception) -> Response:
    log.exception("unhandled API error on %s", request.path)
    return problem(500, "Internal Server Error", "Interner Fehler.")


def _http(err: HTTPException) -> Response:
    return current_app.extensions["marktplatz_api"].handle_http_exception(err)


def install(bp: Blueprint) -> None:
    """Map HTTP and domain errors, unstorable input and unexpected errors of bp to problems."""
    bp.register_error_handler(HTTPException, _http)
    bp.register_error_handler(DomainError, _domain)
    bp.register_error_handler(DataError, _bad_data)
    bp.register_error_handler(OverflowError, _bad_data)
    bp.register_error_handler(UnicodeError, _bad_data)
    bp.register_error_handler(OperationalError, _db_down)
    bp.register_error_handler(RecursionError, _too_deep)
    bp.register_error_handler(Exception, _unexpected)
