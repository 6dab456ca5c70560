"""Domain errors raised by services and mapped to HTTP in one place per blueprint."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of all domain errors."""

    status = 400
    title = "Fehler"

    def __init__(self, message: str = "", **extra: Any) -> None:
        super().__init__(message or self.title)
        self.message = message or self.title
        self.extra = extra


class NotFound(DomainError):
    """The object does not exist or the user may not know it exists."""

    status = 404
    title = "Nicht gefunden"


class Forbidden(DomainError):
    """The user is known but may not do this."""

    status = 403
    title = "Keine Berechtigung"


class Conflict(DomainError):
    """The object changed meanwhile, or the request clashes with its state."""

    status = 409
    title = "Konflikt"


class Invalid(DomainError):
    """Input failed validation; errors maps field names to lists of messages."""

    status = 422
    title = "Eingaben unvollständig oder fehlerhaft"

    def __init__(self, errors: dict[str, Any], message: str = "") -> None:
        super().__init__(message or self.title)
        self.errors = errors
