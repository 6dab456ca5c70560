"""Process register API: read under the visibility policy, bulk upsert with the form's schema."""

from __future__ import annotations

import pytest

from marktplatz.services import process_register as reg
from marktplatz.services import tokens

from . import factories as f


def bearer(session, user, scopes=("read", "write")) -> dict[str, str]:
    """Return headers with a fresh token of user's municipality."""
    _t, secret = tokens.create_token(session, user, user.organisation, "Register", list(scopes))
    session.commit()
    return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}


@pytest.fixture
def world(session):
    net = f.network(session, "lippe-api", f.BAD_SALZUFLEN, f.LEMGO)
    return {"net": net, "sal": f.user(session, "officer", f.BAD_SALZUFLEN),
            "lemgo": f.user(session, "officer", f.LEMGO), "freiburg": f.user(session, "officer", f.FREIBURG)}


ITEMS = [
    {"process_key": "32-1", "name": "Hundesteuer", "leika_key": "99102013000000", "channel": "analog",
     "cases": 1200, "cases_year": 2025, "own_statute": True, "statute_ref": "Hundesteuersatzung"},
    {"process_key": "33-1", "name": "Wohnsitz anmelden", "ozg_id": 10124, "channel": "online_form",
     "cases": 38000, "cases_year": 2025},
]


def test_bulk_upsert_by_process_key_then_read(client, session, world):
    headers = bearer(session, world["sal"])
    url = f"/api/v1/municipalities/{f.BAD_SALZUFLEN}/processes"
    resp = client.put(url, json={"items": ITEMS, "visibility": "network"}, headers=headers)
    assert resp.status_code == 200, resp.json
    assert resp.json == {"created": 2, "updated": 0, "unchanged": 0, "visibility": "network"}
    resp = client.put(url, json={"items": [{**ITEMS[1], "cases": 39000}]}, headers=headers)
    assert resp.json["updated"] == 1
    body = client.get(url, headers=bearer(session, world["lemgo"], ("read",))).json
    assert body["visibility"] == "network"
    assert {i["process_key"]: i["cases"] for i in body["items"]} == {"32-1": 1200, "33-1": 39000}
    assert body["items"][0]["ozg_id"] == 10160  # derived from the LeiKa key
    assert client.get(url).status_code == 404  # anonymous: the register is for network members
    view = client.get("/api/v1/networks/lippe-api/processes?sort=faelle",
                      headers=bearer(session, world["lemgo"], ("read",))).json
    assert view["registers"] == [f.BAD_SALZUFLEN] and view["items"][0]["cases"] == 39000
    assert client.get("/api/v1/networks/lippe-api/processes").status_code == 403


def test_bulk_upsert_errors_are_per_item_problems_and_write_nothing(client, session, world):
    headers = bearer(session, world["sal"])
    url = f"/api/v1/municipalities/{f.BAD_SALZUFLEN}/processes"
    bad = [ITEMS[0], {**ITEMS[1], "ozg_id": 99999}, {**ITEMS[1], "process_key": "32-1"}]
    resp = client.put(url, json={"items": bad}, headers=headers)
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert set(resp.json["errors"]["items"]) == {"1", "2"}
    resp = client.put(url, json={"items": [{"process_key": "x", "channel": "fax"}]}, headers=headers)
    assert resp.status_code == 422 and "name" in resp.json["errors"]["items"]["0"]
    session.expire_all()
    assert reg.find_register(session, f.org(session, f.BAD_SALZUFLEN)) is None


def test_only_the_own_municipality_writes(client, session, world):
    url = f"/api/v1/municipalities/{f.BAD_SALZUFLEN}/processes"
    assert client.put(url, json={"items": ITEMS}, headers=bearer(session, world["lemgo"])).status_code == 403
    assert client.put(url, json={"items": ITEMS}, headers=bearer(session, world["sal"], ("read",))).status_code == 403
    assert client.put(url, json={"items": ITEMS}).status_code == 401
