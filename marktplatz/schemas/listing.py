"""Schemas for listings, status updates and reuses (input validation, German messages).

ListingSchema is built from the field catalogue (models/listing_fields.py); the rules that
span fields or need more than a type and a length are declared here. So are the listing's
flat representations derived from the catalogue: the open-data export and the webhook.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from ..core.text import strip_bidi
from ..models.listing import PHASES, REIFEGRAD_MODELS, REUSE_STAGES
from ..models.listing_fields import LISTING_FIELDS, FieldType, ListingField

REQUIRED = "Dieses Feld ist erforderlich."
LEIKA_RE = re.compile(r"^\d{14}$")
TAG_RE = re.compile(r"^[\w][\w .+#/-]{0,59}$", re.UNICODE)

_messages = {
    "required": REQUIRED,
    "null": "Dieses Feld darf nicht leer sein.",
    "invalid": "Ungültiger Wert.",
}


def _choice(options: dict[str, str]) -> validate.OneOf:
    return validate.OneOf(
        list(options), error="Bitte wählen Sie einen der Werte: " + ", ".join(options.values()) + "."
    )


@lru_cache(maxsize=1)
def _spdx():
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


_SPDX_CHARS = re.compile(r"[A-Za-z0-9.+\-:() ]+")  # ids, LicenseRef-/DocumentRef-, operators


def _spdx_normalised(value: str) -> str | None:
    if not _SPDX_CHARS.fullmatch(value):  # control characters, "·" and the like are no SPDX
        return None
    try:
        info = _spdx().validate(value)
    except Exception:  # noqa: BLE001 - license_expression raises several types on odd input
        return None
    if info.errors or not info.normalized_expression:
        return None
    return str(info.normalized_expression)


# A sync batch names the same few licences hundreds of times; parsing one takes ~0.1 ms.
_spdx_normalised_cached = lru_cache(maxsize=512)(_spdx_normalised)


def normalise_licence(value: str) -> str:
    """Return the normalised SPDX expression or raise ValidationError in German."""
    value = value.strip()
    result = _spdx_normalised_cached(value) if len(value) <= 200 else _spdx_normalised(value)
    if result is None:
        raise ValidationError(
            "Keine gültige SPDX-Lizenzangabe (z. B. EUPL-1.2, MIT, GPL-3.0-or-later, "
            "AGPL-3.0-only OR EUPL-1.2)."
        )
    return result


def _length(spec: ListingField) -> validate.Length | None:
    if spec.max_length is None and spec.min_length is None:
        return None
    if spec.min_length is not None and spec.max_length is not None:
        error = "Zwischen {min} und {max} Zeichen."
    elif spec.max_length is not None:
        error = "Höchstens {max} Zeichen."
    else:
        error = "Mindestens {min} Zeichen."
    return validate.Length(min=spec.min_length, max=spec.max_length, error=error)


# German messages for a value of the wrong type, unless the field declares its own.
_INVALID = {
    FieldType.NUMBER: "Bitte eine ganze Zahl angeben.",
    FieldType.URL: "Bitte eine vollständige Adresse mit http:// oder https:// angeben.",
    FieldType.EMAIL: "Bitte eine gültige E-Mail-Adresse angeben.",
}


def _input_field(spec: ListingField) -> fields.Field:
    """Return the marshmallow field that validates the input of spec."""
    invalid = spec.invalid or _INVALID.get(spec.type) or _messages["invalid"]
    kw: dict[str, Any] = {
        "metadata": {"description": f"{spec.label}. {spec.help}" if spec.help else spec.label},
        "error_messages": {**_messages, "invalid": _messages["invalid"] if spec.is_list else invalid},
    }
    if spec.required:
        kw["required"] = True
    else:
        kw["load_default"] = list if spec.is_list else spec.default
        kw["allow_none"] = spec.nullable
    length = _length(spec)
    t = spec.type
    if t in (FieldType.LINE, FieldType.TEXT):
        return fields.Str(validate=length, **kw)
    if t is FieldType.CHOICE:
        return fields.Str(validate=_choice(spec.choices or {}), **kw)
    if t is FieldType.NUMBER:
        return fields.Int(strict=False, **kw)
    if t is FieldType.FLAG:
        return fields.Bool(**kw)
    if t is FieldType.URL:
        return fields.Url(schemes={"http", "https"}, validate=length, **kw)
    if t is FieldType.EMAIL:
        return fields.Email(validate=length, **kw)
    item_messages = {**_messages, "invalid": invalid}
    if t is FieldType.CODES and spec.code_type is int:
        return fields.List(fields.Int(strict=False, error_messages=item_messages), **kw)
    if t in (FieldType.TAGS, FieldType.CODES):
        return fields.List(fields.Str(error_messages=item_messages), **kw)
    raise ValueError(f"unknown field type {t!r} of {spec.name}")


# Blank strings of these fields (typical of HTML forms) mean "not given"; required text
# is stripped, so that spaces alone do not count as a title.
_BLANK_IS_NONE = tuple(s.name for s in LISTING_FIELDS if s.nullable and not s.is_list)
_STRIPPED = tuple(
    s.name for s in LISTING_FIELDS if s.required and s.type in (FieldType.LINE, FieldType.TEXT)
)


class _ListingRules(Schema):
    """The rules of a listing's input that go beyond one field's type and length."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _blank_to_none(self, data: Any, **_kw: Any) -> Any:
        """Treat empty optional strings (typical of HTML forms) as not given."""
        if not isinstance(data, dict):
            return data
        out = {k: strip_bidi(v) if isinstance(v, str) else v for k, v in data.items()}
        for key in _BLANK_IS_NONE:
            if isinstance(out.get(key), str) and not out[key].strip():
                out[key] = None
        for key in _STRIPPED:
            if isinstance(out.get(key), str):
                out[key] = out[key].strip()
        self._given = {k for k, v in out.items() if v is not None}
        return out

    # The cross-field rules run even when a field failed, so every error shows in one round;
    # a rule stays silent about a field that already has its own error (it is not in data).

    @validates("tags")
    def _check_tags(self, value: list[str], **_kw: Any) -> None:
        if len(value) > 20:
            raise ValidationError("Höchstens 20 Schlagwörter.")
        for tag in value:
            if not TAG_RE.match(tag.strip()):
                raise ValidationError(f"Ungültiges Schlagwort {tag[:60]!r}: Buchstaben, Ziffern, höchstens 60 Zeichen.")

    @validates("leika_keys")
    def _check_leika(self, value: list[str], **_kw: Any) -> None:
        for key in value:
            if not LEIKA_RE.match(key.strip()):
                raise ValidationError(f"LeiKa-Schlüssel {key[:20]!r} muss aus 14 Ziffern bestehen.")

    @validates("licence")
    def _check_licence(self, value: str | None, **_kw: Any) -> None:
        if value is not None:
            normalise_licence(value)

    @validates_schema(skip_on_field_errors=False)
    def _check_reifegrad(self, data: dict[str, Any], **_kw: Any) -> None:
        grad, model = data.get("reifegrad"), data.get("reifegrad_model")
        if grad is None:
            return
        if model is None and "reifegrad_model" in getattr(self, "_given", ()):
            return  # given but invalid: its own error says so
        if model is None:
            raise ValidationError("Bitte das Reifegradmodell (1.1 oder 2.0) angeben.", "reifegrad_model")
        top = REIFEGRAD_MODELS[model]
        if not 0 <= grad <= top:
            raise ValidationError(f"Im Modell {model} liegt der Reifegrad zwischen 0 und {top}.", "reifegrad")

    @validates_schema(skip_on_field_errors=False)
    def _check_reuse_terms(self, data: dict[str, Any], **_kw: Any) -> None:
        if "reuse_terms" not in data and "reuse_terms" in getattr(self, "_given", ()):
            return  # given but invalid: its own error says so
        if data.get("reuse_offered") and not (data.get("reuse_terms") or "").strip():
            raise ValidationError(
                "Wer die Lösung zur Nachnutzung anbietet, beschreibt bitte kurz die Bedingungen.",
                "reuse_terms",
            )


class ListingSchema(
    _ListingRules.from_dict({s.name: _input_field(s) for s in LISTING_FIELDS}, name="ListingFields")
):
    """A listing as read from a form or an API request (its fields: models/listing_fields.py)."""

    class Meta:
        unknown = EXCLUDE


class StatusUpdateSchema(Schema):
    """A status update posted to a listing's timeline."""

    class Meta:
        unknown = EXCLUDE

    title = fields.Str(
        required=True,
        validate=validate.Length(min=3, max=200, error="Zwischen {min} und {max} Zeichen."),
        error_messages=_messages,
    )
    body = fields.Str(load_default="", validate=validate.Length(max=20_000))
    phase = fields.Str(allow_none=True, load_default=None, validate=_choice(PHASES))

    @pre_load
    def _blank(self, data: Any, **_kw: Any) -> Any:
        if isinstance(data, dict) and data.get("phase") == "":
            data = {**data, "phase": None}
        return data


class ReuseSchema(Schema):
    """A reuse declaration or a stage change."""

    class Meta:
        unknown = EXCLUDE

    stage = fields.Str(required=True, validate=_choice(REUSE_STAGES), error_messages=_messages)
    note = fields.Str(load_default="", validate=validate.Length(max=5000))
    reason = fields.Str(load_default="", validate=validate.Length(max=5000))
    contact_name = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=200))
    contact_email = fields.Email(
        allow_none=True, load_default=None, error_messages={"invalid": "Bitte eine gültige E-Mail-Adresse angeben."}
    )

    @pre_load
    def _blank(self, data: Any, **_kw: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("contact_name", "contact_email"):
                if isinstance(data.get(key), str) and not data[key].strip():
                    data[key] = None
        return data

    @validates_schema
    def _reason_when_discontinued(self, data: dict[str, Any], **_kw: Any) -> None:
        if data.get("stage") == "discontinued" and not (data.get("reason") or "").strip():
            raise ValidationError("Bitte einen Grund für die Einstellung angeben.", "reason")


# ----------------------------------------------------------------- flat representations

# The open-data export (CSV and JSON) in the column order its users read; the columns of
# fields declared later follow at the end, so positional CSV readers keep working. Columns
# without a field (id, url, kommune, ...) are filled by services.listing_pages.export_row.
_EXPORT_ORDER = (
    "id", "url", "art", "titel", "kurzbeschreibung", "kommune", "ags", "land", "phase",
    "reifegrad", "reifegrad_modell", "ozg_ids", "leika_schluessel", "lizenz",
    "zur_nachnutzung", "nachnutzungen", "schlagwoerter", "website", "repository",
    "veroeffentlicht", "aktualisiert",
)
EXPORT_COLUMNS: tuple[str, ...] = _EXPORT_ORDER + tuple(
    s.export for s in LISTING_FIELDS if s.export and s.export not in _EXPORT_ORDER
)


# Columns of the export without a field, with their JSON type (JSON Schema) and meaning.
_EXTRA_COLUMNS: dict[str, tuple[dict[str, Any], str]] = {
    "id": ({"type": "integer"}, "Kennung des Eintrags"),
    "url": ({"type": "string", "format": "uri"}, "Adresse der Eintragsseite"),
    "kommune": ({"type": "string"}, "Name der veröffentlichenden Kommune"),
    "ags": ({"type": ["string", "null"], "pattern": "^[0-9]{8}$"}, "Amtlicher Gemeindeschlüssel"),
    "land": ({"type": ["string", "null"]}, "Bundesland"),
    "nachnutzungen": ({"type": "integer", "minimum": 0}, "Zahl der aktiven Nachnutzungen"),
    "veroeffentlicht": ({"type": ["string", "null"], "format": "date-time"}, "Zeitpunkt der Veröffentlichung"),
    "aktualisiert": ({"type": "string", "format": "date-time"}, "Zeitpunkt der letzten Änderung"),
}


def _json_type(spec: ListingField) -> dict[str, Any]:
    """Return the JSON Schema of a field's value in the JSON export."""
    if spec.type is FieldType.TAGS:
        return {"type": "array", "items": {"type": "string"}}
    if spec.type is FieldType.CODES:
        return {"type": "array", "items": {"type": "integer" if spec.code_type is int else "string"}}
    if spec.type is FieldType.FLAG:
        return {"type": "boolean"}
    if spec.type is FieldType.NUMBER:
        return {"type": ["integer", "null"]}
    base: dict[str, Any] = {"type": ["string", "null"] if spec.nullable else "string"}
    if spec.type is FieldType.CHOICE and spec.choices:
        base["enum"] = list(spec.choices) + ([None] if spec.nullable else [])
    return base


def export_json_schema(base_url: str) -> dict[str, Any]:
    """Return the JSON Schema (2020-12) of the JSON export, built from the field declarations."""
    by_column = {s.export: s for s in LISTING_FIELDS if s.export}
    properties: dict[str, Any] = {}
    for column in EXPORT_COLUMNS:
        if column in by_column:
            spec = by_column[column]
            properties[column] = {**_json_type(spec), "description": spec.label}
        else:
            schema, description = _EXTRA_COLUMNS[column]
            properties[column] = {**schema, "description": description}
    entry = {"type": "object", "required": list(EXPORT_COLUMNS), "properties": properties,
             "additionalProperties": False}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url}/export/eintraege.schema.json",
        "title": "Marktplatz kommunaler Digitalisierung: Einträge",
        "type": "object",
        "required": ["lizenz", "lizenz_url", "namensnennung", "erzeugt", "anzahl", "eintraege"],
        "properties": {
            "lizenz": {"type": "string"}, "lizenz_url": {"type": "string", "format": "uri"},
            "namensnennung": {"type": "string"}, "erzeugt": {"type": "string", "format": "date-time"},
            "anzahl": {"type": "integer", "minimum": 0},
            "eintraege": {"type": "array", "items": entry},
        },
    }


def export_values(listing: Any) -> dict[str, Any]:
    """Return the open-data columns of a listing's fields as JSON values (lists stay lists, None)."""
    out = {}
    for s in LISTING_FIELDS:
        if s.export:
            value = s.value(listing)
            out[s.export] = list(value) if s.is_list else value
    return out


def csv_cell(value: Any, column: str = "") -> Any:
    """Flatten one JSON export value for the CSV: tags comma-, codes space-separated, yes/no, blanks."""
    if value is None:
        return ""
    if value is True or value is False:
        return "ja" if value else "nein"
    if isinstance(value, list):
        return (", " if column == "schlagwoerter" else " ").join(str(v) for v in value)
    return value


def webhook_values(listing: Any) -> dict[str, Any]:
    """Return the fields a webhook payload carries, as JSON values."""
    return {s.name: s.value(listing) for s in LISTING_FIELDS if s.webhook}

