"""Sync tells what happened and can take the next step: submit, or publish where the networks allow it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marktplatz.models import AuditEvent, Listing, ListingStatus
from marktplatz.services import tokens

from . import factories as f


def _headers(session, officer) -> dict[str, str]:
    _t, secret = tokens.create_token(session, officer, officer.organisation, "CMS", ["read", "write"])
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


def _sync(client, headers, items, **extra):
    resp = client.post("/api/v1/sync/listings", json={"items": items, **extra}, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json


def _items(*names):
    return [f.listing_data(title=f"Abgleich {n}", external_id=f"ext-{n}") for n in names]


@pytest.fixture
def officer(session):
    f.network(session, "pruefnetz", f.FREIBURG, f.MANNHEIM)
    return f.user(session, "officer", f.FREIBURG)


def test_each_result_carries_id_urls_and_status(client, session, officer):
    """Without a step, items are drafts, and the result says so, with absolute links."""
    body = _sync(client, _headers(session, officer), _items("a", "b"))
    for r in body["results"]:
        listing = session.get(Listing, r["id"])
        assert r["status"] == "draft" == listing.status and r["step"] is None
        assert r["url"] == f"http://localhost/api/v1/listings/{listing.id}"
        assert r["page_url"] == f"http://localhost/eintraege/{listing.slug}"
    assert body["summary"] == {"created": 2, "updated": 0, "unchanged": 0, "error": 0, "archived": 0}


def test_errors_have_no_listing(client, session, officer):
    body = _sync(client, _headers(session, officer), [{"external_id": "x", "kind": "hund"}])
    (r,) = body["results"]
    assert r["result"] == "error" and r["id"] is None and r["url"] is None and r["status"] is None


def test_submit_puts_new_changed_and_unchanged_drafts_into_review(client, session, officer):
    headers = _headers(session, officer)
    _sync(client, headers, _items("alt"))  # a draft left by an earlier sync
    body = _sync(client, headers, _items("alt", "neu"), then="submit")
    assert [(r["result"], r["status"], r["step"]["done"]) for r in body["results"]] == [
        ("unchanged", "in_review", "submit"), ("created", "in_review", "submit")]
    assert body["summary"]["submitted"] == 2 and body["summary"]["published"] == 0
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "listing.submitted")).all()
    assert len(events) == 2
    # In review already: nothing more to do, and the lifecycle says why.
    again = _sync(client, headers, _items("alt"), then="submit")["results"][0]
    assert again["status"] == "in_review" and again["step"]["done"] is None
    assert "eingereicht" in again["step"]["reason"]


def test_publish_falls_back_to_review_where_a_network_reviews(client, session, officer):
    body = _sync(client, _headers(session, officer), _items("p"), then="publish")
    (r,) = body["results"]
    assert r["status"] == "in_review" and r["step"] == {
        "requested": "publish", "done": "submit", "reason": r["step"]["reason"]}
    assert "nur nach Prüfung" in r["step"]["reason"]
    assert client.get(r["url"]).status_code == 404  # not public


def test_publish_directly_where_every_network_allows_it(client, session, officer):
    for m in officer.organisation.memberships:
        m.network.direct_publish = True
    session.commit()
    headers = _headers(session, officer)
    body = _sync(client, headers, _items("direkt"), then="publish")
    (r,) = body["results"]
    assert r["status"] == "published" and r["step"]["done"] == "publish" and r["step"]["reason"] is None
    assert body["summary"]["published"] == 1
    listing = session.get(Listing, r["id"])
    session.refresh(listing)
    assert listing.published_at is not None
    assert client.get(r["url"]).json["status"] == "published"  # anonymous callers see it
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "listing.published"))
    # An update of a published listing keeps it published; there is nothing to publish.
    changed = _sync(client, headers, [{**_items("direkt")[0], "summary": "Jetzt mit neuer Beschreibung."}],
                    then="publish")["results"][0]
    assert changed["result"] == "updated" and changed["status"] == "published"
    assert changed["step"]["done"] is None


def test_one_reviewing_network_is_enough_to_review(client, session, officer):
    for m in officer.organisation.memberships:
        m.network.direct_publish = True
    f.network(session, "strengnetz", f.FREIBURG)
    session.commit()
    r = _sync(client, _headers(session, officer), _items("streng"), then="publish")["results"][0]
    assert r["status"] == "in_review" and r["step"]["done"] == "submit"


def test_a_listing_that_was_in_review_is_never_published_directly(client, session, officer):
    """Rejected, then edited back into a draft: publishing again needs the reviewers."""
    from marktplatz.services import moderation

    headers = _headers(session, officer)
    created = _sync(client, headers, _items("zurueck"), then="submit")["results"][0]
    coord = f.user(session, "coordinator", f.MANNHEIM, list(n.network for n in officer.organisation.memberships))
    moderation.reject(session, coord, session.get(Listing, created["id"]), "Passt so nicht.")
    for m in officer.organisation.memberships:
        m.network.direct_publish = True
    session.commit()
    edited = [{**_items("zurueck")[0], "summary": "Überarbeitet nach der Ablehnung."}]
    r = _sync(client, headers, edited, then="publish")["results"][0]
    assert r["status"] == ListingStatus.IN_REVIEW.value and r["step"]["done"] == "submit"
    assert "bereits in der Prüfung" in r["step"]["reason"]


@pytest.mark.parametrize("then", ["publish-now", 1, ["submit"]])
def test_an_unknown_step_is_a_german_problem(client, session, officer, then):
    resp = client.post("/api/v1/sync/listings", json={"items": _items("x"), "then": then},
                       headers=_headers(session, officer))
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert "then" in str(resp.json["errors"]) and "Must be" not in str(resp.json)
    assert session.scalar(select(Listing).where(Listing.external_id == "ext-x")) is None


def test_the_policy_is_documented(client):
    spec = client.get("/api/v1/openapi.json").json
    op = spec["paths"]["/api/v1/sync/listings"]["post"]
    assert "direkt" in op["description"] and "Prüfung" in op["description"]
    example = op["requestBody"]["content"]["application/json"]["example"]
    assert example["then"] == "submit"
    result = spec["components"]["schemas"]["SyncItemResult"]["properties"]
    assert {"id", "status", "url", "page_url", "step"} <= set(result)


def test_an_admin_sets_the_publishing_policy_on_the_network_page_and_sync_follows_it(client, auth, session, officer):
    """The policy is set in the browser (audited), not in the database by hand."""
    admin = f.user(session, "admin", ags=None)
    auth.login(admin.email)
    page = client.get("/admin/netzwerke/pruefnetz").get_data(as_text=True)
    assert 'name="direct_publish"' in page and "checked" not in page.split('name="direct_publish"')[1][:40]
    resp = client.post("/admin/netzwerke/pruefnetz", data={"name": "pruefnetz", "description": "", "website": "",
                                                           "direct_publish": "ja"})
    assert resp.status_code == 302
    auth.logout()
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "network.edited"))
    assert event is not None and "direct_publish" in event.details["changed"]
    (r,) = _sync(client, _headers(session, officer), _items("richtlinie"), then="publish")["results"]
    assert r["status"] == "published"
    auth.login(admin.email)
    client.post("/admin/netzwerke/pruefnetz", data={"name": "pruefnetz", "description": "", "website": ""})
    auth.logout()
    (r,) = _sync(client, _headers(session, officer), _items("wieder-pruefen"), then="publish")["results"]
    assert r["status"] == "in_review"
