"""In-app inbox, unread count, OZG following and digest settings."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marktplatz.models import Notification, OzgFollow, User
from marktplatz.services import listings, notify, reuse

from . import factories as f


def _setup(session):
    net = f.network(session, "n1", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", f.MANNHEIM, [net])
    owner = f.user(session, "officer", f.FREIBURG)
    return coord, owner


def test_followers_notified_of_status_updates(session):
    coord, owner = _setup(session)
    follower = f.user(session, "officer", f.LEMGO)
    item = f.listing(session, owner, publish_by=coord)
    reuse.follow(session, follower, item)
    listings.post_status_update(session, owner, item, {"title": "Pilot gestartet", "body": "", "phase": "live"})
    notes = notify.inbox(session, follower)
    assert [n.kind for n in notes] == ["status_update"] and "Pilot gestartet" in notes[0].message


def test_owner_notified_of_new_reuse_and_stage_change(session):
    coord, owner = _setup(session)
    item = f.listing(session, owner, publish_by=coord)
    reuser = f.user(session, "officer", f.LEMGO)
    r = reuse.declare_reuse(session, reuser, item, {"stage": "interested"})
    reuse.change_reuse_stage(session, reuser, r, {"stage": "pilot"})
    kinds = [n.kind for n in notify.inbox(session, owner)]
    assert "reuse_declared" in kinds and "reuse_stage_changed" in kinds


def test_inbox_unread_count_and_mark_read(client, auth, session):
    coord, owner = _setup(session)
    f.listing(session, owner, publish_by=coord)  # review outcome -> owner
    auth.login(owner.email)
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert "freigegeben" in page and 'class="badge-count">1<' in page
    note = session.scalar(select(Notification).where(Notification.user_id == owner.id))
    resp = client.post(f"/benachrichtigungen/{note.id}/gelesen", data={"open": "1"})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/eintraege/")
    session.expire_all()
    assert notify.unread_count(session, owner) == 0


def test_mark_all_read(client, auth, session):
    coord, owner = _setup(session)
    f.listing(session, owner, publish_by=coord)
    f.listing(session, owner, publish_by=coord)
    auth.login(owner.email)
    client.post("/benachrichtigungen/alle-gelesen")
    session.expire_all()
    assert notify.unread_count(session, owner) == 0


def test_cannot_read_others_notifications(client, auth, session):
    coord, owner = _setup(session)
    f.listing(session, owner, publish_by=coord)
    note = session.scalar(select(Notification).where(Notification.user_id == owner.id))
    auth.login(coord.email)
    assert client.post(f"/benachrichtigungen/{note.id}/gelesen").status_code == 404


def test_follow_and_unfollow_ozg_route(client, auth, session):
    coord, owner = _setup(session)
    auth.login(coord.email)
    client.post("/ozg/10160/folgen")
    assert session.get(OzgFollow, (coord.id, 10160)) is not None
    assert "10160" in client.get("/konto/benachrichtigungen").get_data(as_text=True)
    client.post("/ozg/10160/folgen", data={"action": "unfollow"})
    session.expire_all()
    assert session.get(OzgFollow, (coord.id, 10160)) is None
    assert client.post("/ozg/1/folgen").status_code == 404


def test_digest_setting_page(client, auth, session):
    _coord, owner = _setup(session)
    auth.login(owner.email)
    assert client.post("/konto/benachrichtigungen", data={"digest": "hourly"}).status_code == 422
    assert client.post("/konto/benachrichtigungen", data={"digest": "daily"}).status_code == 302
    session.expire_all()
    assert session.get(User, owner.id).digest == "daily"


def _waiting(session, user) -> list[Notification]:
    session.expire_all()
    return [n for n in session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                                  Notification.kind == "review_requested"))]



@pytest.mark.parametrize("decide", ["approve", "request_changes", "reject", "mark_duplicate", "archive"])
def test_waiting_for_review_notices_are_resolved_when_the_review_is_decided(session, decide):
    """No stale "wartet auf Prüfung" notice is left once the review is decided, whoever decides."""
    from marktplatz.services import moderation

    net = f.network(session, "n1", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", f.MANNHEIM, [net])
    other = f.user(session, "coordinator", f.MANNHEIM, [net])
    owner = f.user(session, "officer", f.FREIBURG)
    original = f.listing(session, owner, publish_by=coord)
    item = f.listing(session, owner)
    listings.submit_for_review(session, owner, item)
    session.commit()
    assert any(n.listing_id == item.id and n.read_at is None for n in _waiting(session, other))
    if decide == "approve":
        moderation.approve(session, coord, item)
    elif decide == "request_changes":
        moderation.request_changes(session, coord, item, "Bitte die Lizenz ergänzen.")
    elif decide == "reject":
        moderation.reject(session, coord, item, "Kein kommunaler Dienst.")
    elif decide == "mark_duplicate":
        moderation.mark_duplicate(session, coord, item, original)
    else:
        listings.archive_listing(session, owner, item, "Doch nicht nötig.")
    session.commit()
    for user in (coord, other):  # the deciding coordinator and the other one alike
        notes = [n for n in _waiting(session, user) if n.listing_id == item.id]
        assert notes and all(n.read_at is not None for n in notes)
    assert notify.unread_count(session, other) == sum(1 for n in notify.inbox(session, other) if n.read_at is None)
