"""Helpers shared by the services."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from marshmallow import Schema, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..permissions import can
from .errors import Conflict, Forbidden, Invalid

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def slugify(text: str, max_len: int = 80) -> str:
    """Turn a German title into an ASCII URL slug."""
    text = text.translate(_UMLAUTS)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return (text[:max_len].rstrip("-")) or "eintrag"


def unique_slug(session: Session, model: Any, base: str, exclude_id: int | None = None) -> str:
    """Return base, or base-2, base-3 ... whichever is free for model.slug."""
    slug, n = base, 1
    while True:
        q = select(model.id).where(model.slug == slug)
        found = session.scalar(q)
        if found is None or found == exclude_id:
            return slug
        n += 1
        slug = f"{base}-{n}"


def require(user: Any, action: str, obj: Any = None) -> None:
    """Raise Forbidden unless user may perform action on obj."""
    if not can(user, action, obj):
        raise Forbidden("Sie haben für diese Aktion keine Berechtigung.")


def load(schema: Schema, data: Any, partial: bool = False) -> dict[str, Any]:
    """Validate data with schema or raise Invalid with per-field messages."""
    if not isinstance(data, dict):
        raise Invalid({"_schema": ["Erwartet wird ein Objekt mit Feldern."]})
    try:
        return schema.load(data, partial=partial)
    except ValidationError as err:
        raise Invalid(err.normalized_messages()) from err


def commit(session: Session) -> None:
    """Commit, turning integrity violations into Conflict and leaving the session clean."""
    try:
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise Conflict("Der Eintrag widerspricht einem vorhandenen Datensatz.") from err
    except Exception:
        session.rollback()
        raise
