"""Schema of a process register entry, shared by the form, the import and the API.

COLUMNS is the one field declaration: the form labels, the CSV/XLSX headers of import,
export and template, and the API field names derive from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from ..core.text import strip_bidi
from ..models.process_register import CHANNELS, REGISTER_VISIBILITIES

REQUIRED = "Dieses Feld ist erforderlich."
_messages = {"required": REQUIRED, "null": "Dieses Feld darf nicht leer sein.", "invalid": "Ungültiger Wert."}
_int_messages = {**_messages, "invalid": "Bitte eine ganze Zahl angeben."}
KEY_RE = re.compile(r"^[A-Za-z0-9ÄÖÜäöüß][A-Za-z0-9ÄÖÜäöüß._/-]{0,59}$")
LEIKA_RE = re.compile(r"^\d{14}$")
MAX_CASES = 10_000_000


@dataclass(frozen=True)
class Column:
    """One field of an entry: API name, spreadsheet header, German label and help."""

    name: str
    header: str
    label: str
    help: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("process_key", "prozessschluessel", "Eigener Prozessschlüssel",
           "Ihr eigener, eindeutiger Schlüssel des Prozesses, z. B. „32-001“. Über ihn wird beim Import aktualisiert."),
    Column("name", "name", "Name des Prozesses"),
    Column("ozg_id", "ozg_id", "OZG-ID", "Nummer der OZG-Leistung, z. B. 10160 für Hundehaltung."),
    Column("leika_key", "leika_schluessel", "LeiKa-Schlüssel", "14 Ziffern, z. B. 99102013000000."),
    Column("unit", "zustaendige_stelle", "Zuständige Stelle", "Amt oder Fachbereich."),
    Column("cases", "fallzahl", "Fallzahl pro Jahr"),
    Column("cases_year", "jahr", "Jahr der Fallzahl", "Pflicht, wenn eine Fallzahl angegeben ist."),
    Column("channel", "kanal", "Heutiger Kanal",
           "Einer der Werte: " + ", ".join(f"{k} ({v})" for k, v in CHANNELS.items()) + "."),
    Column("solution_listing", "loesung_eintrag", "Genutzte Lösung: Eintrag im Marktplatz",
           "Kurzname (aus der Adresse /eintraege/…) eines Eintrags, den Sie nutzen."),
    Column("solution_text", "loesung_text", "Genutzte Lösung: Freitext", "z. B. Fachverfahren oder Anbieter."),
    Column("own_statute", "eigene_satzung", "Eigene Satzung (Satzungshoheit)", "ja oder nein."),
    Column("statute_ref", "satzung", "Verweis auf die Satzung", "z. B. Hundesteuersatzung vom 12.12.2019, § 3."),
    Column("priority", "prioritaet", "Eigene Priorität", "1 (sehr hoch) bis 5 (sehr niedrig)."),
    Column("notes", "notizen", "Notizen"),
)
LABELS = {c.name: c.label for c in COLUMNS}
HEADERS = {c.header: c.name for c in COLUMNS}


def _clean(value: str) -> str:
    return strip_bidi(value).strip()


class ProcessEntrySchema(Schema):
    """One process of a register (input of the form, the import rows and the API)."""

    class Meta:
        unknown = EXCLUDE

    process_key = fields.Str(required=True, error_messages=_messages, validate=validate.Regexp(
        KEY_RE, error="1–60 Zeichen: Buchstaben, Ziffern, Punkt, Bindestrich, Unterstrich oder Schrägstrich."))
    name = fields.Str(required=True, error_messages=_messages, validate=validate.Length(
        min=1, max=300, error="Bitte 1 bis 300 Zeichen angeben."))
    ozg_id = fields.Int(allow_none=True, load_default=None, strict=False, error_messages=_int_messages,
                        validate=validate.Range(min=1, max=99999, error="Keine gültige OZG-ID."))
    leika_key = fields.Str(allow_none=True, load_default=None, validate=validate.Regexp(
        LEIKA_RE, error="Ein LeiKa-Schlüssel hat 14 Ziffern."))
    unit = fields.Str(load_default="", validate=validate.Length(max=200, error="Höchstens 200 Zeichen."))
    cases = fields.Int(allow_none=True, load_default=None, error_messages=_int_messages,
                       validate=validate.Range(min=0, max=MAX_CASES,
                                               error=f"Eine Zahl von 0 bis {MAX_CASES:,}.".replace(",", ".")))
    cases_year = fields.Int(allow_none=True, load_default=None, error_messages=_int_messages,
                            validate=validate.Range(min=2000, max=2100, error="Ein Jahr von 2000 bis 2100."))
    channel = fields.Str(required=True, error_messages=_messages, validate=validate.OneOf(
        list(CHANNELS), error="Bitte einen der Werte wählen: " + ", ".join(CHANNELS) + "."))
    solution_listing = fields.Str(allow_none=True, load_default=None,
                                  validate=validate.Length(max=120, error="Höchstens 120 Zeichen."))
    solution_text = fields.Str(load_default="", validate=validate.Length(max=300, error="Höchstens 300 Zeichen."))
    own_statute = fields.Bool(load_default=False, error_messages={"invalid": "Bitte ja oder nein angeben."})
    statute_ref = fields.Str(load_default="", validate=validate.Length(max=300, error="Höchstens 300 Zeichen."))
    priority = fields.Int(allow_none=True, load_default=None, error_messages=_int_messages,
                          validate=validate.Range(min=1, max=5, error="Eine Zahl von 1 (sehr hoch) bis 5."))
    notes = fields.Str(load_default="", validate=validate.Length(max=5000, error="Höchstens 5000 Zeichen."))

    @pre_load
    def _normalise(self, data: Any, **_kw: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key, value in list(data.items()):
            if isinstance(value, str):
                value = _clean(value)
                if key in ("ozg_id", "leika_key", "cases", "cases_year", "priority", "solution_listing") and not value:
                    value = None
                data[key] = value
        return data

    @validates_schema
    def _rules(self, data: dict[str, Any], **_kw: Any) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("ozg_id") is None and not data.get("leika_key"):
            errors["ozg_id"] = ["Bitte eine OZG-ID oder einen LeiKa-Schlüssel angeben."]
        if data.get("cases") is not None and data.get("cases_year") is None:
            errors["cases_year"] = ["Bitte das Jahr der Fallzahl angeben."]
        if data.get("statute_ref") and not data.get("own_statute"):
            errors["own_statute"] = ["Ein Satzungsverweis setzt „Eigene Satzung: ja“ voraus."]
        if errors:
            raise ValidationError(errors)


class RegisterVisibilitySchema(Schema):
    """Who may read a register."""

    visibility = fields.Str(required=True, error_messages=_messages, validate=validate.OneOf(
        list(REGISTER_VISIBILITIES), error="Bitte einen der Werte wählen: " + ", ".join(REGISTER_VISIBILITIES) + "."))
