"""Regressions for the seven holes the security review found at the seams of the core rules.

Each test repeats a reproduction step of the review through HTTP, as an attacker would, and
asserts what must hold now. Each failed on 5b5081b, the main before the core rules landed.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marktplatz import search
from marktplatz.models import Listing, ListingStatus, NetworkMembership, Notification
from marktplatz.services import listings, moderation, reuse

from . import factories as f


@pytest.fixture
def holes(session):
    net = f.network(session, "lochnetz", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", f.MANNHEIM, [net])  # also an officer of a member town
    owner = f.user(session, "officer", f.FREIBURG)
    target = f.listing(session, owner, publish_by=coord, title="Hundesteuer Ziel")
    return {"net": net, "coord": coord, "owner": owner, "target": target,
            "outsider": f.user(session, "officer", f.KARLSRUHE), "admin": f.user(session, "admin", ags=None)}


def _anonymous_sees(client, item: Listing) -> bool:
    page = client.get(f"/eintraege/{item.slug}")
    api = client.get(f"/api/v1/listings/{item.id}")
    return page.status_code == 200 or api.status_code == 200


@pytest.mark.parametrize("state", ["draft", "in_review"])
def test_1_marking_as_duplicate_never_publishes(client, auth, session, holes, state):
    """Hole 1: "Als Duplikat markieren" archived a draft and set published_at."""
    item = f.listing(session, holes["owner"], title=f"Geheimer Entwurf {state}")
    if state == "in_review":
        listings.submit_for_review(session, holes["owner"], item)
        session.commit()
    auth.login(holes["coord"].email)
    client.post(f"/pruefung/eintrag/{item.slug}/duplikat", data={"target": holes["target"].slug, "comment": "Doppelt"})
    auth.logout()
    session.expire_all()
    item = session.get(Listing, item.id)
    assert item.published_at is None
    if state == "draft":
        assert item.status == ListingStatus.DRAFT  # a draft cannot be marked at all
    assert not _anonymous_sees(client, item)
    assert "Geheimer Entwurf" not in client.get("/feeds/eintraege.atom").get_data(as_text=True)


def test_2_a_coordinator_cannot_annex_a_municipality(client, auth, session, holes):
    """Hole 2: POST /netzwerke/<slug>/mitglieder added any AGS without consent."""
    lemgo_officer = f.user(session, "officer", f.LEMGO)
    secret = f.listing(session, lemgo_officer, title="Lemgo intern", visibility="network")
    waiting = f.listing(session, lemgo_officer, title="Lemgo wartet")
    listings.submit_for_review(session, lemgo_officer, waiting)
    session.commit()
    auth.login(holes["coord"].email)
    client.post(f"/netzwerke/{holes['net'].slug}/mitglieder", data={"organisation": f.LEMGO})
    assert client.get(f"/pruefung/eintrag/{waiting.slug}").status_code == 404
    auth.logout()
    members = session.scalars(select(NetworkMembership).where(NetworkMembership.network_id == holes["net"].id))
    assert f.LEMGO not in {m.organisation.ags for m in members}
    auth.login(holes["owner"].email)  # a member of the network
    assert client.get(f"/eintraege/{secret.slug}").status_code == 404


def test_3_coordinators_do_not_read_drafts(client, auth, session, holes):
    """Hole 3: the review page and the history showed drafts of member municipalities."""
    draft = f.listing(session, holes["owner"], title="Unfertiger Entwurf", summary="Noch geheim XQ3.")
    auth.login(holes["coord"].email)
    for path in (f"/pruefung/eintrag/{draft.slug}", f"/eintraege/{draft.slug}/verlauf", f"/eintraege/{draft.slug}"):
        resp = client.get(path)
        assert resp.status_code in (403, 404), path
        assert "XQ3" not in resp.get_data(as_text=True), path


def test_4_a_coordinator_does_not_approve_their_own_municipalitys_listing(client, auth, session, holes):
    """Hole 4: a coordinator who is also an officer of a member town submitted and approved alone."""
    coord = holes["coord"]
    own = f.listing(session, coord, title="Mannheim eigener Dienst")
    auth.login(coord.email)
    client.post(f"/eintraege/{own.slug}/einreichen")
    client.post(f"/pruefung/eintrag/{own.slug}", data={"action": "freigeben", "comment": "Sieht gut aus."})
    session.expire_all()
    own = session.get(Listing, own.id)
    assert own.status == ListingStatus.IN_REVIEW and own.published_at is None
    assert own.id not in {c.id for c in moderation.review_queue(session, coord)}


def test_5_did_you_mean_does_not_reveal_hidden_words(client, auth, session, holes):
    """Hole 5: ?q=Nachbarkommunem suggested a word that exists only in a members-only listing."""
    f.listing(session, holes["owner"], publish_by=holes["coord"], title="Austausch Plattform",
              summary="Wissen teilen mit Nachbarkommunen.", visibility="network")
    f.listing(session, holes["owner"], title="Entwurf Stadtteilkasse", summary="Die Stadtteilkasse kommt.")
    session.commit()
    search.catch_up()
    for q in ("Nachbarkommunem", "Stadtteilkasze"):
        for path in ("/eintraege", "/suche"):
            body = client.get(path, query_string={"q": q}).get_data(as_text=True).lower()
            assert "nachbarkommunen" not in body and "stadtteilkasse" not in body, (path, q)
    body = client.get("/suche/vorschlaege", query_string={"q": "Nachbarkom"}).get_data(as_text=True).lower()
    assert "nachbarkommunen" not in body


def test_6_duplicate_pointers_do_not_name_hidden_listings(client, auth, session, holes):
    """Hole 6: a public duplicate's page said "Bitte nutzen Sie „<members-only title>“" to everyone."""
    owner, coord, outsider = holes["owner"], holes["coord"], holes["outsider"]
    hidden = f.listing(session, owner, publish_by=coord, title="Nur Mitglieder Zielpunkt", visibility="network")
    dup = f.listing(session, owner, publish_by=coord, title="Oeffentliches Duplikat")
    reuse.declare_reuse(session, outsider, dup, {"stage": "interested"})
    moderation.mark_duplicate(session, holes["admin"], dup, hidden, "Gleicher Dienst")
    session.commit()
    page = client.get(f"/eintraege/{dup.slug}").get_data(as_text=True)
    assert "Nur Mitglieder Zielpunkt" not in page
    api = client.get(f"/api/v1/listings/{dup.id}").get_json()
    assert api.get("duplicate_of_id") is None
    notes = session.scalars(select(Notification).where(Notification.user_id == outsider.id)).all()
    assert all("Nur Mitglieder Zielpunkt" not in n.message for n in notes)
    auth.login(outsider.email)
    assert "Nur Mitglieder Zielpunkt" not in client.get("/benachrichtigungen").get_data(as_text=True)
    assert "Nur Mitglieder Zielpunkt" not in client.get(f"/eintraege/{dup.slug}").get_data(as_text=True)


def test_7_web_search_does_not_trust_a_stale_index(client, session, holes):
    """Hole 7: a listing just made members-only stayed in anonymous results until the index caught up."""
    item = f.listing(session, holes["owner"], publish_by=holes["coord"], title="Wechselnder Dienst Sichtbar")
    session.commit()
    search.catch_up()
    assert item.slug in client.get("/eintraege", query_string={"q": "Wechselnder"}).get_data(as_text=True)
    # Written past the services, the change leaves no change-log row: the index never learns of it.
    session.execute(Listing.__table__.update().where(Listing.id == item.id).values(visibility="network"))
    session.commit()
    search.catch_up()
    for path in ("/eintraege", "/suche"):
        body = client.get(path, query_string={"q": "Wechselnder"}).get_data(as_text=True)
        assert item.slug not in body, path
