"""In-app inbox, unread count, OZG following and digest settings."""

from __future__ import annotations

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
