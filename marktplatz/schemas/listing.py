"""Schemas for listings, status updates and reuses (input validation, German messages)."""

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

from ..models.listing import (
    COST_MODELS,
    KINDS,
    MAINTENANCE,
    PHASES,
    REIFEGRAD_MODELS,
    REUSE_STAGES,
    VISIBILITIES,
)

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


def _url(**kw: Any) -> fields.Url:
    return fields.Url(
        schemes={"http", "https"},
        allow_none=True,
        validate=validate.Length(max=500, error="Höchstens {max} Zeichen."),
        error_messages={"invalid": "Bitte eine vollständige Adresse mit http:// oder https:// angeben."},
        **kw,
    )


@lru_cache(maxsize=1)
def _spdx():
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def _spdx_normalised(value: str) -> str | None:
    info = _spdx().validate(value)
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


class ListingSchema(Schema):
    """A listing as read from a form or an API request."""

    class Meta:
        unknown = EXCLUDE

    kind = fields.Str(required=True, validate=_choice(KINDS), error_messages=_messages)
    title = fields.Str(
        required=True,
        validate=validate.Length(min=3, max=200, error="Zwischen {min} und {max} Zeichen."),
        error_messages=_messages,
    )
    summary = fields.Str(
        required=True,
        validate=validate.Length(min=10, max=300, error="Zwischen {min} und {max} Zeichen."),
        error_messages=_messages,
    )
    description = fields.Str(
        load_default="", validate=validate.Length(max=50_000, error="Höchstens {max} Zeichen.")
    )
    tags = fields.List(fields.Str(), load_default=list)
    ozg_ids = fields.List(
        fields.Int(strict=False, error_messages={"invalid": "OZG-ID muss eine Zahl sein."}),
        load_default=list,
    )
    leika_keys = fields.List(fields.Str(), load_default=list)
    visibility = fields.Str(load_default="public", validate=_choice(VISIBILITIES))
    phase = fields.Str(allow_none=True, load_default=None, validate=_choice(PHASES))
    reifegrad = fields.Int(
        allow_none=True,
        load_default=None,
        strict=False,
        error_messages={"invalid": "Der Reifegrad muss eine ganze Zahl sein."},
    )
    reifegrad_model = fields.Str(allow_none=True, load_default=None, validate=_choice({k: k for k in REIFEGRAD_MODELS}))
    licence = fields.Str(allow_none=True, load_default=None)
    repository_url = _url(load_default=None)
    website_url = _url(load_default=None)
    contact_name = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=200))
    contact_email = fields.Email(
        allow_none=True,
        load_default=None,
        error_messages={"invalid": "Bitte eine gültige E-Mail-Adresse angeben."},
    )
    reuse_offered = fields.Bool(load_default=False)
    reuse_terms = fields.Str(load_default="", validate=validate.Length(max=5000))
    cost_model = fields.Str(allow_none=True, load_default=None, validate=_choice(COST_MODELS))
    platform = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=200))
    technologies = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=300))
    maintenance = fields.Str(allow_none=True, load_default=None, validate=_choice(MAINTENANCE))
    looking_for_partners = fields.Bool(load_default=False)
    partners = fields.Str(load_default="", validate=validate.Length(max=5000))
    external_id = fields.Str(allow_none=True, load_default=None, validate=validate.Length(min=1, max=200))

    @pre_load
    def _blank_to_none(self, data: Any, **_kw: Any) -> Any:
        """Treat empty optional strings (typical of HTML forms) as not given."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key in (
            "phase", "reifegrad", "reifegrad_model", "licence", "repository_url", "website_url",
            "contact_name", "contact_email", "cost_model", "platform", "technologies",
            "maintenance", "external_id",
        ):
            if isinstance(out.get(key), str) and not out[key].strip():
                out[key] = None
        for key in ("title", "summary"):
            if isinstance(out.get(key), str):
                out[key] = out[key].strip()
        return out

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

    @validates_schema
    def _check_reifegrad(self, data: dict[str, Any], **_kw: Any) -> None:
        grad, model = data.get("reifegrad"), data.get("reifegrad_model")
        if grad is None:
            return
        if model is None:
            raise ValidationError("Bitte das Reifegradmodell (1.1 oder 2.0) angeben.", "reifegrad_model")
        top = REIFEGRAD_MODELS[model]
        if not 0 <= grad <= top:
            raise ValidationError(f"Im Modell {model} liegt der Reifegrad zwischen 0 und {top}.", "reifegrad")

    @validates_schema
    def _check_reuse_terms(self, data: dict[str, Any], **_kw: Any) -> None:
        if data.get("reuse_offered") and not (data.get("reuse_terms") or "").strip():
            raise ValidationError(
                "Wer die Lösung zur Nachnutzung anbietet, beschreibt bitte kurz die Bedingungen.",
                "reuse_terms",
            )


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
