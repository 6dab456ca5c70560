"""Opaque, tamper-tolerant cursors for keyset pagination (a tuple of non-negative ints)."""

from __future__ import annotations

import base64
import binascii

MAX_PART = 2**63 - 1
_VERSION = "c1"


class CursorError(ValueError):
    """The cursor is not one this API issued."""


def encode(*parts: int) -> str:
    """Return the opaque cursor for a tuple of non-negative integers."""
    if not parts or any(not 0 <= p <= MAX_PART for p in parts):
        raise ValueError("cursor parts must be non-negative 64-bit integers")
    raw = ".".join(str(int(p)) for p in parts).encode("ascii")
    return _VERSION + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(cursor: str, arity: int) -> tuple[int, ...]:
    """Return the integers of cursor, or raise CursorError."""
    if not isinstance(cursor, str) or not cursor.startswith(_VERSION) or len(cursor) > 120:
        raise CursorError("Unbekannter Cursor.")
    body = cursor[len(_VERSION):]
    if not body or any(ch not in _ALPHABET for ch in body):
        raise CursorError("Unbekannter Cursor.")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise CursorError("Unbekannter Cursor.") from err
    pieces = raw.split(".")
    if len(pieces) != arity or not all(p.isdigit() and p.isascii() and len(p) <= 19 for p in pieces):
        raise CursorError("Unbekannter Cursor.")
    values = tuple(int(p) for p in pieces)
    if any(v > MAX_PART for v in values):
        raise CursorError("Unbekannter Cursor.")
    return values


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
