"""Schemas of the REST API: resource representations, query arguments and pages."""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from marshmallow.utils import get_value

from ...models.listing import KINDS, PHASES, STATUSES
from ...models.listing_fields import LISTING_FIELDS, FieldType, ListingField
from ...services.changes import ENTITY_TYPES as CHANGE_ENTITY_TYPES
from ...services.changes import MAX_LIMIT as CHANGE_MAX_LIMIT
from ...services.changes import MAX_LIMIT_WITH_ENTITY as CHANGE_MAX_LIMIT_WITH_ENTITY

MAX_PAGE = 100


class _Base(Schema):
    class Meta:
        unknown = EXCLUDE
        ordered = True


class PageArgs(_Base):
    """Cursor pagination arguments."""

    after = fields.Str(load_default=None, metadata={"description": "Cursor aus links.next"})
    limit = fields.Int(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE))


class LinksSchema(_Base):
    """Links of a page."""

    next = fields.Str(allow_none=True, metadata={"description": "Nächste Seite oder null"})


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """Return a page schema with items of the given schema and links.next."""
    return type(
        name,
        (_Base,),
        {
            "items": fields.List(fields.Nested(item)),
            "links": fields.Nested(LinksSchema),
            "__doc__": f"A page of {item.__name__} with a cursor link to the next page.",
        },
    )


class OrgRefSchema(_Base):
    """A short reference to an organisation."""

    id = fields.Int()
    key = fields.Str()
    ags = fields.Str(allow_none=True)
    name = fields.Str()


class MunicipalitySchema(_Base):
    """A municipality, Kreis or municipal IT service provider."""

    id = fields.Int()
    key = fields.Str()
    ags = fields.Str(allow_none=True)
    ars = fields.Str(allow_none=True)
    name = fields.Str()
    short_name = fields.Str()
    kind = fields.Str()
    land_code = fields.Str(allow_none=True)
    land = fields.Str(allow_none=True)
    kreis_key = fields.Str(allow_none=True)
    kreis = fields.Str(allow_none=True)
    population = fields.Int(allow_none=True)
    postcode = fields.Str(allow_none=True)
    website = fields.Str(allow_none=True)


class MunicipalityArgs(PageArgs):
    """Filters of the municipality list."""

    ags = fields.Str(validate=validate.Length(max=12))
    name = fields.Str(validate=validate.Length(min=1, max=100))
    land = fields.Str(validate=validate.Length(min=1, max=40), metadata={"description": "Landesschlüssel (08) oder Name"})
    kind = fields.Str(validate=validate.OneOf(["gemeinde", "stadt", "kreis", "it_dienstleister"]))


class NetworkSchema(_Base):
    """A cooperation network with its members."""

    id = fields.Int()
    slug = fields.Str()
    name = fields.Str()
    description = fields.Str()
    website = fields.Str(allow_none=True)
    members = fields.Method("_members")

    def _members(self, obj: Any) -> list[dict[str, Any]]:
        return [OrgRefSchema().dump(m.organisation) for m in obj.memberships]


class ThemenfeldSchema(_Base):
    """An OZG Themenfeld."""

    id = fields.Int()
    name = fields.Str()


class OzgLeistungSchema(_Base):
    """An OZG-Leistung."""

    id = fields.Int()
    name = fields.Str()
    themenfeld_id = fields.Int()
    lebenslage_id = fields.Int()


class OzgArgs(PageArgs):
    """Filters of the OZG-Leistungen list."""

    themenfeld = fields.Int(validate=validate.Range(min=0, max=2**31 - 1))
    q = fields.Str(validate=validate.Length(min=1, max=100))


class LeikaSchema(_Base):
    """A LeiKa-Leistung."""

    key = fields.Str()
    name = fields.Str()
    leika_type = fields.Str(allow_none=True)
    ozg_id = fields.Int()


class LeikaArgs(PageArgs):
    """Filters of the LeiKa list."""

    ozg_id = fields.Int(validate=validate.Range(min=0, max=2**31 - 1))
    q = fields.Str(validate=validate.Length(min=1, max=100))


def _output_field(spec: ListingField) -> fields.Field:
    """Return the marshmallow field that writes spec in API responses."""
    meta = {"metadata": {"description": spec.label}}
    if spec.type is FieldType.NUMBER:
        return fields.Int(allow_none=spec.nullable, **meta)
    if spec.type is FieldType.FLAG:
        return fields.Bool(allow_none=spec.nullable, **meta)
    if spec.type is FieldType.CODES and spec.code_type is int:
        return fields.List(fields.Int(), **meta)
    if spec.is_list:
        return fields.List(fields.Str(), **meta)
    return fields.Str(allow_none=spec.nullable, **meta)


class _ListingOut(_Base):
    """What the API adds to a listing's fields: identity, state, times, actions and links."""

    id = fields.Int()
    slug = fields.Str()
    status = fields.Str()
    organisation = fields.Nested(OrgRefSchema)
    duplicate_of_id = fields.Method(
        "_duplicate_of", allow_none=True,
        metadata={"type": "integer", "nullable": True,
                  "description": "Der Eintrag, den dieser Eintrag dupliziert (nur wenn der Aufrufende ihn sehen darf)."})
    version = fields.Int()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    archived_at = fields.DateTime(allow_none=True)
    allowed_actions = fields.Method(
        "_actions", metadata={"type": "array", "items": {"type": "string"}, "example": ["archive", "submit"],
                              "description": "Was der aufrufende Token jetzt mit dem Eintrag tun darf "
                                             "(submit, archive, restore, ...)."})
    links = fields.Method("_links", metadata={
        "type": "object", "description": "Absolute Links: self (dieser Eintrag), page (seine Seite), "
                                         "publiccode (publiccode.yml)",
        "example": {"self": "https://marktplatz.example/api/v1/listings/42",
                    "page": "https://marktplatz.example/eintraege/hundesteuer-online-freiburg",
                    "publiccode": "https://marktplatz.example/api/v1/listings/42/publiccode.yml"}})
    origin = fields.Method("_origin", allow_none=True, metadata={
        "type": "object", "nullable": True,
        "description": "Nur bei einem aus einem anderen Marktplatz gespiegelten Eintrag (hier nur lesbar): "
                       "name und url der Quelle, page die Seite des Eintrags dort; sonst null."})

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        """Read a field as the catalogue says (tags and codes from their rows), others by name."""
        read = _READERS.get(attr)
        return read(obj) if read is not None else get_value(obj, attr, default)

    def _actions(self, obj: Any) -> list[str]:
        from flask import g

        from ...services.lifecycle import allowed_actions

        principal = g.get("api_principal")
        return sorted(allowed_actions(getattr(principal, "user", None), obj))

    def _duplicate_of(self, obj: Any) -> int | None:
        from flask import g

        from ...permissions import visible_duplicate_of

        survivor = visible_duplicate_of(getattr(g.get("api_principal"), "user", None), obj)
        return survivor.id if survivor is not None else None

    def _origin(self, obj: Any) -> dict[str, str] | None:
        if obj.origin_id is None:
            return None
        return {"name": obj.origin.name, "url": obj.origin.url, "page": obj.origin_url or obj.origin.url}

    def _links(self, obj: Any) -> dict[str, str]:
        return {
            "self": url_for("api_listings.get_listing", listing_id=obj.id, _external=True),
            "page": url_for("web.listing_detail", slug=obj.slug, _external=True),
            "publiccode": url_for("api_listings.export_publiccode", listing_id=obj.id, _external=True),
        }


_READERS = {spec.name: spec.read for spec in LISTING_FIELDS if spec.read is not None}


class ListingOutSchema(
    _ListingOut.from_dict({s.name: _output_field(s) for s in LISTING_FIELDS}, name="ListingOutFields")
):
    """A listing as the API returns it (its fields: models/listing_fields.py)."""


class ListingArgs(PageArgs):
    """Filters of the listing list."""

    q = fields.Str(validate=validate.Length(min=1, max=200), metadata={"description": "Volltextsuche"})
    kind = fields.Str(validate=validate.OneOf(list(KINDS)))
    status = fields.Str(validate=validate.OneOf(list(STATUSES)))
    phase = fields.Str(validate=validate.OneOf(list(PHASES)))
    ags = fields.Str(validate=validate.Length(min=1, max=12), metadata={"description": "AGS der Kommune"})
    ozg_id = fields.Int(validate=validate.Range(min=0, max=2**31 - 1))
    leika_key = fields.Str(validate=validate.Length(min=1, max=14))
    tag = fields.Str(validate=validate.Length(min=1, max=60))
    external_id = fields.Str(validate=validate.Length(min=1, max=200))
    reuse_offered = fields.Bool()
    facets = fields.Bool(load_default=False, metadata={
        "description": "Facetten (kind, status, phase) mitliefern; mit q immer die Facetten der Suche "
                       "(kind, land, network, themenfeld, phase, reifegrad, licence, reuse_offered)"})


class FacetEntrySchema(_Base):
    """One value of a facet: its code, its German name and how many listings carry it."""

    code = fields.Str(metadata={"example": "dienst"})
    name = fields.Str(metadata={"example": "Dienst"})
    count = fields.Int(metadata={"example": 14})


class ListingPageSchema(page_schema(ListingOutSchema, "ListingPageBase")):  # type: ignore[misc]
    """A page of listings, optionally with facet counts."""

    facets = fields.Dict(keys=fields.Str(), values=fields.List(fields.Nested(FacetEntrySchema)), metadata={
        "example": {"kind": [{"code": "dienst", "name": "Dienst", "count": 14}],
                    "status": [{"code": "published", "name": "Veröffentlicht", "count": 14}]},
        "description": "Je Facette (kind, status, phase; mit q auch land, network, themenfeld, reifegrad, "
                       "licence, reuse_offered) ihre Werte mit Code, Name und Anzahl"})


class StatusUpdateOutSchema(_Base):
    """An entry of a listing's status timeline."""

    id = fields.Int()
    listing_id = fields.Int()
    phase = fields.Str(allow_none=True)
    title = fields.Str()
    body = fields.Str()
    created_at = fields.DateTime()


class ReuseStageChangeSchema(_Base):
    """One step in a reuse's history."""

    from_stage = fields.Str(allow_none=True)
    to_stage = fields.Str()
    note = fields.Str()
    changed_at = fields.DateTime()


class ReuseOutSchema(_Base):
    """A municipality's declared reuse of a listing."""

    id = fields.Int()
    listing_id = fields.Int()
    organisation = fields.Nested(OrgRefSchema)
    stage = fields.Str()
    reason = fields.Str()
    note = fields.Str()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    history = fields.List(fields.Nested(ReuseStageChangeSchema))
    origin = fields.Method("_origin", allow_none=True, metadata={
        "type": "object", "nullable": True,
        "description": "Nur bei einer mit ihrem Eintrag aus einem anderen Marktplatz gespiegelten "
                       "Nachnutzung: name und url der Quelle; sonst null."})

    def _origin(self, obj: Any) -> dict[str, str] | None:
        if get_value(obj, "origin_id", None) is None:
            return None
        return {"name": obj.listing.origin.name, "url": obj.listing.origin.url}


class ReuseArgs(PageArgs):
    """Filters of the reuse list."""

    listing_id = fields.Int(validate=validate.Range(min=0, max=2**31 - 1))
    ags = fields.Str(validate=validate.Length(min=1, max=12), metadata={"description": "AGS der nachnutzenden Kommune"})
    stage = fields.Str()


class DuplicateCheckSchema(_Base):
    """Input of the duplicate check."""

    title = fields.Str(load_default="", validate=validate.Length(max=200))
    ozg_ids = fields.List(fields.Int(validate=validate.Range(min=0, max=2**31 - 1)), load_default=list,
                          validate=validate.Length(max=50))
    leika_keys = fields.List(fields.Str(validate=validate.Length(max=14)), load_default=list,
                             validate=validate.Length(max=50))
    exclude_id = fields.Int(load_default=None, allow_none=True, validate=validate.Range(min=0, max=2**31 - 1))


class DuplicateCandidateSchema(_Base):
    """A listing that may describe the same thing."""

    id = fields.Int()
    title = fields.Str()
    kind = fields.Str()
    organisation = fields.Nested(OrgRefSchema)
    score = fields.Float(metadata={"description": "Rangwert; höher heißt ähnlicher"})
    reasons = fields.List(fields.Str(), metadata={"description": "Warum der Eintrag passt"})
    reuse_offered = fields.Bool()
    reifegrad = fields.Int(allow_none=True)
    reifegrad_model = fields.Str(allow_none=True, metadata={"description": "Reifegradmodell: 1.1 (0–4) oder 2.0 (0–7)"})
    platform = fields.Str(allow_none=True, metadata={"description": "Betriebsplattform"})
    cost_model = fields.Str(allow_none=True, metadata={"description": "Kostenmodell der Nachnutzung"})
    reusers = fields.Int(metadata={"description": "Zahl der Kommunen, die den Eintrag nachnutzen"})
    own_reuse_stage = fields.Str(allow_none=True, metadata={
        "description": "Stufe der Nachnutzung durch die eigene Kommune, falls erklärt"})
    shared_ozg_ids = fields.List(fields.Int())
    shared_leika_keys = fields.List(fields.Str())


class DuplicateResultSchema(_Base):
    """Result of the duplicate check: a summary and the candidates, best first."""

    summary = fields.Str(metadata={"description": "z. B. „14 Kommunen arbeiten bereits daran, 3 bieten ihre "
                                                  "Lösung zur Nachnutzung an.“ (leer ohne Treffer)"})
    municipalities = fields.Int()
    offering_reuse = fields.Int()
    candidates = fields.List(fields.Nested(DuplicateCandidateSchema), metadata={
        "description": "Einträge anderer Kommunen; zur Nachnutzung angebotene zuerst, sonst nach score"})
    own_listings = fields.List(fields.Nested(DuplicateCandidateSchema), metadata={
        "description": "Passende Einträge der eigenen Kommune (nur mit Token)"})


class ChangeSchema(_Base):
    """One entry of the change feed."""

    cursor = fields.Str(metadata={"description": "Position dieser Änderung; als after weitergeben, um danach "
                                                 "fortzusetzen"})
    id = fields.Int()
    entity_type = fields.Str(metadata={"enum": list(CHANGE_ENTITY_TYPES),
                                       "description": "listing, reuse, organisation oder status_update"})
    entity_id = fields.Int()
    op = fields.Str(metadata={"enum": ["created", "updated", "archived", "deleted"],
                              "description": "created, updated, archived oder deleted"})
    organisation_id = fields.Int(allow_none=True, metadata={
        "description": "Die Kommune, der die Änderung gehört (bei reuse: die nachnutzende Kommune)"})
    listing_id = fields.Int(allow_none=True)
    created_at = fields.DateTime()
    tombstone = fields.Bool(metadata={
        "description": "true: Der Aufrufende darf das Objekt nicht mehr sehen, oder es ist gelöscht. "
                       "Ein Spiegel entfernt es; entity ist dann null.", "example": False})
    entity = fields.Method("_entity", allow_none=True, metadata={
        "description": "Nur mit include=entity: der aktuelle Stand des Objekts, so wie der Aufrufende ihn sehen "
                       "darf (Listing, Reuse, Municipality oder StatusUpdate, je nach entity_type); null bei "
                       "einem Grabstein (tombstone) und ohne include=entity. Der Stand ist der beim Lesen, nicht "
                       "der zur Zeit der Änderung: Mehrere Änderungen desselben Objekts zeigen denselben Stand.",
        "nullable": True, "anyOf": [{"$ref": "#/components/schemas/ListingOut"},
                                    {"$ref": "#/components/schemas/ReuseOut"},
                                    {"$ref": "#/components/schemas/Municipality"},
                                    {"$ref": "#/components/schemas/StatusUpdateOut"}]})

    def _entity(self, obj: Any) -> dict[str, Any] | None:
        entity = get_value(obj, "entity", None)
        if entity is None:
            return None
        return ENTITY_SCHEMAS[get_value(obj, "entity_type")]().dump(entity)


#: The output schema of each entity type of the change feed: the same as the resource's own.
ENTITY_SCHEMAS: dict[str, type[Schema]] = {
    "listing": ListingOutSchema,
    "reuse": ReuseOutSchema,
    "organisation": MunicipalitySchema,
    "status_update": StatusUpdateOutSchema,
}


class ChangeArgs(_Base):
    """Arguments of the change feed."""

    after = fields.Str(load_default=None, metadata={"description": "Cursor der letzten gelesenen Änderung "
                                                                   "(next_cursor der vorigen Seite)"})
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=CHANGE_MAX_LIMIT), metadata={
        "description": f"Änderungen je Seite, höchstens {CHANGE_MAX_LIMIT}; mit include=entity höchstens "
                       f"{CHANGE_MAX_LIMIT_WITH_ENTITY}"})
    include = fields.Str(validate=validate.OneOf(["entity"]), metadata={
        "description": "entity: den aktuellen Stand jedes Objekts mitliefern (siehe ChangeSchema.entity)"})
    entity_type = fields.Str(validate=validate.OneOf(list(CHANGE_ENTITY_TYPES)), metadata={
        "description": "Nur Änderungen dieser Art von Objekt"})
    ags = fields.Str(validate=validate.Regexp(r"^[0-9]{8}$", error="Bitte einen achtstelligen Amtlichen "
                                                                    "Gemeindeschlüssel angeben."),
                     metadata={"description": "Nur Änderungen dieser Kommune (AGS; bei Nachnutzungen die "
                                              "nachnutzende Kommune)", "example": "08311000"})
    network = fields.Str(validate=validate.Length(min=1, max=80), metadata={
        "description": "Nur Änderungen der Mitgliedskommunen dieses Netzwerks (Kennung, z. B. andi)",
        "example": "andi"})

    @validates_schema
    def _bounded_page(self, data: dict[str, Any], **_kw: Any) -> None:
        if data.get("include") == "entity" and data.get("limit", 0) > CHANGE_MAX_LIMIT_WITH_ENTITY:
            raise ValidationError(f"Mit include=entity sind höchstens {CHANGE_MAX_LIMIT_WITH_ENTITY} Änderungen "
                                  "je Seite möglich.", "limit")


class ChangePageSchema(page_schema(ChangeSchema, "ChangePageBase")):  # type: ignore[misc]
    """A page of the change feed; next_cursor is where to continue (also when empty)."""

    next_cursor = fields.Str(allow_none=True)


SYNC_POLICY = (
    "Nach dem Schreiben kann jeder neue, geänderte oder unveränderte Eintrag im selben Aufruf "
    "weitergehen: then=submit reicht Entwürfe (und Einträge mit erbetenen Änderungen oder "
    "abgelehnte) zur Prüfung durch die Koordination ein. then=publish veröffentlicht Entwürfe "
    "direkt, wenn jedes Netzwerk der Kommune seinen Mitgliedern das erlaubt (Netzwerk-Richtlinie "
    "„direkt veröffentlichen“; eine Kommune ohne Netzwerk wird immer geprüft); sonst wird der "
    "Eintrag zur Prüfung eingereicht, und step.reason sagt warum. Von der Koordination "
    "zurückgegebene oder abgelehnte Einträge gehen immer über die Prüfung. Veröffentlichte Einträge "
    "bleiben beim Ändern veröffentlicht; Einträge in Prüfung bleiben in Prüfung. Ein Schritt, der "
    "nicht möglich ist, lässt das Schreiben bestehen und steht in step.reason.")


class SyncRequestSchema(_Base):
    """A bulk upsert of the token municipality's listings keyed by external_id."""

    items = fields.List(
        fields.Dict(),
        required=True,
        validate=validate.Length(max=500, error="Höchstens {max} Einträge je Anfrage."),
        metadata={"description": "Einträge im Format von ListingInput, jeweils mit external_id"},
    )
    full_sync = fields.Bool(
        load_default=False,
        metadata={"description": "Einträge mit external_id, die fehlen, werden archiviert"},
    )
    then = fields.Str(load_default=None, allow_none=True, validate=validate.OneOf(["submit", "publish"]),
                      metadata={"description": SYNC_POLICY, "example": "submit"})


class SyncStepSchema(_Base):
    """What the sync did after writing an item (only when the request asked with then)."""

    requested = fields.Str(metadata={"enum": ["submit", "publish"]})
    done = fields.Str(allow_none=True, metadata={
        "enum": ["submit", "publish", None], "description": "submit: zur Prüfung eingereicht; publish: "
                                                          "veröffentlicht; null: nichts (siehe reason)"})
    reason = fields.Str(allow_none=True, metadata={
        "description": "Warum der erbetene Schritt nicht (oder statt publish submit) geschah",
        "example": "Ihre Netzwerke veröffentlichen Einträge nur nach Prüfung."})


class SyncItemResultSchema(_Base):
    """The outcome for one item of a sync batch."""

    index = fields.Int()
    external_id = fields.Str(allow_none=True)
    result = fields.Str(metadata={"description": "created, updated, unchanged, archived oder error"})
    id = fields.Int(allow_none=True, metadata={"description": "Der Eintrag (null bei error)"})
    status = fields.Str(allow_none=True, metadata={
        "enum": [*STATUSES, None], "example": "in_review",
        "description": "Zustand des Eintrags nach dem Aufruf (draft, in_review, published, ...)"})
    url = fields.Str(allow_none=True, metadata={"description": "Absolute Adresse des Eintrags in der API",
                                                "example": "https://marktplatz.example/api/v1/listings/42"})
    page_url = fields.Str(allow_none=True, metadata={
        "description": "Absolute Adresse der Seite des Eintrags",
        "example": "https://marktplatz.example/eintraege/hundesteuer-online-freiburg"})
    step = fields.Nested(SyncStepSchema, allow_none=True, metadata={"description": "Nur mit then"})
    errors = fields.Dict()


class SyncResponseSchema(_Base):
    """The outcome of a sync batch."""

    results = fields.List(fields.Nested(SyncItemResultSchema))
    archived = fields.List(fields.Nested(SyncItemResultSchema))
    summary = fields.Dict(keys=fields.Str(), values=fields.Int(), metadata={
        "description": "Anzahl je result; mit then auch submitted und published",
        "example": {"created": 1, "updated": 0, "unchanged": 0, "error": 0, "archived": 0,
                    "submitted": 1, "published": 0}})


class PubliccodeUrlSchema(_Base):
    """Import a publiccode.yml from a repository URL."""

    url = fields.Url(required=True, schemes={"http", "https"}, validate=validate.Length(max=500))


class PubliccodeWarningSchema(_Base):
    """A deviation from the publiccode.yml standard that the import tolerated."""

    path = fields.Str(metadata={"description": "Pfad des Feldes in der Datei", "example": "maintenance.contacts"})
    message = fields.Str(metadata={"description": "Was abweicht und was der Import daraus gemacht hat (deutsch)",
                                   "example": "Fehlt (vorgeschrieben bei type internal); keine Ansprechperson."})


class PubliccodeResultSchema(_Base):
    """The outcome of a publiccode.yml import: the listing is created or updated even with warnings."""

    result = fields.Str(metadata={"enum": ["created", "updated", "unchanged"]})
    listing = fields.Nested(ListingOutSchema)
    warnings = fields.List(fields.Nested(PubliccodeWarningSchema), metadata={
        "description": "Abweichungen vom Standard, je Feldpfad; der Eintrag wurde trotzdem angelegt oder "
                       "aktualisiert. Abgelehnt (422) wird eine Datei nur ohne name, ohne url, ohne "
                       "Beschreibung in irgendeiner Sprache oder wenn sie kein YAML ist.",
        "example": [
            {"path": "categories[0]",
             "message": "Unbekannte Kategorie 'citizen-services'; wird nicht als Schlagwort übernommen."},
            {"path": "maintenance.contacts", "message": "Fehlt (vorgeschrieben bei type internal); keine Ansprechperson."},
            {"path": "description.it.features", "message": "Fehlt in dieser Sprache (vorhanden in: en)."},
            {"path": "publiccodeYmlVersion",
             "message": "Als Zahl angegeben; erwartet wird ein Text in Anführungszeichen (\"0.4\")."},
        ]})


def _problem_types() -> str:
    from .problems import PROBLEM_TYPES

    return "; ".join(f"{p.uri} ({p.status}: {p.title})" for p in PROBLEM_TYPES.values())


def _problem_uris() -> list[str]:
    from .problems import PROBLEM_TYPES

    return [p.uri for p in PROBLEM_TYPES.values()]


class ProblemSchema(_Base):
    """An RFC 9457 problem document with per-field errors."""

    type = fields.Str(metadata={"enum": _problem_uris(),
                                "description": "Stabiler Bezeichner der Fehlerart: " + _problem_types()})
    title = fields.Str(metadata={"description": "Kurztitel der Fehlerart (deutsch)"})
    status = fields.Int(metadata={"description": "HTTP-Status"})
    detail = fields.Str(metadata={"description": "Was genau nicht stimmt (deutsch)"})
    errors = fields.Dict(keys=fields.Str(), metadata={
        "description": "Bei 422: je Feld die Fehlermeldungen (deutsch)",
        "example": {"kind": ["Erlaubt ist einer der Werte: dienst, komponente, projekt."]}})
