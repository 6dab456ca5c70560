"""Turn HTML form input into service input (and listings back into form values)."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from ...models import Listing
from ...models.listing_fields import LISTING_FIELDS, FieldType

FORM_FIELDS = tuple(spec for spec in LISTING_FIELDS if spec.on_form)


def _split_tags(raw: str) -> list[str]:
    return [t.strip() for t in raw.replace(";", ",").split(",") if t.strip()]


def listing_form_values(form: MultiDict) -> dict[str, Any]:
    """Return the raw values of a submitted listing form, for re-rendering it."""
    values: dict[str, Any] = {}
    for spec in FORM_FIELDS:
        if spec.type is FieldType.FLAG:
            values[spec.name] = form.get(spec.name) in ("1", "on", "true")
        elif spec.type is FieldType.CODES:  # one checkbox per code, each kept once
            values[spec.name] = list(dict.fromkeys(v.strip() for v in form.getlist(spec.name) if v.strip()))
        else:
            values[spec.name] = form.get(spec.name, "")
    values["version"] = form.get("version", "")
    return values


def listing_input(values: dict[str, Any]) -> dict[str, Any]:
    """Turn form values into the dict services.listings validates with ListingSchema."""
    data: dict[str, Any] = {}
    for spec in FORM_FIELDS:
        value = values.get(spec.name)
        if spec.type is FieldType.FLAG:
            data[spec.name] = bool(value)
        elif spec.type is FieldType.TAGS:
            data[spec.name] = _split_tags(value or "")
        elif spec.type is FieldType.CODES:
            data[spec.name] = list(value or [])
        elif not value and spec.default is not None:  # e.g. no visibility chosen: public
            data[spec.name] = spec.default
        else:
            data[spec.name] = value or ""
    return data


def listing_to_values(listing: Listing) -> dict[str, Any]:
    """Return the form values of a stored listing."""
    values: dict[str, Any] = {}
    for spec in FORM_FIELDS:
        value = spec.value(listing)
        if spec.type is FieldType.FLAG:
            values[spec.name] = bool(value)
        elif spec.type is FieldType.TAGS:
            values[spec.name] = ", ".join(value)
        elif spec.type is FieldType.CODES:
            values[spec.name] = [str(v) for v in value]
        else:
            values[spec.name] = "" if value is None else str(value)
    values["version"] = str(listing.version)
    return values


def field_errors(errors: dict[str, Any]) -> dict[str, list[str]]:
    """Flatten marshmallow's nested error messages to field -> list of strings."""
    flat: dict[str, list[str]] = {}
    for name, msgs in (errors or {}).items():
        if isinstance(msgs, dict):  # list fields report {index: [messages]}
            out: list[str] = []
            for sub in msgs.values():
                out.extend(sub if isinstance(sub, list) else [str(sub)])
            flat[name] = out
        elif isinstance(msgs, list):
            flat[name] = [str(m) for m in msgs]
        else:
            flat[name] = [str(msgs)]
    if "_schema" in flat:
        flat["title"] = flat.get("title", []) + flat.pop("_schema")
    return flat


def simple_form(form: MultiDict, *names: str) -> dict[str, str]:
    """Return the named fields of a small form as a dict of strings."""
    return {name: form.get(name, "") for name in names}
