"""Security headers on every response."""

from __future__ import annotations

import re

from flask import Flask, Response, abort, current_app, request
from flask_login import current_user

# A JSON string escape \u0000 (NUL) not itself escaped ("\\u0000" is the text \u0000).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
HSTS = "max-age=31536000; includeSubDomains"

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    """Add CSP and the other security headers to every response."""

    @app.before_request
    def _reject_nul_bytes() -> None:
        # PostgreSQL text cannot hold NUL: such input would end in a 500 instead of a 400.
        if "\x00" in request.path or any(
            "\x00" in v for values in (request.args, request.form) for v in values.values()
        ):
            abort(400)
        if request.is_json and request.content_length and (
                b"\x00" in request.get_data(cache=True) or _JSON_NUL.search(request.get_data(cache=True))):
            abort(400)

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        resp.headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
        if current_app.config.get("ENV") == "production" and current_app.config.get("BASE_URL", "").startswith("https://"):
            resp.headers.setdefault("Strict-Transport-Security", HSTS)
        # Pages for a signed-in person (API tokens and webhook secrets among them) are never
        # stored by the browser or a proxy; anonymous pages keep their own caching.
        if resp.mimetype == "text/html" and "Cache-Control" not in resp.headers and \
                getattr(current_user, "is_authenticated", False):
            resp.headers["Cache-Control"] = "private, no-store"
        return resp
