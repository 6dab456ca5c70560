"""Safe moderation (issue 14 item 6): every destructive action is confirmed first and names
what will happen; a merge shows both listings with their reusers and can be restored; the
review page shows the whole listing and the duplicate candidates the officer overrode; the
queue filters; buttons do not share a label with different effects."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from marktplatz.models import JoinRequest, Listing, ListingStatus, utcnow
from marktplatz.models.listing_fields import LISTING_FIELDS
from marktplatz.services import listings, networks, reuse

from . import factories as f


@pytest.fixture
def world(session):
    net = f.network(session, "bw", f.FREIBURG, f.MANNHEIM, f.KARLSRUHE)
    coord = f.user(session, "coordinator", f.KARLSRUHE, [net])
    owner = f.user(session, "officer", f.FREIBURG)
    other = f.user(session, "officer", f.MANNHEIM)
    reuser = f.user(session, "officer", f.LEMGO)
    original = f.listing(session, other, publish_by=coord, title="Hundesteuer digital Mannheim")
    dup = f.listing(session, owner, publish_by=coord, title="Hundesteuer online Freiburg", licence="EUPL-1.2",
                    repository_url="https://code.example/hundesteuer", contact_email="it@freiburg.example")
    reuse.declare_reuse(session, reuser, dup, {"stage": "pilot"})
    session.commit()
    return {"net": net, "coord": coord, "owner": owner, "other": other, "reuser": reuser,
            "original": original, "dup": dup}


def _status(session, item) -> str:
    session.expire_all()
    return session.get(Listing, item.id).status


def test_a_merge_is_confirmed_first_showing_both_listings_and_their_reusers(client, auth, session, world):
    auth.login(world["coord"].email)
    url = f"/pruefung/eintrag/{world['dup'].slug}/duplikat"
    step = client.post(url, data={"target": f"/eintraege/{world['original'].slug}", "comment": "Gleicher Dienst"})
    html = step.get_data(as_text=True)
    assert step.status_code == 200 and "Als Duplikat zusammenführen?" in html
    assert "Wird archiviert (Duplikat)" in html and "Bleibt bestehen (Original)" in html
    assert world["dup"].title in html and world["original"].title in html
    assert "Lemgo" in html and "Nachnutzende (1)" in html  # the reuser of the duplicate, by name
    assert "verschwindet aus der Suche" in html and "wiederherstellen" in html
    assert 'name="bestaetigt" value="ja"' in html and 'value="Gleicher Dienst"' in html
    assert _status(session, world["dup"]) == ListingStatus.PUBLISHED  # nothing happened yet
    done = client.post(url, data={"target": world["original"].slug, "comment": "Gleicher Dienst", "bestaetigt": "ja"})
    assert done.status_code == 302
    session.expire_all()
    merged = session.get(Listing, world["dup"].id)
    assert merged.status == ListingStatus.ARCHIVED and merged.duplicate_of_id == world["original"].id


def test_a_merged_listing_is_restored_by_the_coordinator_not_by_its_owner(client, auth, session, world):
    auth.login(world["coord"].email)
    client.post(f"/pruefung/eintrag/{world['dup'].slug}/duplikat",
                data={"target": world["original"].slug, "bestaetigt": "ja"})
    auth.logout()
    auth.login(world["owner"].email)
    client.post(f"/eintraege/{world['dup'].slug}/wiederherstellen")
    assert _status(session, world["dup"]) == ListingStatus.ARCHIVED  # a moderation decision
    auth.logout()
    auth.login(world["coord"].email)
    page = client.get(f"/eintraege/{world['dup'].slug}").get_data(as_text=True)
    assert "wiederherstellen" in page.lower()
    client.post(f"/eintraege/{world['dup'].slug}/wiederherstellen")
    assert _status(session, world["dup"]) == ListingStatus.PUBLISHED  # back where it came from


def test_the_merge_confirmation_never_shows_a_target_the_coordinator_may_not_see(client, auth, session, world):
    far_net = f.network(session, "nrw", f.LEMGO)
    far_coord = f.user(session, "coordinator", f.BAD_SALZUFLEN, [far_net])
    hidden = f.listing(session, world["reuser"], publish_by=far_coord, title="Geheimsache Zqxmitglieder",
                       visibility="network")
    auth.login(world["coord"].email)
    resp = client.post(f"/pruefung/eintrag/{world['dup'].slug}/duplikat", data={"target": hidden.slug},
                       follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "Zqxmitglieder" not in html and "Kein Eintrag mit dieser Adresse gefunden." in html
    assert _status(session, world["dup"]) == ListingStatus.PUBLISHED


@pytest.mark.parametrize(("action", "field", "start", "end", "heading"), [
    ("ablehnen", "reason", "in_review", ListingStatus.REJECTED, "ablehnen?"),
    ("zurueckziehen", "reason", "published", ListingStatus.CHANGES_REQUESTED, "zurückziehen?"),
])
def test_reject_and_unpublish_are_confirmed_with_their_reason(client, auth, session, world, action, field, start,
                                                              end, heading):
    item = world["dup"]
    if start == "in_review":
        item = f.listing(session, world["owner"], title="Sperrmüll online Freiburg")
        listings.submit_for_review(session, world["owner"], item)
        session.commit()
    auth.login(world["coord"].email)
    url = f"/pruefung/eintrag/{item.slug}"
    short = client.post(url, data={"action": action, field: "x"})  # too short: the error is on the form
    assert short.status_code == 422 and f'id="{action}-{field}-error"' in short.get_data(as_text=True)
    step = client.post(url, data={"action": action, field: "Kein kommunaler Dienst."})
    html = step.get_data(as_text=True)
    assert step.status_code == 200 and heading in html and "Kein kommunaler Dienst." in html
    assert 'class="button button-danger"' in html
    assert _status(session, item) == start
    client.post(url, data={"action": action, field: "Kein kommunaler Dienst.", "bestaetigt": "ja"})
    assert _status(session, item) == end


def test_declining_a_join_request_is_confirmed_approving_is_not(client, auth, session, world):
    lemgo_officer = world["reuser"]
    req = networks.request_join(session, lemgo_officer, world["net"], "Wir möchten mitmachen.")
    session.commit()
    auth.login(world["coord"].email)
    url = f"/netzwerke/bw/anfragen/{req.id}"
    step = client.post(url, data={"decision": "decline"})
    html = step.get_data(as_text=True)
    assert step.status_code == 200 and "Beitrittsanfrage von Lemgo ablehnen?" in html
    session.expire_all()
    assert session.get(JoinRequest, req.id).status == "pending"
    client.post(url, data={"decision": "decline", "bestaetigt": "ja", "comment": "Nicht im Land."})
    session.expire_all()
    assert session.get(JoinRequest, req.id).status == "declined"


def test_the_review_page_shows_every_field_and_the_overridden_candidates(client, auth, session, world):
    auth.login(world["owner"].email)
    form = {"kind": "dienst", "title": "Hundesteuer digital Freiburg", "summary": "Hunde online anmelden, schnell.",
            "ozg_ids": "10160", "visibility": "public", "licence": "MIT", "dubletten_geprueft": "1",
            "duplicate_override_reason": "Unser Verfahren ist anders."}
    assert client.post("/eintraege/neu", data=form).status_code in (302, 303)
    session.expire_all()
    item = session.scalar(select(Listing).where(Listing.title == "Hundesteuer digital Freiburg"))
    listings.submit_for_review(session, world["owner"], item)
    session.commit()
    auth.logout()
    auth.login(world["coord"].email)
    html = client.get(f"/pruefung/eintrag/{item.slug}").get_data(as_text=True)
    for spec in LISTING_FIELDS:
        if spec.name not in ("title", "summary", "description"):
            assert f"<dt>{spec.label}</dt>" in html, spec.name
    assert "MIT" in html and "Unser Verfahren ist anders." in html
    assert "Übergangene Duplikat-Hinweise" in html and world["original"].title in html
    # One click on a candidate leads to the merge confirmation with that candidate as original.
    assert f'name="target" value="{world["original"].slug}"' in html
    step = client.post(f"/pruefung/eintrag/{item.slug}/duplikat", data={"target": world["original"].slug})
    assert "Bleibt bestehen (Original)" in step.get_data(as_text=True)


def test_the_queue_filters_by_network_kind_and_age(client, auth, session, world):
    f.network(session, "ost", f.LEMGO)
    fresh = f.listing(session, world["owner"], title="Frisch eingereicht Zqa")
    old = f.listing(session, world["owner"], title="Lange wartend Zqb", kind="projekt")
    lemgo = f.listing(session, world["reuser"], title="Aus Lemgo Zqc")
    for item, by in ((fresh, world["owner"]), (old, world["owner"]), (lemgo, world["reuser"])):
        listings.submit_for_review(session, by, item)
    old.submitted_at = utcnow() - timedelta(days=20)
    session.commit()
    admin = f.user(session, "admin", ags=None)
    auth.login(admin.email)

    def titles(query: str) -> set[str]:
        html = client.get("/pruefung" + query).get_data(as_text=True)
        return set(re.findall(r">([^<]*Zq[abc])</a>", html))

    assert titles("") == {"Frisch eingereicht Zqa", "Lange wartend Zqb", "Aus Lemgo Zqc"}
    assert titles("?netzwerk=bw") == {"Frisch eingereicht Zqa", "Lange wartend Zqb"}
    assert titles("?netzwerk=ost") == {"Aus Lemgo Zqc"}
    assert titles("?art=projekt") == {"Lange wartend Zqb"}
    assert titles("?alter=14") == {"Lange wartend Zqb"}
    bad = client.get("/pruefung?alter=999&art=rakete")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="alter-error"' in html and 'id="art-error"' in html


def _buttons(html: str) -> dict[str, set[tuple[str, str]]]:
    """Map each button label to the (form action, name=value) pairs it triggers."""
    out: dict[str, set[tuple[str, str]]] = {}
    for form in re.finditer(r'<form[^>]*?(?:action="([^"]*)")?[^>]*>(.*?)</form>', html, re.S):
        action = form.group(1) or ""
        for b in re.finditer(r"<button([^>]*)>(.*?)</button>", form.group(2), re.S):
            label = re.sub(r"<[^>]+>", "", re.sub(r'<span class="visually-hidden">.*?</span>', "", b.group(2))).strip()
            nv = re.search(r'name="([^"]+)" value="([^"]+)"', b.group(1))
            effect = (re.sub(r"/\d+(/|$)", r"/N\1", re.sub(r"/eintraege/[^/]+|/eintrag/[^/]+", "/X", action)),
                      f"{nv.group(1)}={nv.group(2)}" if nv else "")
            out.setdefault(label, set()).add(effect)
    return out


def test_no_two_buttons_on_a_moderation_page_share_a_label_with_different_effects(client, auth, session, world):
    req_user = f.user(session, "officer", f.LEMGO)
    networks.request_join(session, req_user, world["net"], "")
    item = f.listing(session, world["owner"], title="Noch zu prüfen Zqd")
    listings.submit_for_review(session, world["owner"], item)
    session.commit()
    auth.login(world["coord"].email)
    for url in ("/pruefung", f"/pruefung/eintrag/{item.slug}", f"/pruefung/eintrag/{world['dup'].slug}",
                "/netzwerke/bw"):
        html = client.get(url).get_data(as_text=True)
        clashes = {label: effects for label, effects in _buttons(html).items() if len(effects) > 1}
        assert clashes == {}, url


def test_removing_a_coordinator_is_confirmed(client, auth, session, world):
    from marktplatz.models import NetworkCoordinator

    admin = f.user(session, "admin", ags=None)
    auth.login(admin.email)
    coord_id = world["coord"].id
    step = client.post("/netzwerke/bw/koordination", data={"remove": str(coord_id)})
    html = step.get_data(as_text=True)
    assert step.status_code == 200 and "als Koordination von „" in html and "Das Konto selbst bleibt bestehen" in html

    def coordinates() -> bool:
        session.expire_all()
        return session.scalar(select(NetworkCoordinator).where(NetworkCoordinator.user_id == coord_id)) is not None

    assert coordinates()
    client.post("/netzwerke/bw/koordination", data={"remove": str(coord_id), "bestaetigt": "ja"})
    assert not coordinates()
    assert client.post("/netzwerke/bw/koordination", data={"remove": "999999"}).status_code == 302  # flashed
