"""API: the change feed."""

from __future__ import annotations

from typing import Any

from flask import url_for

from ...core.db import get_session
from ...services.changes import read_changes, resolve_filter
from . import cursor as cursors
from . import problems
from .common import ApiBlueprint, current_user_or_none, decode_cursor, rate_limited
from .schemas import ChangeArgs, ChangePageSchema

blp = ApiBlueprint("api_changes", __name__, url_prefix="/api/v1/changes", description="Änderungs-Feed")
problems.install(blp)
rate_limited(blp)


FILTERS = ("include", "entity_type", "ags", "network")

GUARANTEES = """Änderungen nach dem Cursor, älteste zuerst. Zusagen:

- **Reihenfolge**: nach (Transaktion, ID), für alle Lesenden gleich. Eine Seite schließt an
  die vorige an; es gibt keine Lücke.
- **Mindestens einmal**: Jede Änderung, die Sie sehen dürfen, kommt mindestens einmal an.
  Wer mit einem älteren Cursor fortsetzt, bekommt Änderungen erneut; ein Spiegel wendet sie
  daher idempotent an (je Objekt gilt der letzte Stand).
- **Horizont (PostgreSQL)**: Eine Änderung erscheint erst, wenn jede ältere Transaktion dieser
  Datenbank beendet ist. So wird nie eine Änderung vor einem schon ausgegebenen Cursor
  eingefügt, auch wenn Transaktionen in anderer Reihenfolge enden, als sie begonnen haben. Eine
  lange offene Transaktion verzögert den Feed, sie lässt nichts aus.
- **Fortsetzen**: `next_cursor` (auch bei leerer Seite) beim nächsten Abruf als `after`
  übergeben, oder `links.next` folgen (es behält die Filter). Eine leere Seite heißt: Sie sind
  auf dem aktuellen Stand. Nach `marktplatz export`/`import` (etwa SQLite → PostgreSQL) gilt ein
  Cursor weiter: Die übernommenen Änderungen bleiben in ihrer Reihenfolge vor allen neuen.
- **include=entity**: Jede Änderung trägt den *aktuellen* Stand ihres Objekts (Eintrag,
  Nachnutzung, Kommune, Statusmeldung), so wie ihn der Aufrufende jetzt sehen darf, in der
  Darstellung der jeweiligen Ressource. Darf er es nicht mehr sehen (z. B. nur noch für
  Netzwerkmitglieder, zurückgezogen) oder ist es gelöscht, ist die Änderung ein Grabstein
  (`tombstone: true`, `entity: null`): Ein Spiegel entfernt das Objekt. Ein Grabstein nennt
  nur Art, ID und Zeit. Änderungen an Einträgen, die nie veröffentlicht waren, sieht nur, wer
  sie lesen darf. Höchstens 100 Änderungen je Seite (ohne include: 1000).
- **Filter**: `entity_type`, `ags` (die Kommune, der die Änderung gehört; bei Nachnutzungen
  die nachnutzende Kommune), `network` (alle Mitgliedskommunen). Unbekannte Werte ergeben 422.
"""

_LISTING_EXAMPLE = {"id": 42, "slug": "hundesteuer-online-freiburg", "status": "published", "kind": "dienst",
                    "title": "Hundesteuer online", "visibility": "public",
                    "organisation": {"id": 7, "key": "08311000", "ags": "08311000", "name": "Freiburg im Breisgau"},
                    "links": {"self": "https://marktplatz.example/api/v1/listings/42",
                              "publiccode": "https://marktplatz.example/api/v1/listings/42/publiccode.yml"}}
EXAMPLE_PAGE = {
    "items": [
        {"cursor": "c1MC45MTI", "id": 912, "entity_type": "listing", "entity_id": 42, "op": "updated",
         "organisation_id": 7, "listing_id": 42, "created_at": "2026-03-01T09:30:00+00:00",
         "tombstone": False, "entity": _LISTING_EXAMPLE},
        {"cursor": "c1MC45MTM", "id": 913, "entity_type": "listing", "entity_id": 43, "op": "updated",
         "organisation_id": 7, "listing_id": 43, "created_at": "2026-03-01T09:31:00+00:00",
         "tombstone": True, "entity": None},
    ],
    "next_cursor": "c1MC45MTM",
    "links": {"next": "https://marktplatz.example/api/v1/changes?limit=100&include=entity&after=c1MC45MTM"},
}


@blp.route("")
@blp.etag
@blp.arguments(ChangeArgs, location="query")
@blp.response(200, ChangePageSchema, example=EXAMPLE_PAGE)
@blp.doc(description=GUARANTEES)
def list_changes(args: dict[str, Any]):
    """Return changes after the cursor, oldest first; continue with links.next (also when empty).

    Order: by (transaction, id), the same for every reader; a change is delivered at least
    once (a reader that resumes from an older cursor gets it again). On PostgreSQL a change
    appears once every older transaction of the database has ended (the horizon), so none
    is ever inserted before a cursor already handed out. Resume with next_cursor as after.
    With include=entity each change carries its entity as the caller may see it now, or is a
    tombstone. Filters: entity_type, ags (a municipality), network (its members).
    """
    after = decode_cursor(args.get("after"), 2)
    session = get_session()
    flt = resolve_filter(session, args.get("entity_type"), args.get("ags"), args.get("network"))
    rows = read_changes(session, current_user_or_none(), after, args["limit"], flt,
                        include_entity=args.get("include") == "entity")
    items = []
    for row in rows:
        item = dict(row.__dict__)
        item["cursor"] = cursors.encode(row.txid, row.id)
        items.append(item)
    next_cursor = items[-1]["cursor"] if items else args.get("after")
    params: dict[str, Any] = {"limit": args["limit"], **{k: args[k] for k in FILTERS if args.get(k)}}
    if next_cursor:
        params["after"] = next_cursor
    return {
        "items": items,
        "next_cursor": next_cursor,
        "links": {"next": url_for("api_changes.list_changes", _external=True, **params)},
    }
