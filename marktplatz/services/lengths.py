"""Declared string lengths hold on every backend: a value longer than its column is refused.

PostgreSQL refuses a value longer than ``String(n)`` (a DataError, answered as a 400);
SQLite stores it silently, so a 64 KB licence was kept. This ``before_flush`` listener
checks every new or changed string attribute against its column's length on both backends
and raises ``Invalid`` naming the attribute: a 422 with the field, and nothing is written.
The services' own limits (with their own messages) come first; this is the floor under all
of them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, inspect
from sqlalchemy.orm import Session

from .errors import Invalid

_LIMITS: dict[Any, list[tuple[str, int]]] = {}  # mapper: [(attribute, length)]


def _limits(mapper: Any) -> list[tuple[str, int]]:
    found = _LIMITS.get(mapper)
    if found is None:
        found = [(attr.key, col.type.length) for attr in mapper.column_attrs for col in attr.columns
                 if isinstance(col.type, String) and col.type.length]
        _LIMITS[mapper] = found
    return found


def check(obj: Any) -> dict[str, list[str]]:
    """Return {attribute: [message]} for the string values of obj longer than their columns."""
    errors: dict[str, list[str]] = {}
    state = inspect(obj)
    for key, length in _limits(state.mapper):
        if key not in state.dict:  # not loaded, so not changed
            continue
        value = state.dict[key]
        if isinstance(value, str) and len(value) > length:
            errors[key] = [f"Bitte höchstens {length} Zeichen (jetzt {len(value)})."]
    return errors


def before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    """Refuse the flush if a new or changed object holds a string longer than its column."""
    errors: dict[str, list[str]] = {}
    for obj in list(session.new) + [o for o in session.dirty if session.is_modified(o)]:
        errors.update(check(obj))
    if errors:
        raise Invalid(errors)
