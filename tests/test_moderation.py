"""Review cycle, audit trail, recently changed, flags and duplicates."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marktplatz.models import AuditEvent, Flag, Listing, Notification, Reuse
from marktplatz.services import flags, listings, moderation, reuse
from marktplatz.services.errors import Conflict, Forbidden, Invalid

from . import factories as f


@pytest.fixture
def world(session):
    """A network with a coordinator, an owner officer and a second member officer."""
    net = f.network(session, "bw", f.FREIBURG, f.MANNHEIM, f.KARLSRUHE)
    coord = f.user(session, "coordinator", f.KARLSRUHE, [net])
    owner = f.user(session, "officer", f.FREIBURG)
    other = f.user(session, "officer", f.MANNHEIM)
    return {"net": net, "coord": coord, "owner": owner, "other": other}


def _notes(session, user, kind=None):
    session.expire_all()
    q = select(Notification).where(Notification.user_id == user.id)
    if kind:
        q = q.where(Notification.kind == kind)
    return list(session.scalars(q))


def test_submit_puts_listing_in_coordinator_queue(session, world):
    item = f.listing(session, world["owner"])
    listings.submit_for_review(session, world["owner"], item)
    assert [x.id for x in moderation.review_queue(session, world["coord"])] == [item.id]
    assert _notes(session, world["coord"], "review_requested")


def test_owner_without_network_goes_to_admins(session):
    admin = f.user(session, "admin", None)
    loner = f.user(session, "officer", f.BAD_SALZUFLEN)
    item = f.listing(session, loner)
    listings.submit_for_review(session, loner, item)
    assert [x.id for x in moderation.review_queue(session, admin)] == [item.id]


def test_request_changes_resubmit_approve_cycle_with_audit_trail(session, world):
    owner, coord = world["owner"], world["coord"]
    item = f.listing(session, owner)
    listings.submit_for_review(session, owner, item)
    with pytest.raises(Invalid):
        moderation.request_changes(session, coord, item, "")
    moderation.request_changes(session, coord, item, "Bitte Reifegrad ergänzen.")
    assert item.status == "changes_requested"
    assert any("Reifegrad" in n.message for n in _notes(session, owner, "review_outcome"))
    listings.update_listing(session, owner, item, {"summary": "Jetzt mit Reifegrad und mehr Text."}, None, partial=True)
    listings.submit_for_review(session, owner, item)
    moderation.approve(session, coord, item)
    assert item.status == "published" and item.published_at is not None
    actions = [e.action for e in moderation.audit_trail(session, owner, item)]
    assert actions == ["listing.created", "listing.submitted", "listing.changes_requested",
                       "listing.updated", "listing.submitted", "listing.approved"]
    # the same trail is visible to the coordinator but not to an unrelated officer
    assert len(moderation.audit_trail(session, coord, item)) == 6
    with pytest.raises(Forbidden):
        moderation.audit_trail(session, world["other"], item)


def test_reject_and_unpublish_need_reasons(session, world):
    owner, coord = world["owner"], world["coord"]
    item = f.listing(session, owner)
    listings.submit_for_review(session, owner, item)
    with pytest.raises(Invalid):
        moderation.reject(session, coord, item, "no")
    moderation.reject(session, coord, item, "Kein kommunaler Dienst.")
    assert item.status == "rejected"
    published = f.listing(session, owner, publish_by=coord)
    moderation.unpublish(session, coord, published, "Enthält personenbezogene Daten.")
    assert published.status == "changes_requested"
    with pytest.raises(Conflict):
        moderation.approve(session, coord, published)


def test_officer_cannot_review(session, world):
    item = f.listing(session, world["owner"])
    listings.submit_for_review(session, world["owner"], item)
    with pytest.raises(Forbidden):
        moderation.approve(session, world["other"], item)


def test_edit_of_published_listing_goes_live_and_is_recently_changed(session, world):
    owner, coord = world["owner"], world["coord"]
    item = f.listing(session, owner, publish_by=coord)
    assert moderation.recently_changed(session, coord) == []
    listings.update_listing(session, owner, item, {"summary": "Neue Kurzbeschreibung, sofort sichtbar."}, None, partial=True)
    assert item.status == "published"
    changed = moderation.recently_changed(session, coord)
    assert [(listing.id) for _e, listing in changed] == [item.id]


def test_flag_goes_to_queue_and_notifies_owner(session, world):
    owner, coord, other = world["owner"], world["coord"], world["other"]
    item = f.listing(session, owner, publish_by=coord)
    flag = flags.flag_listing(session, other, item, "outdated", "Der Link geht nicht mehr.")
    assert [x.id for x in flags.open_flags(session, coord)] == [flag.id]
    assert _notes(session, owner, "flag")
    with pytest.raises(Conflict):
        flags.flag_listing(session, other, item, "outdated")
    with pytest.raises(Invalid):
        flags.flag_listing(session, other, item, "spam")
    flags.resolve_flag(session, coord, flag.id, dismiss=True)
    assert flags.open_flags(session, coord) == []


def test_mark_duplicate_archives_points_and_invites_reusers(session, world):
    owner, coord, other = world["owner"], world["coord"], world["other"]
    keep = f.listing(session, other, publish_by=coord, title="Hundesteuer Mannheim")
    dup = f.listing(session, owner, publish_by=coord, title="Hundesteuer Freiburg")
    reuser = f.user(session, "officer", f.LEMGO)
    r = reuse.declare_reuse(session, reuser, dup, {"stage": "pilot"})
    flag = flags.flag_listing(session, other, dup, "duplicate", "Gibt es schon.", duplicate_of=keep)
    flags.resolve_as_duplicate(session, coord, flag.id, keep)
    session.expire_all()
    dup = session.get(Listing, dup.id)
    assert dup.status == "archived" and dup.duplicate_of_id == keep.id
    assert session.get(Flag, flag.id).status == "resolved"
    invites = _notes(session, reuser, "duplicate_moved")
    assert invites and invites[0].link.endswith("/nachnutzung-umziehen")
    moved = moderation.move_reuse(session, reuser, session.get(Reuse, r.id), session.get(Listing, keep.id))
    session.expire_all()
    assert session.get(Reuse, moved.id).listing_id == keep.id
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "reuse.moved")) is not None


def test_duplicate_of_itself_is_refused(session, world):
    item = f.listing(session, world["owner"], publish_by=world["coord"])
    with pytest.raises(Invalid):
        moderation.mark_duplicate(session, world["coord"], item, item)


def test_ozg_followers_notified_when_listing_published(session, world):
    from marktplatz.services import notify

    follower = f.user(session, "officer", f.MANNHEIM)
    notify.follow_ozg(session, follower, 10160)
    item = f.listing(session, world["owner"], publish_by=world["coord"], ozg_ids=[10160])
    notes = _notes(session, follower, "ozg_listing")
    assert len(notes) == 1 and item.title in notes[0].message


# ---- views


def test_queue_and_review_pages(client, auth, session, world):
    item = f.listing(session, world["owner"])
    listings.submit_for_review(session, world["owner"], item)
    auth.login(world["coord"].email)
    page = client.get("/pruefung")
    assert page.status_code == 200 and item.title in page.get_data(as_text=True)
    resp = client.post(f"/pruefung/eintrag/{item.slug}", data={"action": "aenderungen", "comment": ""})
    assert resp.status_code == 422 and 'aria-describedby="aenderungen-comment-error"' in resp.get_data(as_text=True)
    resp = client.post(f"/pruefung/eintrag/{item.slug}", data={"action": "aenderungen", "comment": "Bitte Kontakt ergänzen."})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(Listing, item.id).status == "changes_requested"


def test_officer_resubmits_from_my_submissions(client, auth, session, world):
    item = f.listing(session, world["owner"])
    listings.submit_for_review(session, world["owner"], item)
    moderation.request_changes(session, world["coord"], item, "Bitte Kontakt ergänzen.")
    auth.login(world["owner"].email)
    page = client.get("/meine-einreichungen").get_data(as_text=True)
    assert "Erneut einreichen" in page and "Bitte Kontakt ergänzen." in page
    assert client.post("/meine-einreichungen", data={"slug": item.slug}).status_code == 302
    session.expire_all()
    assert session.get(Listing, item.id).status == "in_review"


def test_queue_forbidden_for_officers(client, auth, session, world):
    auth.login(world["owner"].email)
    assert client.get("/pruefung").status_code == 403


def test_audit_page_visible_to_owner_not_to_others(client, auth, session, world):
    item = f.listing(session, world["owner"], publish_by=world["coord"])
    auth.login(world["owner"].email)
    page = client.get(f"/eintraege/{item.slug}/verlauf")
    assert page.status_code == 200 and "Freigegeben" in page.get_data(as_text=True)
    auth.logout()
    auth.login(world["other"].email)
    assert client.get(f"/eintraege/{item.slug}/verlauf").status_code == 404


def test_flag_form_creates_flag(client, auth, session, world):
    item = f.listing(session, world["owner"], publish_by=world["coord"])
    auth.login(world["other"].email)
    assert client.get(f"/eintraege/{item.slug}/melden").status_code == 200
    resp = client.post(f"/eintraege/{item.slug}/melden", data={"reason": "wrong", "comment": ""})
    assert resp.status_code == 422
    resp = client.post(f"/eintraege/{item.slug}/melden", data={"reason": "wrong", "comment": "Telefonnummer falsch."})
    assert resp.status_code == 302
    assert session.scalar(select(Flag).where(Flag.listing_id == item.id)) is not None


def test_duplicate_banner_points_to_target(app, session, world):
    from flask import render_template_string

    keep = f.listing(session, world["other"], publish_by=world["coord"], title="Behalten")
    dup = f.listing(session, world["owner"], publish_by=world["coord"], title="Doppelt")
    moderation.mark_duplicate(session, world["coord"], dup, keep)
    with app.test_request_context():
        html = render_template_string('{% include "moderation/_duplicate_banner.html" %}', listing=dup)
    assert "Duplikat" in html and f"/eintraege/{keep.slug}" in html
