"""RFC 9457 problem responses and the per-blueprint error handlers of the API.

Every problem carries a stable `type` URI from PROBLEM_TYPES; the OpenAPI document lists
them (components.responses and the Problem schema) and so does the docs page.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, json, request
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from ...services.errors import DomainError, Invalid

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
# A URN, not an URL of this instance: the identifier stays the same on every host and
# behind every proxy, which is what a client compares (RFC 9457 § 3.1.1).
TYPE_PREFIX = "urn:marktplatz:problem:"


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: its status, German title and the detail used when none is given."""

    slug: str
    status: int
    title: str
    detail: str

    @property
    def uri(self) -> str:
        """Return the stable type URI."""
        return TYPE_PREFIX + self.slug


PROBLEM_TYPES: dict[str, ProblemType] = {p.slug: p for p in (
    ProblemType("bad-request", 400, "Ungültige Anfrage", "Die Anfrage kann nicht verarbeitet werden."),
    ProblemType("invalid-json", 400, "Ungültiges JSON",
                "Der Inhalt der Anfrage ist kein gültiges JSON (UTF-8)."),
    ProblemType("unauthorized", 401, "Anmeldung nötig", "Für diese Aktion ist ein gültiges API-Token nötig."),
    ProblemType("forbidden", 403, "Keine Berechtigung", "Diese Aktion ist mit diesem Token nicht erlaubt."),
    ProblemType("not-found", 404, "Nicht gefunden", "Die angefragte Ressource gibt es nicht."),
    ProblemType("method-not-allowed", 405, "Methode nicht erlaubt",
                "Diese HTTP-Methode ist hier nicht erlaubt; erlaubt sind die im Allow-Header genannten."),
    ProblemType("not-acceptable", 406, "Nicht lieferbar", "Die Antwort gibt es nur als JSON."),
    ProblemType("conflict", 409, "Konflikt", "Die Anfrage steht im Widerspruch zum aktuellen Zustand."),
    ProblemType("payload-too-large", 413, "Anfrage zu groß", "Der Inhalt der Anfrage ist zu groß."),
    ProblemType("precondition-failed", 412, "Vorbedingung nicht erfüllt",
                "Der Eintrag wurde inzwischen geändert: Das ETag in If-Match ist nicht mehr aktuell. "
                "Bitte neu laden und die Änderung erneut senden."),
    ProblemType("unsupported-media-type", 415, "Nicht unterstützter Inhaltstyp",
                "Der Content-Type der Anfrage wird hier nicht angenommen."),
    ProblemType("validation", 422, Invalid.title, "Bitte die Angaben in errors prüfen."),
    ProblemType("precondition-required", 428, "Vorbedingung nötig", "Bitte If-Match mit dem ETag senden."),
    ProblemType("rate-limited", 429, "Zu viele Anfragen",
                "Zu viele Anfragen. Bitte nach Retry-After Sekunden erneut versuchen."),
    ProblemType("internal", 500, "Interner Fehler", "Interner Fehler."),
    ProblemType("unavailable", 503, "Vorübergehend nicht verfügbar",
                "Der Dienst ist vorübergehend nicht verfügbar. Bitte nach Retry-After Sekunden erneut versuchen."),
)}
_BY_STATUS: dict[int, ProblemType] = {}
for _p in PROBLEM_TYPES.values():
    _BY_STATUS.setdefault(_p.status, _p)


def problem_type(status: int, slug: str | None = None) -> ProblemType:
    """Return the problem type named slug, else the general one of status."""
    if slug and slug in PROBLEM_TYPES:
        return PROBLEM_TYPES[slug]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return PROBLEM_TYPES["internal" if status >= 500 else "bad-request"]


# marshmallow's and webargs' English default messages, in German. The API schemas give
# their own German messages where it matters; this catches every default left over.
_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), g) for p, g in (
    (r"^Must be one of: (.*)\.$", r"Erlaubt ist einer der Werte: \1."),
    (r"^Missing data for required field\.$", "Pflichtangabe fehlt."),
    (r"^Field may not be null\.$", "Darf nicht leer (null) sein."),
    (r"^Unknown field\.$", "Unbekanntes Feld."),
    (r"^Not a valid integer\.$", "Bitte eine ganze Zahl angeben."),
    (r"^Not a valid number\.$", "Bitte eine Zahl angeben."),
    (r"^Not a valid string\.$", "Bitte einen Text angeben."),
    (r"^Not a valid boolean\.$", "Bitte true oder false angeben."),
    (r"^Not a valid list\.$", "Bitte eine Liste angeben."),
    (r"^Not a valid mapping type\.$", "Bitte ein JSON-Objekt angeben."),
    (r"^Not a valid URL\.$", "Bitte eine vollständige Adresse mit http:// oder https:// angeben."),
    (r"^Not a valid email address\.$", "Bitte eine gültige E-Mail-Adresse angeben."),
    (r"^Not a valid datetime\.$", "Bitte Datum und Uhrzeit nach ISO 8601 angeben."),
    (r"^Not a valid date\.$", "Bitte ein Datum nach ISO 8601 (JJJJ-MM-TT) angeben."),
    (r"^Invalid input type\.$", "Ungültiger Datentyp."),
    (r"^Invalid value\.$", "Ungültiger Wert."),
    (r"^Invalid JSON body\.$", "Der Inhalt ist kein gültiges JSON."),
    (r"^Number too large\.$", "Die Zahl ist zu groß."),
    (r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$",
     r"Erlaubt ist ein Wert von \1 bis \2."),
    (r"^Must be greater than or equal to (\S+)\.$", r"Erlaubt ist ein Wert ab \1."),
    (r"^Must be less than or equal to (\S+)\.$", r"Erlaubt ist ein Wert bis \1."),
    (r"^Length must be between (\S+) and (\S+)\.$", r"Zwischen \1 und \2 Zeichen oder Einträge."),
    (r"^Shorter than minimum length (\S+)\.$", r"Mindestens \1 Zeichen oder Einträge."),
    (r"^Longer than maximum length (\S+)\.$", r"Höchstens \1 Zeichen oder Einträge."),
    (r"^Length must be (\S+)\.$", r"Genau \1 Zeichen oder Einträge."),
))


def german(messages: Any) -> Any:
    """Return messages (a string, or lists and dicts of them) with English defaults in German."""
    if isinstance(messages, str):
        for pattern, replacement in _MESSAGES:
            if pattern.match(messages):
                return pattern.sub(replacement, messages)
        return messages
    if isinstance(messages, dict):
        return {str(k): german(v) for k, v in messages.items()}
    if isinstance(messages, (list, tuple)):
        return [german(m) for m in messages]
    return messages


def problem(status: int, title: str | None = None, detail: str = "", errors: Any = None, headers: Any = None,
            slug: str | None = None, **extra: Any) -> Response:
    """Return an application/problem+json response of the problem type slug (or of status)."""
    kind = problem_type(status, slug)
    body: dict[str, Any] = {"type": kind.uri, "title": title or kind.title, "status": status,
                            "detail": detail or kind.detail}
    if errors:
        body["errors"] = german(errors)
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
    return problem(400, None, "Die JSON-Daten sind zu tief verschachtelt.", slug="invalid-json")


def _db_down(err: OperationalError) -> Response:
    log.error("database unavailable on %s: %s", request.path, type(err.orig).__name__)
    return problem(503, None, "Die Datenbank ist nicht erreichbar.", headers={"Retry-After": "30"})


def _unexpected(_err: Exception) -> Response:
    log.exception("unhandled API error on %s", request.path)
    return problem(500)


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
