"""JSON Merge Patch (RFC 7396)."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32


class MergePatchError(ValueError):
    """The patch is too deeply nested to apply."""


def apply(target: Any, patch: Any, _depth: int = 0) -> Any:
    """Return target with the RFC 7396 merge patch applied (inputs are not modified)."""
    if _depth > MAX_DEPTH:
        raise MergePatchError("Der Patch ist zu tief verschachtelt.")
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply(result.get(key), value, _depth + 1)
    return result
