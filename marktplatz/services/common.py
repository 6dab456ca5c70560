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


def unique_slugs(session: Session, model: Any, bases: list[str]) -> list[str]:
    """Return a free slug for each base, as unique_slug would in turn with the earlier ones taken.

    A few queries for the whole list instead of at least one per base: the usual candidates
    (base, base-2, ... one more than the list repeats the base) are looked up together,
    further ones in growing windows only for bases that run out.
    """
    def candidate(base: str, n: int) -> str:
        return base if n == 1 else f"{base}-{n}"

    taken: set[str] = set()
    checked: dict[str, int] = {}

    def fetch(windows: dict[str, tuple[int, int]]) -> None:
        names = [candidate(b, n) for b, (lo, hi) in windows.items() for n in range(lo, hi + 1)]
        for i in range(0, len(names), 500):
            taken.update(session.scalars(select(model.slug).where(model.slug.in_(names[i:i + 500]))))
        for b, (_lo, hi) in windows.items():
            checked[b] = hi

    wanted: dict[str, int] = {}
    for base in bases:
        wanted[base] = wanted.get(base, 0) + 1
    fetch({b: (1, count + 2) for b, count in wanted.items()})
    next_n: dict[str, int] = {}
    out = []
    for base in bases:
        n = next_n.get(base, 1)  # every smaller candidate is taken, here or in the database
        while True:
            if n > checked[base]:
                fetch({base: (n, n + max(16, n))})
            slug = candidate(base, n)
            if slug not in taken:
                break
            n += 1
        taken.add(slug)
        next_n[base] = n + 1
        out.append(slug)
    return out


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
        invalid = Invalid(err.normalized_messages())
        # The fields that passed, so a caller can check its own rules in the same pass.
        invalid.valid_data = err.valid_data if isinstance(err.valid_data, dict) else {}
        raise invalid from err


def flush(session: Session) -> None:
    """Flush the change, turning integrity violations into Conflict.

    Services change and flush; the edge (request, CLI command, worker job) commits the unit
    of work once (see core.db.init_app). A refused flush rolls the whole unit back.
    """
    try:
        session.flush()
        if session.new or session.dirty:  # what the flush's event listeners added (notifications)
            session.flush()
    except IntegrityError as err:
        session.rollback()
        raise Conflict("Der Eintrag widerspricht einem vorhandenen Datensatz.") from err
    except Exception:
        session.rollback()
        raise


def like_pattern(text: str) -> str:
    """Return a case-folded LIKE pattern matching text anywhere (use with escape="\\\\")."""
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
