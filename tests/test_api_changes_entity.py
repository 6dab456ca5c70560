"""The change feed that carries its data: include=entity, tombstones, filters, bounded pages."""

from __future__ import annotations

import pytest

from marktplatz.services import listings, moderation, reuse, tokens

from . import factories as f

PROBLEM = "application/problem+json"


def _token(session, officer) -> dict[str, str]:
    _t, secret = tokens.create_token(session, officer, officer.organisation, "CMS", ["read", "write"])
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


def walk(client, headers=None, **params) -> list[dict]:
    """Follow links.next from the start until an empty page; return every change."""
    params.setdefault("limit", 7)
    url = "/api/v1/changes?" + "&".join(f"{k}={v}" for k, v in params.items())
    seen: list[dict] = []
    while True:
        resp = client.get(url, headers=headers or {})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        page = resp.json
        seen += page["items"]
        if not page["items"]:
            return seen
        for key, value in params.items():  # links.next keeps the filters
            if key != "after":
                assert f"{key}={value}" in page["links"]["next"]
        url = page["links"]["next"]


def mirror(changes: list[dict], entity_type: str = "listing") -> dict[int, dict]:
    """Apply the feed as a mirror would: keep the latest entity, drop it on a tombstone."""
    out: dict[int, dict] = {}
    for c in changes:
        if c["entity_type"] != entity_type:
            continue
        if c["tombstone"]:
            out.pop(c["entity_id"], None)
        else:
            out[c["entity_id"]] = c["entity"]
    return out


@pytest.fixture
def world(session):
    net = f.network(session, "feednetz", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", f.KARLSRUHE, [net])
    owner = f.user(session, "officer", f.FREIBURG)
    member = f.user(session, "officer", f.MANNHEIM)
    public = f.listing(session, owner, publish_by=coord, title="Offener Hundesteuerdienst")
    members_only = f.listing(session, owner, publish_by=coord, title="Netzinterner Dienst", visibility="network")
    draft = f.listing(session, owner, title="Geheimer Entwurf")
    declared = reuse.declare_reuse(session, member, public, {"stage": "interested"})
    listings.post_status_update(session, owner, public, {"title": "Pilot läuft", "body": "Seit März."})
    owner.organisation.website = "https://www.freiburg.de/digital"  # reference data has no editing service
    session.commit()
    return {"net": net, "coord": coord, "owner": owner, "member": member, "public": public,
            "members_only": members_only, "draft": draft, "reuse": declared}


def test_embedded_entities_are_the_resources_own_representations(client, session, world):
    """Each embedded entity is exactly what the resource's own endpoint returns to the same caller."""
    headers = _token(session, world["member"])
    changes = walk(client, headers, include="entity")
    latest = {(c["entity_type"], c["entity_id"]): c for c in changes}
    public, members_only, rid = world["public"], world["members_only"], world["reuse"].id
    assert latest[("listing", public.id)]["entity"] == client.get(f"/api/v1/listings/{public.id}", headers=headers).json
    assert latest[("listing", members_only.id)]["entity"]["title"] == "Netzinterner Dienst"
    assert latest[("reuse", rid)]["entity"] == client.get(f"/api/v1/reuses/{rid}", headers=headers).json
    update = next(c for c in changes if c["entity_type"] == "status_update")
    assert update["entity"]["title"] == "Pilot läuft" and update["entity"]["listing_id"] == public.id
    org = next(c for c in changes if c["entity_type"] == "organisation")
    assert org["entity"] == client.get(f"/api/v1/municipalities/{org['entity']['key']}").json
    assert all(c["entity"]["links"]["self"].startswith("http") for c in changes
               if c["entity_type"] == "listing" and not c["tombstone"])
    # Without include the entries are the same, without entity.
    plain = walk(client, headers)
    assert [(c["id"], c["tombstone"]) for c in plain] == [(c["id"], c["tombstone"]) for c in changes]
    assert all(c["entity"] is None for c in plain)


def test_what_the_viewer_may_not_see_is_never_embedded(client, session, world):
    """Anonymous callers get no draft and no members-only listing; owners get their draft."""
    anonymous = walk(client, include="entity")
    text = str(anonymous)
    assert "Netzinterner Dienst" not in text and "Geheimer Entwurf" not in text
    assert world["draft"].id not in {c["entity_id"] for c in anonymous if c["entity_type"] == "listing"}
    assert set(mirror(anonymous)) == {world["public"].id}
    owner = walk(client, _token(session, world["owner"]), include="entity")
    assert set(mirror(owner)) == {world["public"].id, world["members_only"].id, world["draft"].id}


def test_a_listing_the_viewer_may_no_longer_see_becomes_a_tombstone(client, session, world):
    """Made members-only after publication, a listing's changes read as tombstones for outsiders,
    so a mirror drops it; members still get it."""
    before = walk(client, include="entity")
    assert world["public"].id in mirror(before)
    listings.update_listing(session, world["owner"], world["public"],
                            f.listing_data(title="Offener Hundesteuerdienst", visibility="network"),
                            world["public"].version)
    session.commit()
    after = walk(client, include="entity")
    gone = [c for c in after if c["entity_type"] in ("listing", "reuse", "status_update")
            and c["listing_id"] == world["public"].id]
    assert gone and all(c["tombstone"] and c["entity"] is None for c in gone)
    assert "Offener Hundesteuerdienst" not in str(after)
    assert mirror(after) == {}
    # A mirror that resumes where it stopped gets the tombstone as the next change.
    resumed = walk(client, include="entity", after=before[-1]["cursor"])
    assert [c for c in resumed if c["entity_id"] == world["public"].id][-1]["tombstone"]
    member = walk(client, _token(session, world["member"]), include="entity")
    assert mirror(member)[world["public"].id]["visibility"] == "network"


def test_unpublished_listing_becomes_a_tombstone(client, session, world):
    """Taken back by its network's coordinator, a listing leaves the public mirror."""
    moderation.unpublish(session, world["coord"], world["public"], "Angaben veraltet")
    session.commit()
    assert mirror(walk(client, include="entity")) == {}


def test_filters_by_entity_type_municipality_and_network(client, session, world):
    """entity_type, ags and network select the changes of that kind, municipality or network."""
    headers = _token(session, world["owner"])
    everything = walk(client, headers)
    only_listings = walk(client, headers, entity_type="listing")
    assert only_listings and {c["entity_type"] for c in only_listings} == {"listing"}
    assert [c["id"] for c in only_listings] == [c["id"] for c in everything if c["entity_type"] == "listing"]
    freiburg = world["owner"].organisation_id
    mannheim = world["member"].organisation_id
    of_freiburg = walk(client, headers, ags=f.FREIBURG)
    assert of_freiburg and {c["organisation_id"] for c in of_freiburg} == {freiburg}
    of_mannheim = walk(client, headers, ags=f.MANNHEIM, include="entity")
    assert [c["entity_type"] for c in of_mannheim if c["entity_type"] != "organisation"] == ["reuse"]
    of_net = walk(client, headers, network="feednetz")
    assert {c["organisation_id"] for c in of_net} <= {freiburg, mannheim}
    assert len(of_net) == len([c for c in everything if c["organisation_id"] in (freiburg, mannheim)])
    karlsruhe = walk(client, headers, ags=f.KARLSRUHE)
    assert all(c["organisation_id"] == f.org(session, f.KARLSRUHE).id for c in karlsruhe)
    # A mirror of one municipality's listings, one request per page.
    assert set(mirror(walk(client, ags=f.FREIBURG, include="entity", limit=100))) == {world["public"].id}


@pytest.mark.parametrize("query, field", [
    ("entity_type=hund", "entity_type"),
    ("ags=123", "ags"),
    ("ags=99999999", "ags"),
    ("network=gibtsnicht", "network"),
    ("network=" + "x" * 81, "network"),
    ("include=alles", "include"),
    ("include=entity&limit=101", "limit"),
    ("limit=1001", "limit"),
    ("limit=0", "limit"),
    ("after=kaputt", "after"),
])
def test_bad_filter_values_are_german_problems(client, query, field):
    """Every bad value is a 422 problem+json naming the field, in German, never a 500."""
    resp = client.get(f"/api/v1/changes?{query}")
    assert resp.status_code == 422 and resp.mimetype == PROBLEM, resp.get_data(as_text=True)
    body = resp.json
    assert body["type"] == "urn:marktplatz:problem:validation"
    errors = body["errors"]
    messages = " ".join(str(m) for m in (errors.get(field) or errors.get("query", {}).get(field) or []))
    assert messages, errors
    for english in ("Must be", "Not a valid", "Unknown", "Invalid", "Shorter", "Longer"):
        assert english not in messages


def test_a_page_with_entities_is_bounded(client, session, world):
    """include=entity allows 100 changes a page; the plain feed up to 1000."""
    assert client.get("/api/v1/changes?include=entity&limit=100").status_code == 200
    assert client.get("/api/v1/changes?limit=1000").status_code == 200
