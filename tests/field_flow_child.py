"""A listing field added by one declaration, run in a fresh interpreter (see test_field_catalogue).

The representations of a listing are built from the field catalogue when their modules are
imported, as they are in production. So this script first does what adding a field takes
(a column, its migration and one entry in LISTING_FIELDS), then imports the app and records
what every representation makes of the new field. It prints nothing but the JSON record,
written to the path given as the last argument; the test makes the assertions.

Usage: python -m tests.field_flow_child DATABASE_URL INDEX_DIR MAIL_DIR OUT_JSON
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any

from sqlalchemy import String, create_engine, text
from sqlalchemy.orm import mapped_column

from marktplatz.models import Listing
from marktplatz.models import listing_fields as catalogue

FUNDING = "EFRE Strukturfonds 2021"
CHANGED = "ESF Plus Quartiersfonds"

# 1. The column (a test-only model attribute) ...
Listing.funding = mapped_column(String(200), nullable=True)
# 2. ... and the one declaration.
catalogue.LISTING_FIELDS = (
    *catalogue.LISTING_FIELDS,
    catalogue.ListingField(
        "funding", "Förderprogramm", catalogue.FieldType.LINE,
        help="Aus welchem Programm die Lösung gefördert wird.", nullable=True, max_length=200,
        export="foerderprogramm", webhook=True, index=catalogue.Index.TEXT,
    ),
)

# Everything imported from here on derives from the catalogue above.
from marktplatz import create_app  # noqa: E402
from marktplatz.cli.worker import index_step  # noqa: E402
from marktplatz.core.db import get_session  # noqa: E402
from marktplatz.models import WebhookDelivery  # noqa: E402
from marktplatz.search.index import listing_doc  # noqa: E402
from marktplatz.services import listings, moderation, tokens, webhooks  # noqa: E402
from marktplatz.views.web.forms import listing_to_values  # noqa: E402
from tests import factories as f  # noqa: E402
from tests.fake_dns import fake_resolver  # noqa: E402


def _migrate(url: str) -> None:
    """Add the column the way its migration would."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE listing ADD COLUMN funding VARCHAR(200)"))
    engine.dispose()


def _item(**overrides: Any) -> dict[str, Any]:
    return {**f.listing_data(title="Hundesteuer synchron", external_id="cms-7", funding=FUNDING), **overrides}


def main(url: str, index_dir: str, mail_dir: str, out: str) -> None:
    """Record what each representation of a listing makes of the new field."""
    _migrate(url)
    app = create_app({
        "DATABASE_URL": url, "TESTING": True, "WTF_CSRF_ENABLED": False, "INDEX_DIR": index_dir,
        "MAIL_DIR": mail_dir, "SECRET_KEY": "test-secret", "STATS_CACHE_SECONDS": 0,
        "BASE_URL": "https://marktplatz.example",
        "OUTBOUND_RESOLVER": fake_resolver,  # no real name resolution in tests (example.org is "public")
    })
    seen: dict[str, Any] = {}
    with app.app_context():
        session = get_session()
        owner = f.user(session, "officer", f.FREIBURG, email="owner@example.org")
        admin = f.user(session, "admin", None)
        webhooks.create_webhook(session, owner, owner.organisation, "https://example.org/hook",
                                "s3cret-for-tests-0123456789")
        _token, secret = tokens.create_token(session, owner, owner.organisation, "CMS", ["read", "write"])
        api = {"Authorization": f"Bearer {secret}"}
        client = app.test_client()

        # The HTML form: parsed, validated with the field's label, stored, shown again.
        client.post("/anmelden", data={"email": "owner@example.org", "password": f.PASSWORD})
        form = {"kind": "dienst", "title": "Hundesteuer per Formular", "summary": "Hunde online anmelden.",
                "visibility": "public", "aktion": "speichern"}
        bad = client.post("/eintraege/neu", data={**form, "funding": "x" * 201})
        seen["form_error_status"] = bad.status_code
        seen["form_error_html"] = bad.get_data(as_text=True)
        client.post("/eintraege/neu", data={**form, "funding": FUNDING})
        from_form = session.query(Listing).filter_by(title="Hundesteuer per Formular").one()
        seen["form_stored"] = from_form.funding
        seen["form_values"] = listing_to_values(from_form).get("funding")

        # The API: input, output, validation, PATCH.
        created = client.post("/api/v1/listings", json=f.listing_data(title="Hundesteuer per API",
                                                                       funding=FUNDING), headers=api)
        seen["api_post"] = created.status_code, created.get_json().get("funding")
        lid = created.get_json()["id"]
        seen["api_get"] = client.get(f"/api/v1/listings/{lid}", headers=api).get_json().get("funding")
        invalid = client.post("/api/v1/listings", json=f.listing_data(funding="x" * 201), headers=api)
        seen["api_invalid"] = invalid.status_code, invalid.get_json().get("errors", {}).get("funding")
        patch = {"Content-Type": "application/merge-patch+json", **api}
        kept = client.patch(f"/api/v1/listings/{lid}", data='{"summary": "Hunde online an- und abmelden."}',
                            headers=patch)
        seen["patch_other_field"] = kept.get_json().get("funding")
        changed = client.patch(f"/api/v1/listings/{lid}", data=json.dumps({"funding": CHANGED}), headers=patch)
        seen["patch_field"] = changed.get_json().get("funding")
        doc = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
        seen["openapi"] = sorted(name for name, schema in doc.items() if "funding" in schema.get("properties", {}))

        # Publishing: the webhook payload, the open-data export, the index.
        item = session.get(Listing, lid)
        listings.submit_for_review(session, owner, item)
        moderation.approve(session, admin, item)
        payload = json.loads(session.query(WebhookDelivery).filter_by(event="listing.published").one().payload)
        seen["webhook"] = payload["listing"].get("funding")
        rows = list(csv.DictReader(io.StringIO(client.get("/export/eintraege.csv").get_data(as_text=True)
                                               .lstrip("\ufeff")), delimiter=";"))
        seen["csv_columns"] = list(rows[0])
        seen["csv_value"] = rows[0]["foerderprogramm"]
        seen["json_value"] = client.get("/export/eintraege.json").get_json()["eintraege"][0].get("foerderprogramm")
        seen["index_body"] = listing_doc(item)["body"]
        index_step()  # a round of `marktplatz worker`: the index follows the change log
        found = client.get("/api/v1/listings?q=Quartiersfonds").get_json()["items"]
        seen["search"] = sorted(i["title"] for i in found)

        # Sync: the field takes part in change detection.
        results = []
        for item_data in (_item(), _item(), _item(funding=CHANGED)):
            batch = client.post("/api/v1/sync/listings", json={"items": [item_data]}, headers=api)
            results.append(batch.get_json()["results"][0]["result"])
        seen["sync"] = results
        seen["sync_stored"] = session.query(Listing).filter_by(external_id="cms-7").one().funding
        session.close()
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(seen, fh, ensure_ascii=False)


if __name__ == "__main__":
    main(*sys.argv[1:5])
