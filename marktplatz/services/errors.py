"""Domain errors raised by services and mapped to HTTP in one place per blueprint."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..core.db import mark_failed

_QUIET: contextvars.ContextVar[bool] = contextvars.ContextVar("marktplatz_quiet_errors", default=False)


@contextmanager
def unraised() -> Iterator[None]:
    """Build domain errors as answers to "why not?" without failing the unit of work.

    Errors made inside are reasons (lifecycle.refusal for allowed_actions, say); whoever
    raises one later marks the unit of work as failed (see DomainError.fail).
    """
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


class DomainError(Exception):
    """Base of all domain errors."""

    status = 400
    title = "Fehler"

    def __init__(self, message: str = "", **extra: Any) -> None:
        super().__init__(message or self.title)
        self.message = message or self.title
        self.extra = extra
        if not _QUIET.get():
            mark_failed()  # whoever catches it, the change behind it is not committed

    def fail(self) -> DomainError:
        """Mark the unit of work as failed and return self, to raise a reason built quietly."""
        mark_failed()
        return self


class NotFound(DomainError):
    """The object does not exist or the user may not know it exists."""

    status = 404
    title = "Nicht gefunden"


class Forbidden(DomainError):
    """The user is known but may not do this."""

    status = 403
    title = "Keine Berechtigung"


class TooManyAttempts(DomainError):
    """Too many failed attempts: wait the given seconds before the next one is checked."""

    status = 429
    title = "Zu viele Versuche"

    def __init__(self, seconds: int) -> None:
        self.seconds = max(1, int(seconds))
        unit = "Sekunde" if self.seconds == 1 else "Sekunden"
        super().__init__(f"Zu viele fehlgeschlagene Anmeldeversuche. Bitte warten Sie {self.seconds} {unit} "
                         "und versuchen Sie es dann erneut.")


class Conflict(DomainError):
    """The object changed meanwhile, or the request clashes with its state."""

    status = 409
    title = "Konflikt"


class Unavailable(DomainError):
    """A service the change needs (such as the mail server) cannot be reached just now."""

    status = 503
    title = "Vorübergehend nicht verfügbar"


class Invalid(DomainError):
    """Input failed validation; errors maps field names to lists of messages."""

    status = 422
    title = "Eingaben unvollständig oder fehlerhaft"

    def __init__(self, errors: dict[str, Any], message: str = "") -> None:
        super().__init__(message or self.title)
        self.errors = errors
        self.valid_data: dict[str, Any] = {}
