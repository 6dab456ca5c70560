"""Turn HTML form input into service input (and listings back into form values)."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from ...models import Listing

TEXT_FIELDS = (
    "kind", "title", "summary", "description", "visibility", "phase", "reifegrad",
    "reifegrad_model", "licence", "repository_url", "website_url", "contact_name",
    "contact_email", "reuse_terms", "cost_model", "platform", "technologies", "maintenance",
    "partners",
)
BOOL_FIELDS = ("reuse_offered", "looking_for_partners")


def _split_tags(raw: str) -> list[str]:
    return [t.strip() for t in raw.replace(";", ",").split(",") if t.strip()]


def listing_form_values(form: MultiDict) -> dict[str, Any]:
    """Return the raw values of a submitted listing form, for re-rendering it."""
    values: dict[str, Any] = {name: form.get(name, "") for name in TEXT_FIELDS}
    for name in BOOL_FIELDS:
        values[name] = form.get(name) in ("1", "on", "true")
    values["tags"] = form.get("tags", "")
    values["ozg_ids"] = []
    for raw in form.getlist("ozg_ids"):
        raw = raw.strip()
        if raw and raw not in values["ozg_ids"]:
            values["ozg_ids"].append(raw)
    values["leika_keys"] = []
    for raw in form.getlist("leika_keys"):
        raw = raw.strip()
        if raw and raw not in values["leika_keys"]:
            values["leika_keys"].append(raw)
    values["version"] = form.get("version", "")
    return values


def listing_input(values: dict[str, Any]) -> dict[str, Any]:
    """Turn form values into the dict services.listings validates with ListingSchema."""
    data: dict[str, Any] = {name: values.get(name, "") for name in TEXT_FIELDS}
    for name in BOOL_FIELDS:
        data[name] = bool(values.get(name))
    data["tags"] = _split_tags(values.get("tags", ""))
    data["ozg_ids"] = list(values.get("ozg_ids") or [])
    data["leika_keys"] = list(values.get("leika_keys") or [])
    if not data["visibility"]:
        data["visibility"] = "public"
    return data


def listing_to_values(listing: Listing) -> dict[str, Any]:
    """Return the form values of a stored listing."""
    values: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = getattr(listing, name)
        values[name] = "" if value is None else str(value)
    for name in BOOL_FIELDS:
        values[name] = bool(getattr(listing, name))
    values["tags"] = ", ".join(listing.tags)
    values["ozg_ids"] = [str(o.id) for o in listing.ozg_leistungen]
    values["leika_keys"] = [lk.key for lk in listing.leika_leistungen]
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
