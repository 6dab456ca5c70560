"""The listing's field catalogue: every representation derives from it, and outputs stay as clients know them."""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import subprocess
import sys

from sqlalchemy import inspect, text

from marktplatz.core.db import get_engine, get_session
from marktplatz.models import Listing, WebhookDelivery
from marktplatz.models.listing_fields import LISTING_FIELDS, FieldType, Index, listing_field
from marktplatz.schemas.listing import EXPORT_COLUMNS, ListingSchema
from marktplatz.search.schema import build_schema
from marktplatz.services import webhooks
from marktplatz.views.api.schemas import ListingOutSchema

from . import factories as f

ROOT = pathlib.Path(__file__).resolve().parent.parent

# What open-data users, API clients and webhook receivers have read so far.
CSV_COLUMNS = [
    "id", "url", "art", "titel", "kurzbeschreibung", "kommune", "ags", "land", "phase",
    "reifegrad", "reifegrad_modell", "ozg_ids", "leika_schluessel", "lizenz",
    "zur_nachnutzung", "nachnutzungen", "schlagwoerter", "website", "repository",
    "veroeffentlicht", "aktualisiert",
]
API_KEYS = {
    "id", "slug", "kind", "status", "organisation", "title", "summary", "description", "tags",
    "ozg_ids", "leika_keys", "visibility", "phase", "reifegrad", "reifegrad_model", "licence",
    "repository_url", "website_url", "contact_name", "contact_email", "reuse_offered",
    "reuse_terms", "cost_model", "platform", "technologies", "maintenance",
    "looking_for_partners", "partners", "external_id", "duplicate_of_id", "version",
    "created_at", "updated_at", "published_at", "archived_at", "allowed_actions", "links", "origin",
}
WEBHOOK_KEYS = {"id", "slug", "title", "kind", "status", "visibility", "phase", "url", "organisation",
                "updated_at", "duplicate_of"}


def test_every_field_is_a_listing_attribute_with_a_consistent_declaration():
    """Each declared field maps to a column (or a relation read), and its options fit its type."""
    columns = {c.key for c in inspect(Listing).column_attrs}
    exports = [s.export for s in LISTING_FIELDS if s.export]
    assert len(exports) == len(set(exports)) and len({s.name for s in LISTING_FIELDS}) == len(LISTING_FIELDS)
    for spec in LISTING_FIELDS:
        assert spec.name in columns or spec.read is not None, spec.name
        assert (spec.type is FieldType.CHOICE) == (spec.choices is not None), spec.name
        assert not (spec.required and spec.nullable), spec.name
        column = Listing.__table__.c.get(spec.name)
        length = getattr(column.type, "length", None) if column is not None else None
        if length and spec.type is FieldType.CHOICE:
            assert max(map(len, spec.choices or {})) <= length, spec.name
        elif length:  # PostgreSQL refuses longer values: the schema must say so first, in German
            assert spec.max_length is not None and spec.max_length <= length, spec.name
    assert listing_field("licence").export == "lizenz"


def test_input_and_output_schemas_hold_exactly_the_declared_fields():
    """The API's input schema and its output carry every declared field, nothing undeclared."""
    declared = [s.name for s in LISTING_FIELDS]
    assert list(ListingSchema().fields) == declared
    assert set(declared) <= set(ListingOutSchema().fields)
    assert set(ListingOutSchema().fields) == API_KEYS


def test_facets_declared_in_the_catalogue_exist_in_the_search_schema():
    """A field indexed as a facet needs its field in the Whoosh schema."""
    names = set(build_schema().names())
    assert {s.name for s in LISTING_FIELDS if s.index is Index.FACET} <= names


def test_the_form_template_places_every_form_field(client, auth, session):
    """Adding a field to the form means placing it in the template: the edit page shows them all."""
    owner = f.user(session, email="owner@example.org")
    item = f.listing(session, owner)
    auth.login("owner@example.org")
    html = client.get(f"/eintraege/{item.slug}/bearbeiten").get_data(as_text=True)
    for spec in LISTING_FIELDS:
        assert (f'name="{spec.name}"' in html) == spec.on_form, spec.name
        if spec.on_form and spec.type not in (FieldType.CODES, FieldType.CHOICE):
            assert spec.form_label in html, spec.name
        if spec.help:
            assert f'<p class="hint" id="{spec.name}-hint">{spec.help}</p>' in html, spec.name


def test_error_summary_names_fields_as_the_form_does(client, auth, session):
    """An error is announced with the field's label on the form."""
    f.user(session, email="owner@example.org")
    auth.login("owner@example.org")
    resp = client.post("/eintraege/neu", data={"kind": "dienst", "title": "Hundesteuer", "summary": "zu kurz",
                                               "contact_email": "kein-at", "aktion": "speichern"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert '<a href="#contact_email">E-Mail der Ansprechperson: Bitte eine gültige E-Mail-Adresse' in html
    assert '<a href="#summary">Kurzbeschreibung: Zwischen 10 und 300 Zeichen.</a>' in html


def test_outputs_keep_the_keys_and_columns_clients_read(client, session):
    """CSV columns keep their order; API fields and webhook keys keep their names."""
    coord = f.user(session, "coordinator", f.MANNHEIM, [f.network(session, "n1", f.FREIBURG, f.MANNHEIM)])
    owner = f.user(session)
    webhooks.create_webhook(session, owner, owner.organisation, "https://example.org/hook",
                            "s3cret-for-tests-0123456789")
    item = f.listing(session, owner, publish_by=coord, tags=["Hundesteuer", "Steuern"])
    text_ = client.get("/export/eintraege.csv").get_data(as_text=True).lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text_), delimiter=";")  # the first row is the header
    header, row = next(reader), dict(zip(CSV_COLUMNS, next(reader), strict=True))
    assert header == CSV_COLUMNS == list(EXPORT_COLUMNS)
    assert row["ozg_ids"] == "10160" and row["schlagwoerter"] == "Hundesteuer, Steuern"
    assert row["reifegrad"] == "3" and row["zur_nachnutzung"] == "nein" and row["lizenz"] == ""
    assert set(client.get(f"/api/v1/listings/{item.id}").json) == API_KEYS
    payload = json.loads(session.query(WebhookDelivery).one().payload)["listing"]
    assert set(payload) == WEBHOOK_KEYS and payload["title"] == item.title and payload["phase"] == "live"


def test_a_field_declared_once_flows_through_every_representation(app, backend, tmp_path):
    """A new field (a column, its migration, one declaration) reaches forms, API, exports, webhooks, index and sync.

    The representations are built from the catalogue at import, so the field is added in a
    fresh interpreter (tests/field_flow_child.py) against this test's database and index.
    """
    assert "funding" not in ListingSchema().fields  # the field exists only in the child
    url = app.config["DATABASE_URL"]
    get_session().close()
    get_engine().dispose()  # no open connection may hold a lock on the listing table
    out = tmp_path / "seen.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.field_flow_child", url, app.config["INDEX_DIR"],
             str(tmp_path / "mail"), str(out)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
        )
    finally:
        with get_engine().begin() as conn:
            if "funding" in {c["name"] for c in inspect(conn).get_columns("listing")}:
                conn.execute(text("ALTER TABLE listing DROP COLUMN funding"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    seen = json.loads(out.read_text(encoding="utf-8"))
    funding, changed = "EFRE Strukturfonds 2021", "ESF Plus Quartiersfonds"
    # The HTML form parses it, names it by its label when invalid, stores and shows it.
    assert seen["form_error_status"] == 422
    assert '<a href="#funding">Förderprogramm: Höchstens 200 Zeichen.</a>' in seen["form_error_html"]
    assert seen["form_stored"] == funding and seen["form_values"] == funding
    # The API takes it in, validates it in German, returns it, keeps it in PATCH and documents it.
    assert seen["api_post"] == [201, funding] and seen["api_get"] == funding
    assert seen["api_invalid"] == [422, ["Höchstens 200 Zeichen."]]
    assert seen["patch_other_field"] == funding and seen["patch_field"] == changed
    assert seen["openapi"] == ["Listing", "ListingOut"]
    # The webhook payload and the open-data export carry it (a new column goes last).
    assert seen["webhook"] == changed
    assert seen["csv_columns"] == [*CSV_COLUMNS, "foerderprogramm"]
    assert seen["csv_value"] == changed and seen["json_value"] == changed
    # The index has its words, so search finds the listing by them.
    assert changed in seen["index_body"]
    assert seen["search"] == ["Hundesteuer per API"]
    # Sync compares it: the same item again is unchanged, a new value is an update.
    assert seen["sync"] == ["created", "unchanged", "updated"] and seen["sync_stored"] == changed
