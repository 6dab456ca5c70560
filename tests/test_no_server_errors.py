"""Issue 13 item 7: inputs that reached a 500 get a 4xx with a field error instead."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from marktplatz.models import Listing
from marktplatz.services import tokens

from . import factories as f


@pytest.fixture
def writer(session):
    officer = f.user(session)
    secret = tokens.create_token(session, officer, officer.organisation, "Test", ["read", "write"])[1]
    session.commit()
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


@pytest.mark.parametrize("licence", ["MIT · Apache-2.0", "MIT\x07", "EUPL-1.2\x00", "(((MIT"])
def test_a_licence_with_odd_characters_is_a_field_error(client, writer, licence):
    resp = client.post("/api/v1/listings", data=json.dumps(f.listing_data(licence=licence)), headers=writer)
    assert resp.status_code in (400, 422), resp.get_data(as_text=True)[:300]
    assert resp.mimetype == "application/problem+json"


def test_a_repeated_external_id_is_a_conflict_not_a_500(client, session, writer):
    body = json.dumps(f.listing_data(external_id="crm-42"))
    assert client.post("/api/v1/listings", data=body, headers=writer).status_code == 201
    resp = client.post("/api/v1/listings", data=body, headers=writer)
    assert resp.status_code in (409, 422), resp.get_data(as_text=True)[:300]
    assert "external_id" in resp.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(func.count(Listing.id)).where(Listing.external_id == "crm-42")) == 1


def test_deeply_nested_json_is_refused(client, writer):
    deep = "[" * 5000 + "]" * 5000
    resp = client.post("/api/v1/listings", data='{"title": ' + deep + "}", headers=writer)
    assert resp.status_code in (400, 413, 422), resp.status_code
    assert resp.mimetype == "application/problem+json"


@pytest.mark.parametrize("value", ["42", "[1, 2]", "{a: b}"])
def test_publiccode_localised_name_of_the_wrong_type_is_a_field_warning(client, writer, value):
    # The tolerant import ignores a localisedName that is no text and names it in a warning.
    doc = ("publiccodeYmlVersion: '0.4'\nname: Test\nurl: https://example.org/x.git\n"
           "description:\n  de:\n    localisedName: " + value + "\n    shortDescription: Kurz\n")
    headers = {**writer, "Content-Type": "application/yaml"}
    resp = client.post("/api/v1/sync/publiccode", data=doc.encode(), headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.json["listing"]["title"] == "Test"
    assert "description.de.localisedName" in {w["path"] for w in resp.json["warnings"]}


@pytest.mark.parametrize("target", ["/\r\nSet-Cookie: x=1", "/konto\nLocation: https://evil.example", "/\x00"])
def test_cr_lf_in_next_is_not_followed(client, auth, session, target):
    officer = f.user(session)
    resp = client.post("/anmelden", query_string={"next": target},
                       data={"email": officer.email, "password": f.PASSWORD})
    # Signed in and sent to "Meine Kommune", or refused as bad input (NUL): never to the target.
    assert (resp.status_code == 302 and resp.headers["Location"] == "/meine-kommune") or resp.status_code == 400
    resp = client.post("/ozg/10160/folgen", data={"next": target})
    if resp.status_code == 302:  # followed, but not to the injected target
        assert resp.headers["Location"] == "/"
    else:  # or refused as bad form input (control characters)
        assert resp.status_code == 400
