"""REST API v1: tokens, errors, listings, ETags, sync and the change feed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from marktplatz.models import ApiToken, AuditEvent, ChangeLog, Listing, utcnow
from marktplatz.services import tokens
from tests import factories as f


def make_token(session, ags=f.FREIBURG, scopes=("read", "write"), **kw):
    """Create an officer of ags and a token for that municipality; return (user, secret)."""
    officer = f.user(session, ags=ags)
    _token, secret = tokens.create_token(session, officer, officer.organisation, "CMS", list(scopes), **kw)
    return officer, secret


def bearer(secret):
    """Return the Authorization header for secret."""
    return {"Authorization": f"Bearer {secret}"}


def test_token_is_stored_hashed_with_visible_prefix(session):
    """The secret is returned once; only its sha256 and a short prefix are stored."""
    _officer, secret = make_token(session)
    row = session.scalar(select(ApiToken))
    assert secret.startswith(row.prefix + "_") and row.prefix.startswith("mpk_") and len(row.prefix) == 12
    assert row.token_hash == tokens.hash_token(secret) and secret not in row.token_hash


def test_anonymous_reads_public_data_only(client, session):
    """Anonymous clients see published listings but not drafts."""
    owner = f.user(session)
    admin = f.user(session, role="admin", ags=None)
    public = f.listing(session, owner, publish_by=admin)
    draft = f.listing(session, owner)
    ids = [i["id"] for i in client.get("/api/v1/listings").json["items"]]
    assert public.id in ids and draft.id not in ids
    assert client.get(f"/api/v1/listings/{draft.id}").status_code == 404


def test_401_and_403_are_distinct(client, session):
    """Bad, expired or revoked tokens get 401; a read-only token writing gets 403."""
    assert client.post("/api/v1/listings", json=f.listing_data()).status_code == 401
    assert client.get("/api/v1/listings", headers=bearer("mpk_nope_nope")).status_code == 401
    officer, read_only = make_token(session, scopes=["read"])
    resp = client.post("/api/v1/listings", json=f.listing_data(), headers=bearer(read_only))
    assert resp.status_code == 403 and resp.content_type == "application/problem+json"
    _o, expiring = make_token(session, expires_at=utcnow() + timedelta(days=1))
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(expiring)))
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert client.get("/api/v1/listings", headers=bearer(expiring)).status_code == 401
    _o, revoked = make_token(session)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(revoked)))
    tokens.revoke_token(session, officer, row.id)
    resp = client.get("/api/v1/listings", headers=bearer(revoked))
    assert resp.status_code == 401 and "widerrufen" in resp.json["detail"]


def test_writing_for_another_municipality_is_forbidden(client, session):
    """A token of Mannheim cannot edit a Freiburg listing it can see (403)."""
    owner = f.user(session)
    admin = f.user(session, role="admin", ags=None)
    item = f.listing(session, owner, publish_by=admin)
    _o, other = make_token(session, ags=f.MANNHEIM)
    resp = client.put(f"/api/v1/listings/{item.id}", json=f.listing_data(), headers=bearer(other))
    assert resp.status_code == 403


def test_create_get_put_patch_archive_with_etags(client, session):
    """Create, read with ETag/304, PUT with If-Match (412 on mismatch), merge patch, archive."""
    _o, secret = make_token(session)
    h = bearer(secret)
    created = client.post("/api/v1/listings", json=f.listing_data(title="Hundesteuer digital"), headers=h)
    assert created.status_code == 201, created.json
    lid = created.json["id"]
    got = client.get(f"/api/v1/listings/{lid}", headers=h)
    etag = got.headers["ETag"]
    assert client.get(f"/api/v1/listings/{lid}", headers={**h, "If-None-Match": etag}).status_code == 304
    stale = client.put(f"/api/v1/listings/{lid}", json=f.listing_data(title="Neu"), headers={**h, "If-Match": '"abc"'})
    assert stale.status_code == 412
    put = client.put(f"/api/v1/listings/{lid}", json=f.listing_data(title="Hundesteuer neu"), headers={**h, "If-Match": etag})
    assert put.status_code == 200 and put.json["title"] == "Hundesteuer neu"
    patched = client.patch(f"/api/v1/listings/{lid}", data='{"summary": "Neue Kurzbeschreibung hier.", "phase": null}',
                           headers={**h, "Content-Type": "application/merge-patch+json"})
    assert patched.status_code == 200, patched.json
    assert patched.json["summary"] == "Neue Kurzbeschreibung hier." and patched.json["phase"] is None
    assert patched.json["title"] == "Hundesteuer neu"
    assert client.delete(f"/api/v1/listings/{lid}", headers=h).status_code == 204
    assert client.get(f"/api/v1/listings/{lid}", headers=h).json["status"] == "archived"


def test_validation_errors_are_problems_with_fields(client, session):
    """Schema and service validation errors answer 422 problem+json naming each field."""
    _o, secret = make_token(session)
    resp = client.post("/api/v1/listings", json={"kind": "dienst", "title": "x"}, headers=bearer(secret))
    assert resp.status_code == 422 and resp.content_type == "application/problem+json"
    assert {"title", "summary"} <= set(resp.json["errors"])
    resp = client.post("/api/v1/listings", json=f.listing_data(ozg_ids=[1]), headers=bearer(secret))
    assert resp.status_code == 422 and "ozg_ids" in resp.json["errors"]


def test_wrong_content_type_415_and_large_body_413(app, client, session):
    """A form body gets 415; a body above MAX_CONTENT_LENGTH gets 413."""
    _o, secret = make_token(session)
    resp = client.post("/api/v1/listings", data={"title": "x"}, headers=bearer(secret))
    assert resp.status_code == 415 and resp.content_type == "application/problem+json"
    app.config["MAX_CONTENT_LENGTH"] = 1000
    resp = client.post("/api/v1/sync/listings", data="[" + "1," * 2000 + "1]",
                       headers={**bearer(secret), "Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.content_type == "application/problem+json"


def test_rate_limit_answers_429_with_retry_after(app, client):
    """Past the per-IP limit the API answers 429 with Retry-After."""
    app.config["API_RATELIMIT_PER_IP"] = "3/minute"
    codes = [client.get("/api/v1/ozg/themenfelder").status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    resp = client.get("/api/v1/ozg/themenfelder")
    assert int(resp.headers["Retry-After"]) > 0 and resp.content_type == "application/problem+json"


def test_rate_limit_per_token(app, client, session):
    """The per-token limit counts each token separately."""
    app.config["API_RATELIMIT_PER_TOKEN"] = "2/minute"
    _o, one = make_token(session)
    _o2, two = make_token(session, ags=f.MANNHEIM)
    assert [client.get("/api/v1/networks", headers=bearer(one)).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/api/v1/networks", headers=bearer(two)).status_code == 200


def _batch(n, prefix="cms"):
    return [f.listing_data(title=f"Dienst Nummer {i}", external_id=f"{prefix}-{i}") for i in range(n)]


def test_sync_is_idempotent_and_reports_per_item(client, session):
    """A batch creates, the same batch again is unchanged with no new change-log rows."""
    _o, secret = make_token(session)
    items = _batch(5) + [{"kind": "dienst", "title": "kaputt", "external_id": "bad"}, {"title": "ohne ID"}]
    first = client.post("/api/v1/sync/listings", json={"items": items}, headers=bearer(secret))
    assert first.status_code == 200, first.json
    assert first.json["summary"] == {"created": 5, "updated": 0, "unchanged": 0, "error": 2, "archived": 0}
    assert "summary" in first.json["results"][5]["errors"]
    assert "external_id" in first.json["results"][6]["errors"]
    session.commit()
    logs = session.scalar(select(func.count()).select_from(ChangeLog))
    second = client.post("/api/v1/sync/listings", json={"items": items}, headers=bearer(secret))
    assert second.json["summary"]["unchanged"] == 5 and second.json["summary"]["created"] == 0
    session.commit()
    assert session.scalar(select(func.count()).select_from(ChangeLog)) == logs
    items[0]["summary"] = "Eine geänderte Kurzbeschreibung."
    third = client.post("/api/v1/sync/listings", json={"items": items[:5]}, headers=bearer(secret))
    assert [r["result"] for r in third.json["results"]] == ["updated"] + ["unchanged"] * 4


def test_full_sync_archives_missing(client, session):
    """full_sync archives the municipality's synced listings missing from the batch."""
    _o, secret = make_token(session)
    client.post("/api/v1/sync/listings", json={"items": _batch(3)}, headers=bearer(secret))
    resp = client.post("/api/v1/sync/listings", json={"items": _batch(2), "full_sync": True}, headers=bearer(secret))
    assert [a["external_id"] for a in resp.json["archived"]] == ["cms-2"]
    session.commit()
    assert session.scalar(select(Listing.status).where(Listing.external_id == "cms-2")) == "archived"


def test_sync_gives_each_listing_of_a_batch_its_own_slug(client, session):
    """Equal titles, in the batch and already in the database, get -2, -3 ... in item order."""
    owner, secret = make_token(session)
    taken = f.listing(session, owner, title="Dienst Gleich")
    items = [f.listing_data(title="Dienst Gleich", external_id=f"same-{i}") for i in range(3)]
    items.insert(1, f.listing_data(title="Dienst Anders", external_id="other"))
    resp = client.post("/api/v1/sync/listings", json={"items": items}, headers=bearer(secret))
    assert resp.json["summary"]["created"] == 4
    session.commit()
    slugs = {r["external_id"]: session.get(Listing, r["id"]).slug for r in resp.json["results"]}
    base = taken.slug
    assert slugs == {"same-0": f"{base}-2", "other": base.replace("gleich", "anders"),
                     "same-1": f"{base}-3", "same-2": f"{base}-4"}
    ids = [r["id"] for r in resp.json["results"]]
    assert ids == sorted(ids)  # created in item order


def test_sync_isolates_an_item_the_database_refuses(client, session, monkeypatch):
    """When the one-flush write fails on a constraint, items are written one by one: only the
    offending one fails, the others are created with their audit and change-log rows."""
    from marktplatz.services import sync as sync_service

    owner, secret = make_token(session)
    other = f.listing(session, owner, title="Schon da")
    real_slugs, real_slug = sync_service.unique_slugs, sync_service.unique_slug

    def racing_slugs(sess, model, bases):  # a concurrent writer took item 1's slug meanwhile
        out = real_slugs(sess, model, bases)
        out[1] = other.slug
        return out

    def racing_slug(sess, model, base, exclude_id=None):
        return other.slug if base.startswith("dienst-nummer-1-") else real_slug(sess, model, base, exclude_id)

    monkeypatch.setattr(sync_service, "unique_slugs", racing_slugs)
    monkeypatch.setattr(sync_service, "unique_slug", racing_slug)
    items = _batch(3) + [{"kind": "dienst", "title": "kaputt", "external_id": "bad"}]
    resp = client.post("/api/v1/sync/listings", json={"items": items}, headers=bearer(secret))
    assert resp.status_code == 200, resp.json
    assert [r["result"] for r in resp.json["results"]] == ["created", "error", "created", "error"]
    assert resp.json["results"][1]["errors"] == {"_schema": ["Der Eintrag widerspricht einem vorhandenen Datensatz."]}
    assert resp.json["results"][1]["id"] is None
    session.commit()
    created = [r["id"] for r in resp.json["results"] if r["result"] == "created"]
    assert sorted(session.scalars(select(Listing.external_id).where(Listing.external_id.is_not(None)))) == ["cms-0", "cms-2"]
    audited = session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "listing.created",
                                                                 AuditEvent.object_id.in_(created))).all()
    assert sorted(audited) == sorted(created)
    logged = session.scalars(select(ChangeLog.entity_id).where(ChangeLog.entity_type == "listing",
                                                               ChangeLog.op == "created")).all()
    assert sorted(logged) == sorted([other.id, *created])


def test_sync_updates_and_creates_in_one_batch(client, session):
    """Changed items are updated, new ones created, unknown catalogue entries reported per item."""
    _o, secret = make_token(session)
    client.post("/api/v1/sync/listings", json={"items": _batch(2)}, headers=bearer(secret))
    items = _batch(3)
    items[0]["tags"] = ["Neu", "Hundesteuer"]
    items[1]["ozg_ids"] = [999999999]
    resp = client.post("/api/v1/sync/listings", json={"items": items}, headers=bearer(secret))
    assert [r["result"] for r in resp.json["results"]] == ["updated", "error", "created"]
    assert "ozg_ids" in resp.json["results"][1]["errors"]
    session.commit()
    first = session.get(Listing, resp.json["results"][0]["id"])
    assert sorted(first.tags) == ["Hundesteuer", "Neu"]
    again = client.post("/api/v1/sync/listings", json={"items": [items[0], items[2]]}, headers=bearer(secret))
    assert again.json["summary"]["unchanged"] == 2


def test_sync_rejects_more_than_500(client, session):
    """More than 500 items per request is a 422 naming items."""
    _o, secret = make_token(session)
    resp = client.post("/api/v1/sync/listings", json={"items": [{}] * 501}, headers=bearer(secret))
    assert resp.status_code == 422 and "items" in resp.json["errors"]


def test_api_writes_are_audited_as_the_technical_user(client, session):
    """Writes run as the municipality's technical API user and leave audit events."""
    _o, secret = make_token(session)
    client.post("/api/v1/listings", json=f.listing_data(), headers=bearer(secret))
    session.commit()
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "listing.created"))
    assert event.actor.email.startswith("api-08311000@")


def test_change_feed_pages_without_gaps(client, session):
    """The feed returns every change in order across pages and resumes from a cursor."""
    _o, secret = make_token(session)
    client.post("/api/v1/sync/listings", json={"items": _batch(7)}, headers=bearer(secret))
    seen, url = [], "/api/v1/changes?limit=3"
    for _ in range(10):
        page = client.get(url, headers=bearer(secret)).json
        seen += [c["entity_id"] for c in page["items"] if c["entity_type"] == "listing"]
        if not page["items"]:
            break
        url = page["links"]["next"]
    assert len(seen) == 7
    anon = client.get("/api/v1/changes").json
    assert [c for c in anon["items"] if c["entity_type"] == "listing"] == []  # drafts are not public


def test_duplicate_check_finds_same_ozg(client, session):
    """The duplicate check lists visible listings for the same OZG-Leistung."""
    owner = f.user(session)
    admin = f.user(session, role="admin", ags=None)
    item = f.listing(session, owner, publish_by=admin)
    resp = client.post("/api/v1/listings/duplicate-check", json={"ozg_ids": [10160]})
    assert resp.status_code == 200 and [c["id"] for c in resp.json["candidates"]] == [item.id]


def test_municipality_filters(client):
    """Municipalities can be filtered by AGS, name and Land and paged with links.next."""
    assert client.get("/api/v1/municipalities/08311000").json["name"].startswith("Freiburg")
    page = client.get("/api/v1/municipalities?land=08&limit=5").json
    assert len(page["items"]) == 5 and page["links"]["next"]
    names = [m["name"] for m in client.get("/api/v1/municipalities?name=freiburg").json["items"]]
    assert any("Freiburg" in n for n in names)


def test_status_updates_and_reuse(client, session):
    """A token posts a status update and another municipality's token declares reuse."""
    owner = f.user(session)
    admin = f.user(session, role="admin", ags=None)
    item = f.listing(session, owner, publish_by=admin)
    _o, fr = make_token(session)
    _o2, ma = make_token(session, ags=f.MANNHEIM)
    resp = client.post(f"/api/v1/listings/{item.id}/status-updates", json={"title": "Pilot läuft"}, headers=bearer(fr))
    assert resp.status_code == 201
    assert client.get(f"/api/v1/listings/{item.id}/status-updates").json["items"][0]["title"] == "Pilot läuft"
    reuse = client.post(f"/api/v1/listings/{item.id}/reuses", json={"stage": "interested"}, headers=bearer(ma))
    assert reuse.status_code == 201
    moved = client.post(f"/api/v1/reuses/{reuse.json['id']}/stage", json={"stage": "pilot"}, headers=bearer(ma))
    assert moved.json["stage"] == "pilot"
    assert client.post(f"/api/v1/reuses/{reuse.json['id']}/stage", json={"stage": "pilot"}, headers=bearer(fr)).status_code == 403


def test_token_pages(client, session, auth):
    """An officer creates a token (shown once) and revokes it in the web UI."""
    officer = f.user(session)
    auth.login(officer.email)
    resp = client.post("/konto/api-tokens", data={"name": "CMS", "scope": "write"})
    # Post/redirect/get: the secret shows once on the page the redirect leads to.
    assert resp.status_code == 303 and resp.headers["Location"] == "/konto/api-tokens#secret-title"
    assert b"mpk_" not in resp.data
    shown = client.get("/konto/api-tokens").data.decode()
    assert "Kopieren Sie den Token jetzt" in shown and 'value="mpk_' in shown and "js/copy.js" in shown
    session.commit()
    row = session.scalar(select(ApiToken))
    assert row.scope_list == ["read", "write"]
    page = client.get("/konto/api-tokens").data.decode()  # a reload shows it no more, creates none
    assert row.prefix in page and "Kopieren Sie den Token jetzt" not in page
    assert 'value="mpk_' not in page and len(session.scalars(select(ApiToken)).all()) == 1
    step = client.post(f"/konto/api-tokens/{row.id}/widerrufen")  # first the confirmation step
    assert step.status_code == 200 and "Ja, Token „CMS“ widerrufen" in step.data.decode()
    session.expire_all()
    assert session.get(ApiToken, row.id).revoked_at is None
    client.post(f"/konto/api-tokens/{row.id}/widerrufen", data={"bestaetigt": "ja"})
    session.expire_all()
    assert session.get(ApiToken, row.id).revoked_at is not None


def test_docs_page_lists_endpoints(client):
    """The self-hosted docs page is built from the OpenAPI document."""
    html = client.get("/api/v1/docs").data.decode()
    assert "/api/v1/sync/listings" in html and "<script" not in html
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.") and "Listing" in spec["components"]["schemas"]


