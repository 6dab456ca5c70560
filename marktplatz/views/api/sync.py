"""API: bulk sync of listings and publiccode.yml import."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for

from ...core.db import get_session
from ...core.outbound import Policy
from ...services import publiccode
from ...services.common import load
from ...services.sync import sync_listings
from . import problems
from .common import ApiBlueprint, accepts, rate_limited, require_scope
from .schemas import (
    SYNC_POLICY,
    PubliccodeResultSchema,
    PubliccodeUrlSchema,
    SyncRequestSchema,
    SyncResponseSchema,
)

blp = ApiBlueprint("api_sync", __name__, url_prefix="/api/v1/sync", description="Abgleich und publiccode.yml-Import")
problems.install(blp)
rate_limited(blp)

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


@blp.route("/listings", methods=["POST"])
@blp.arguments(SyncRequestSchema)
@blp.response(200, SyncResponseSchema)
@blp.doc(description=SYNC_POLICY)
def sync(data: dict[str, Any]):
    """Upsert up to 500 listings of the token's municipality keyed by external_id."""
    p = require_scope("write")
    result = sync_listings(get_session(), p.user, p.user.organisation, data["items"], data["full_sync"],
                           data.get("then"))
    for item in result["results"] + result["archived"]:
        slug = item.pop("slug", None)
        has = item.get("id") is not None
        item["url"] = url_for("api_listings.get_listing", listing_id=item["id"], _external=True) if has else None
        item["page_url"] = url_for("web.listing_detail", slug=slug, _external=True) if has and slug else None
    return result


@blp.route("/publiccode", methods=["POST"])
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": PubliccodeUrlSchema},
        },
    }
)
@blp.response(200, PubliccodeResultSchema)
@blp.doc(description=(
    "Legt aus einer publiccode.yml (Version 0.2 bis 0.7) eine Komponente der Kommune des Tokens an oder "
    "aktualisiert sie (Schlüssel: url). Der Import ist tolerant: Abweichungen vom Standard (unbekannte "
    "Kategorien, fehlende Ansprechpersonen, fehlende features in einer Sprache, Version als Zahl, "
    "Ländercodes in Kleinbuchstaben, Datum ohne Anführungszeichen, unbekannte Schlüssel, Werte von "
    "developmentStatus oder maintenance.type außerhalb des Standards) stehen mit ihrem Feldpfad in "
    "`warnings`. Werte außerhalb des Standards werden auf die nächste Bedeutung abgebildet "
    "(z. B. production → stable, commercial → contract) oder bleiben leer. Abgelehnt (422, `errors` je "
    "Feldpfad) wird eine Datei nur ohne name, ohne url (http/https), ohne Beschreibung in irgendeiner "
    "Sprache oder wenn sie kein YAML ist (auch bei Verweisen/Ankern, mehr als 20000 Elementen, mehr "
    "als 40 Ebenen oder mehr als 512 KB)."))
@accepts("application/json", *YAML_TYPES)
def import_publiccode():
    """Import a publiccode.yml (YAML body, or JSON {"url": ...} to fetch it) as a component."""
    p = require_scope("write")
    session = get_session()
    org = p.user.organisation
    if request.mimetype == "application/json":
        body = load(PubliccodeUrlSchema(), request.get_json(silent=True))
        listing, result, warnings = publiccode.fetch_and_import(
            session, p.user, org, body["url"], Policy.from_config(current_app.config)
        )
    else:
        listing, result, warnings = publiccode.import_publiccode(session, p.user, org, request.get_data())
    return {"result": result, "listing": listing, "warnings": warnings}
