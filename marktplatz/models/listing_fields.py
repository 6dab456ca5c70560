"""The listing's fields, declared once: type, German label and help, and where each one appears.

Every representation of a listing is built from LISTING_FIELDS: the input schema
(schemas/listing.py), the HTML form's parsing and labels (views/web/forms.py), the API's
output (views/api/schemas.py) and PATCH base, the open-data export, the webhook payload,
the search index document and sync's change detection. A new field is therefore a model
column, a migration and one entry here, plus its place in the page templates.

The catalogue is data only (no marshmallow, no Flask) and lives beside the models so that
every layer may read it: search sits below the services and must not import the schemas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .listing import COST_MODELS, KINDS, MAINTENANCE, PHASES, REIFEGRAD_MODELS, VISIBILITIES


class FieldType(StrEnum):
    """What kind of value a field holds; decides validation, form parsing and formatting."""

    LINE = "line"  # one line of text
    TEXT = "text"  # several lines (a textarea; Markdown where the page renders it)
    NUMBER = "number"  # a whole number
    FLAG = "flag"  # yes or no (a checkbox)
    CHOICE = "choice"  # one key of `choices`
    URL = "url"  # an http(s) address
    EMAIL = "email"
    TAGS = "tags"  # free words; comma-separated in forms and exports
    CODES = "codes"  # catalogue keys; one checkbox each in forms, space-separated in exports


class Index(StrEnum):
    """How the search index uses a field (search/index.py listing_doc)."""

    TEXT = "text"  # its words are part of the full text (the document's body)
    FACET = "facet"  # its value is the facet of the same name (declared in search/schema.py)
    OWN = "own"  # search builds dedicated fields from it (title boost, codes, labels, ...)


@dataclass(frozen=True, eq=False)
class ListingField:
    """One field of a listing and everything its representations need to know about it."""

    name: str  # attribute of Listing and key in every input and output
    label: str  # German label: error summaries, the conflict page, API documentation
    type: FieldType
    help: str = ""  # German hint under the form field and in the API documentation
    form_label: str = ""  # the form's own wording when it differs (a checkbox's sentence)
    required: bool = False
    nullable: bool = False  # optional and None when not given; a blank form value is None
    default: Any = None  # the value when not given (fields that are not nullable)
    min_length: int | None = None
    max_length: int | None = None
    choices: Mapping[str, str] | None = None  # key -> German label (CHOICE)
    code_type: type = str  # the type of one code (CODES)
    invalid: str = ""  # German message for a value of the wrong type
    on_form: bool = True  # the HTML form carries it (external_id is set by synced systems only)
    export: str | None = None  # column name in the open-data export (CSV/JSON)
    webhook: bool = False  # part of the listing in webhook payloads
    index: Index | None = None
    read: Callable[[Any], Any] | None = None  # how to read it off a listing, if not getattr(name)

    def __post_init__(self) -> None:
        if not self.form_label:
            object.__setattr__(self, "form_label", self.label)

    @property
    def is_list(self) -> bool:
        """Tell whether the field holds a list (tags or codes)."""
        return self.type in (FieldType.TAGS, FieldType.CODES)

    def value(self, listing: Any) -> Any:
        """Return the field's plain value on a listing (lists for tags and codes)."""
        return self.read(listing) if self.read is not None else getattr(listing, self.name)

    def display(self, listing: Any) -> str:
        """Return the field's value on a listing as German text for a page ("–" when empty)."""
        value = self.value(listing)
        if self.type == FieldType.FLAG:
            return "ja" if value else "nein"
        if value is None or value == "" or value == []:
            return "–"
        if self.type == FieldType.CHOICE and self.choices:
            return str(self.choices.get(value, value))
        if self.is_list:
            return ", ".join(str(v) for v in value)
        return str(value)


def _tags(listing: Any) -> list[str]:
    return list(listing.tags)


def _ozg_ids(listing: Any) -> list[int]:
    return [o.id for o in listing.ozg_leistungen]


def _leika_keys(listing: Any) -> list[str]:
    return [lk.key for lk in listing.leika_leistungen]


F, T = ListingField, FieldType

# The order is the order of the API's input and output and of the conflict page.
LISTING_FIELDS: tuple[ListingField, ...] = (
    F("kind", "Art", T.CHOICE, form_label="Art des Eintrags", required=True, choices=KINDS,
      export="art", webhook=True, index=Index.FACET),
    F("title", "Titel", T.LINE, help="3 bis 200 Zeichen, z. B. „Hundesteuer-Anmeldung online“.",
      required=True, min_length=3, max_length=200, export="titel", webhook=True, index=Index.OWN),
    F("summary", "Kurzbeschreibung", T.TEXT,
      help="Ein bis zwei Sätze, 10 bis 300 Zeichen. Erscheint in Listen und Suchergebnissen.",
      required=True, min_length=10, max_length=300, export="kurzbeschreibung", index=Index.OWN),
    F("description", "Beschreibung", T.TEXT,
      help="Was leistet die Lösung, für wen, wie ist sie umgesetzt? Markdown ist möglich "
           "(**fett**, Listen, Links).",
      default="", max_length=50_000, index=Index.TEXT),
    F("tags", "Schlagwörter", T.TAGS, help="Durch Kommas getrennt, z. B. „Hundesteuer, Steuern“.",
      export="schlagwoerter", index=Index.OWN, read=_tags),
    F("ozg_ids", "OZG-Leistungen", T.CODES, code_type=int, invalid="OZG-ID muss eine Zahl sein.",
      export="ozg_ids", index=Index.OWN, read=_ozg_ids),
    F("leika_keys", "LeiKa-Leistungen", T.CODES, export="leika_schluessel", index=Index.OWN,
      read=_leika_keys),
    F("visibility", "Sichtbarkeit", T.CHOICE, default="public", choices=VISIBILITIES, webhook=True,
      index=Index.OWN),
    F("phase", "Phase", T.CHOICE, nullable=True, choices=PHASES, export="phase", webhook=True,
      index=Index.FACET),
    F("reifegrad", "Reifegrad", T.NUMBER, nullable=True,
      invalid="Der Reifegrad muss eine ganze Zahl sein.", export="reifegrad", index=Index.OWN),
    F("reifegrad_model", "Reifegradmodell", T.CHOICE,
      help="Modell 1.1: Stufen 0 bis 4. Modell 2.0 (seit Juli 2025): Stufen 0 bis 7.",
      nullable=True, choices={m: m for m in REIFEGRAD_MODELS}, export="reifegrad_modell",
      index=Index.OWN),
    F("licence", "Lizenz", T.LINE, help="SPDX-Angabe, z. B. EUPL-1.2, MIT oder GPL-3.0-or-later.",
      nullable=True, max_length=80, export="lizenz", index=Index.FACET),
    F("repository_url", "Quellcode-Adresse", T.URL, nullable=True, max_length=500,
      export="repository"),
    F("website_url", "Website", T.URL, nullable=True, max_length=500, export="website"),
    F("contact_name", "Ansprechperson", T.LINE, nullable=True, max_length=200),
    F("contact_email", "E-Mail", T.EMAIL, form_label="E-Mail der Ansprechperson", nullable=True,
      max_length=254),
    F("reuse_offered", "Zur Nachnutzung angeboten", T.FLAG,
      form_label="Wir bieten die Lösung anderen Kommunen zur Nachnutzung an", default=False,
      export="zur_nachnutzung", index=Index.FACET),
    F("reuse_terms", "Bedingungen der Nachnutzung", T.TEXT,
      help="Pflicht, wenn Sie die Nachnutzung anbieten: Wie kommen andere dazu, was kostet es, "
           "was wird geteilt?",
      default="", max_length=5000, index=Index.TEXT),
    F("cost_model", "Kostenmodell", T.CHOICE, nullable=True, choices=COST_MODELS),
    F("platform", "Plattform", T.LINE, form_label="Plattform (bei Diensten)",
      help="Worauf läuft der Dienst, z. B. „Service-BW“ oder „civento“.", nullable=True,
      max_length=200, index=Index.TEXT),
    F("technologies", "Technologien", T.LINE, nullable=True, max_length=300, index=Index.TEXT),
    F("maintenance", "Pflege", T.CHOICE, nullable=True, choices=MAINTENANCE),
    F("looking_for_partners", "Partner gesucht", T.FLAG,
      form_label="Wir suchen Partner (bei Projekten)", default=False),
    F("partners", "Partner", T.TEXT, form_label="Beteiligte Partner", default="", max_length=5000,
      index=Index.TEXT),
    F("external_id", "Externe ID", T.LINE, nullable=True, min_length=1, max_length=200,
      on_form=False),
)
del F, T


def listing_field(name: str) -> ListingField:
    """Return the declaration of the field called name (KeyError if there is none)."""
    for spec in LISTING_FIELDS:
        if spec.name == name:
            return spec
    raise KeyError(name)
