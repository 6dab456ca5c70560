"""Turn domain and HTTP errors into helpful German pages (the API blueprint has its own)."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from ...services.errors import DomainError

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Anfrage fehlerhaft", "Die Anfrage konnte nicht verarbeitet werden."),
    403: ("Keine Berechtigung", "Sie dürfen diese Seite oder Aktion nicht nutzen."),
    404: ("Seite nicht gefunden", "Diese Seite gibt es nicht oder Sie dürfen sie nicht sehen."),
    405: ("Aktion nicht möglich", "Diese Aktion ist hier nicht vorgesehen."),
    409: ("Konflikt", "Der Eintrag wurde inzwischen geändert."),
    413: ("Zu groß", "Die gesendeten Daten sind zu groß."),
    422: ("Eingaben fehlerhaft", "Bitte prüfen Sie Ihre Eingaben."),
    429: ("Zu viele Anfragen", "Bitte warten Sie einen Moment und versuchen Sie es erneut."),
    500: ("Interner Fehler", "Etwas ist schiefgelaufen. Bitte versuchen Sie es später erneut."),
    503: ("Vorübergehend nicht verfügbar", "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es in einer Minute erneut."),
}


def render_error(status: int, message: str | None = None):
    """Render the error page for status with an optional specific message."""
    title, default = MESSAGES.get(status, MESSAGES[500])
    return render_template("error.html", status=status, title=title, message=message or default), status


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(DomainError)
    def _domain(err: DomainError):
        return render_error(err.status, err.message)

    @app.errorhandler(CSRFError)
    def _csrf(_err: CSRFError):
        return render_error(400, "Das Formular ist abgelaufen oder unvollständig. Bitte laden Sie die Seite neu und senden Sie es erneut.")

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def _bad_value(err: Exception):
        # Values the database cannot store (a 30-digit id, say) are bad input, not a crash.
        log.info("unstorable value on %s: %s", request.path, type(err).__name__)
        return render_error(400, "Ein eingegebener Wert ist ungültig oder zu groß.")

    @app.errorhandler(OperationalError)
    def _db_down(err: OperationalError):
        log.error("database unavailable on %s: %s", request.path, type(err.orig).__name__)
        resp, status = render_error(503)
        return resp, status, {"Retry-After": "30"}

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if request.path.startswith("/api/"):
            return err
        return render_error(err.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error on %s", request.path)
        return render_error(500)
