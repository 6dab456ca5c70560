"""Networks: creation, coordinators, membership by consent, network page and dashboard."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from marktplatz.models import (
    AuditEvent,
    JoinRequest,
    NetworkInvitation,
    NetworkMembership,
    Notification,
)
from marktplatz.permissions import can
from marktplatz.services import listings, moderation, networks, reuse
from marktplatz.services.errors import Conflict, Forbidden, Invalid, NotFound

from . import factories as f


def test_admin_creates_network_and_appoints_coordinator(session):
    admin = f.user(session, "admin", None)
    officer = f.user(session, "officer", f.KARLSRUHE)
    net = networks.create_network(session, admin, "Digitale Region Karlsruhe")
    assert net.slug == "digitale-region-karlsruhe"
    networks.appoint_coordinator(session, admin, net, officer.email)
    session.expire_all()
    assert net.id in officer.coordinated_network_ids and officer.role == "coordinator"


def test_officer_cannot_create_network(session):
    with pytest.raises(Forbidden):
        networks.create_network(session, f.user(session), "Schattennetz")


def test_join_request_approved_adds_member_and_notifies(session):
    net = f.network(session, "n1", f.FREIBURG)
    coord = f.user(session, "coordinator", f.FREIBURG, [net])
    officer = f.user(session, "officer", f.MANNHEIM)
    req = networks.request_join(session, officer, net, "Wir möchten mitmachen.")
    with pytest.raises(Conflict):
        networks.request_join(session, officer, net)
    assert networks.pending_requests(session, net) == [req]
    networks.decide_join(session, coord, req.id, approve=True)
    session.expire_all()
    assert net.id in officer.organisation.network_ids
    kinds = {n.kind for n in session.query(Notification).filter_by(user_id=officer.id)}
    assert "join_decision" in kinds


def test_join_request_declined(session):
    net = f.network(session, "n1", f.FREIBURG)
    coord = f.user(session, "coordinator", f.FREIBURG, [net])
    officer = f.user(session, "officer", f.MANNHEIM)
    req = networks.request_join(session, officer, net)
    networks.decide_join(session, coord, req.id, approve=False, comment="Nur Baden.")
    with pytest.raises(Conflict):
        networks.decide_join(session, coord, req.id, approve=True)
    session.expire_all()
    assert net.id not in officer.organisation.network_ids


def test_network_page_shows_members_listings_and_numbers(client, session):
    net = f.network(session, "n1", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", f.MANNHEIM, [net])
    owner = f.user(session, "officer", f.FREIBURG)
    item = f.listing(session, owner, publish_by=coord, title="Öffentlicher Netzwerkdienst")
    secret = f.listing(session, owner, publish_by=coord, title="Internes Netzwerkprojekt", visibility="network")
    assert client.get("/netzwerke").status_code == 200
    html = client.get("/netzwerke/n1").get_data(as_text=True)
    assert "Freiburg" in html and "Mannheim" in html and item.title in html
    assert secret.title not in html  # anonymous visitors do not see members-only listings


def test_dashboard_renders_accessible_svg(client, auth, session):
    net = f.network(session, "n1", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", f.MANNHEIM, [net])
    owner = f.user(session, "officer", f.FREIBURG)
    item = listings.create_listing(session, owner, f.listing_data(title="Mit Begründung"),
                                   duplicate_override_reason="Unser Verfahren ist anders.")
    listings.submit_for_review(session, owner, item)
    moderation.approve(session, coord, item)
    reuse.declare_reuse(session, coord, item, {"stage": "pilot"})
    auth.login(coord.email)
    resp = client.get("/netzwerke/n1/dashboard")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert html.count('role="img"') >= 4 and "<title" in html and "<script" not in html
    assert "Unser Verfahren ist anders." in html and "Mit Begründung" in html
    assert "<table>" in html  # data table alternative
    assert client.get("/pruefung/dashboard").status_code == 302


def test_dashboard_forbidden_for_officer(client, auth, session):
    f.network(session, "n1", f.FREIBURG)
    officer = f.user(session, "officer", f.FREIBURG)
    auth.login(officer.email)
    assert client.get("/netzwerke/n1/dashboard").status_code == 403


# --------------------------------------------------------------------------- membership by consent


@pytest.fixture
def world(session):
    """Network "andi" (Freiburg, Mannheim) with a coordinator from Karlsruhe; Bad Salzuflen outside.

    Bad Salzuflen has a published members-only listing and one waiting for review.
    """
    andi = f.network(session, "andi", f.FREIBURG, f.MANNHEIM)
    admin = f.user(session, "admin", None, email="admin@example.org")
    salzuflen = f.user(session, "officer", f.BAD_SALZUFLEN, email="salzuflen@example.org")
    secret = f.listing(session, salzuflen, publish_by=admin, title="Internes Prozessregister Salzuflen",
                       visibility="network")
    waiting = f.listing(session, salzuflen, title="Bürgerkonto Salzuflen")
    listings.submit_for_review(session, salzuflen, waiting)
    return {
        "andi": andi,
        "admin": admin,
        "coord": f.user(session, "coordinator", f.KARLSRUHE, [andi], email="coord@example.org"),
        "freiburg": f.user(session, "officer", f.FREIBURG, email="freiburg@example.org"),
        "freiburg2": f.user(session, "officer", f.FREIBURG, email="freiburg2@example.org"),
        "salzuflen": salzuflen,
        "salzuflen2": f.user(session, "officer", f.BAD_SALZUFLEN, email="salzuflen2@example.org"),
        "lemgo": f.user(session, "officer", f.LEMGO, email="lemgo@example.org"),
        "secret": secret,
        "waiting": waiting,
    }


def members(session, net) -> set[str]:
    """Return the AGS of the network's members as the database holds them."""
    session.expire_all()
    return {m.organisation.ags for m in session.scalars(
        select(NetworkMembership).where(NetworkMembership.network_id == net.id))}


def messages(session, user, kind: str | None = None) -> list[str]:
    """Return the notification texts of user (of one kind when given)."""
    q = select(Notification).where(Notification.user_id == user.id)
    if kind:
        q = q.where(Notification.kind == kind)
    return [n.message for n in session.scalars(q.order_by(Notification.id))]


def counts(session) -> tuple[int, ...]:
    """Return how many memberships, invitations, join requests, audit events and notifications exist."""
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(m))
                 for m in (NetworkMembership, NetworkInvitation, JoinRequest, AuditEvent, Notification))


def test_hole_2_coordinator_cannot_add_a_municipality_without_its_consent(client, auth, session, world):
    """Posting a foreign AGS invites; membership, visibility and review rights wait for the officer."""
    andi, coord, freiburg = world["andi"], world["coord"], world["freiburg"]
    secret, waiting = world["secret"], world["waiting"]
    auth.login(coord.email)
    resp = client.post("/netzwerke/andi/mitglieder", data={"organisation": f.BAD_SALZUFLEN})
    assert resp.status_code == 302
    resp = client.post("/netzwerke/andi/mitglieder", data={"organisation": f.LEMGO, "aktion": "direkt"})
    assert resp.status_code == 403
    assert members(session, andi) == {f.FREIBURG, f.MANNHEIM}
    [inv] = networks.pending_invitations(session, andi)
    assert inv.organisation.ags == f.BAD_SALZUFLEN and inv.invited_by_id == coord.id

    # Until an officer accepts: hidden from members, no review rights for the coordinator.
    assert not can(freiburg, "listing.view", secret)
    assert not can(coord, "listing.view", secret)
    assert not can(coord, "listing.review", waiting)
    session.commit()
    with pytest.raises(Forbidden):
        moderation.approve(session, coord, waiting)
    session.rollback()
    assert client.get(f"/pruefung/eintrag/{waiting.slug}").status_code in (403, 404)
    assert "Bürgerkonto Salzuflen" not in client.get("/pruefung").get_data(as_text=True)
    auth.logout()
    auth.login(freiburg.email)
    assert client.get(f"/eintraege/{secret.slug}").status_code == 404
    auth.logout()

    # The officer of Bad Salzuflen accepts: now the network's rules apply.
    auth.login(world["salzuflen"].email)
    resp = client.post(f"/netzwerke/andi/einladungen/{inv.id}", data={"antwort": "annehmen"})
    assert resp.status_code == 302
    assert members(session, andi) == {f.FREIBURG, f.MANNHEIM, f.BAD_SALZUFLEN}
    assert can(freiburg, "listing.view", secret)
    assert can(coord, "listing.review", waiting)
    auth.logout()
    auth.login(freiburg.email)
    assert client.get(f"/eintraege/{secret.slug}").status_code == 200


def test_invitation_accepted_adds_member_audits_and_notifies(session, world):
    andi, coord, officer = world["andi"], world["coord"], world["salzuflen"]
    inv = networks.invite(session, coord, andi, f.BAD_SALZUFLEN, "Wir teilen gern unsere Formulare.")
    notes = messages(session, officer, "network_invitation") + messages(session, world["salzuflen2"])
    assert len(notes) == 2 and "lädt Bad Salzuflen" in notes[0] and "Formulare" in notes[0]
    assert networks.invitations_for(session, officer) == [inv]
    assert networks.invitations_for(session, world["freiburg"]) == []
    networks.respond_to_invitation(session, world["salzuflen2"], inv.id, accept=True)
    session.expire_all()
    assert inv.status == "accepted" and inv.decided_by_id == world["salzuflen2"].id and inv.decided_at
    assert members(session, andi) == {f.FREIBURG, f.MANNHEIM, f.BAD_SALZUFLEN}
    assert any("angenommen" in m for m in messages(session, coord))
    actions = [a for (a,) in session.execute(select(AuditEvent.action).order_by(AuditEvent.id))]
    assert actions[-2:] == ["network.invitation_sent", "network.invitation_accepted"]
    with pytest.raises(Conflict):
        networks.respond_to_invitation(session, officer, inv.id, accept=False)
    assert networks.invitations_for(session, officer) == []


def test_invitation_declined_adds_nothing(session, world):
    andi, coord, officer = world["andi"], world["coord"], world["salzuflen"]
    inv = networks.invite(session, coord, andi, f.BAD_SALZUFLEN)
    networks.respond_to_invitation(session, officer, inv.id, accept=False)
    session.expire_all()
    assert inv.status == "declined"
    assert members(session, andi) == {f.FREIBURG, f.MANNHEIM}
    assert any("abgelehnt" in m for m in messages(session, coord))
    with pytest.raises(Conflict):
        networks.respond_to_invitation(session, officer, inv.id, accept=True)
    assert members(session, andi) == {f.FREIBURG, f.MANNHEIM}
    # Declining does not block a later invitation.
    assert networks.invite(session, coord, andi, f.BAD_SALZUFLEN).status == "pending"


@pytest.mark.parametrize("who", ["lemgo", "freiburg", "coord", "admin"])
def test_only_an_officer_of_the_invited_municipality_answers(session, world, who):
    """Another municipality, the inviting coordinator and even an admin cannot accept for it."""
    inv = networks.invite(session, world["coord"], world["andi"], f.BAD_SALZUFLEN)
    before = counts(session)
    for accept in (True, False):
        session.commit()
        with pytest.raises(Forbidden):
            networks.respond_to_invitation(session, world[who], inv.id, accept=accept)
        session.rollback()
    assert counts(session) == before
    assert inv.status == "pending"


def test_withdrawn_invitation_cannot_be_accepted(session, world):
    andi, coord, officer = world["andi"], world["coord"], world["salzuflen"]
    inv = networks.invite(session, coord, andi, f.BAD_SALZUFLEN)
    session.commit()
    with pytest.raises(Forbidden):
        networks.withdraw_invitation(session, world["freiburg"], inv.id)
    session.rollback()
    networks.withdraw_invitation(session, coord, inv.id)
    session.expire_all()
    assert inv.status == "withdrawn" and networks.pending_invitations(session, andi) == []
    assert any("zurückgezogen" in m for m in messages(session, officer))
    with pytest.raises(Conflict):
        networks.respond_to_invitation(session, officer, inv.id, accept=True)
    with pytest.raises(Conflict):
        networks.withdraw_invitation(session, coord, inv.id)
    assert members(session, andi) == {f.FREIBURG, f.MANNHEIM}


def test_invitation_of_another_network_is_not_found_under_this_one(session, world):
    other = f.network(session, "lippe", f.LEMGO)
    inv = networks.invite(session, world["admin"], other, f.BAD_SALZUFLEN)
    with pytest.raises(NotFound):
        networks.respond_to_invitation(session, world["salzuflen"], inv.id, True, world["andi"])
    with pytest.raises(NotFound):
        networks.respond_to_invitation(session, world["salzuflen"], 10**6, True)


@pytest.mark.parametrize("case", ["member", "invited", "requested", "unknown", "empty", "long", "officer",
                                  "other_coordinator"])
def test_refused_invitations_change_nothing(session, world, case):
    """Members, open invitations or requests, bad input and strangers are refused without a write."""
    andi, coord = world["andi"], world["coord"]
    ident, message, user = f.BAD_SALZUFLEN, "", coord
    if case == "member":
        ident = f.MANNHEIM
    elif case == "invited":
        networks.invite(session, coord, andi, f.BAD_SALZUFLEN)
    elif case == "requested":
        networks.request_join(session, world["salzuflen"], andi)
    elif case == "unknown":
        ident = "99999999"
    elif case == "empty":
        ident = "  "
    elif case == "long":
        message = "x" * 2001
    elif case == "officer":
        user = world["freiburg"]
    else:
        lippe = f.network(session, "lippe", f.LEMGO)
        user = f.user(session, "coordinator", None, [lippe])
    before = counts(session)
    expected = {"member": Conflict, "invited": Conflict, "requested": Conflict, "unknown": Invalid,
                "empty": Invalid, "long": Invalid, "officer": Forbidden, "other_coordinator": Forbidden}[case]
    session.commit()
    with pytest.raises(expected) as err:
        networks.invite(session, user, andi, ident, message)
    session.rollback()
    if expected is Invalid:
        assert set(err.value.errors) == ({"message"} if case == "long" else {"organisation"})
    assert counts(session) == before


def test_join_request_refused_while_invited(session, world):
    networks.invite(session, world["coord"], world["andi"], f.BAD_SALZUFLEN)
    before = counts(session)
    session.commit()
    with pytest.raises(Conflict):
        networks.request_join(session, world["salzuflen"], world["andi"])
    session.rollback()
    assert counts(session) == before


def test_leave_notifies_officers_and_coordinators(session, world):
    andi, freiburg = world["andi"], world["freiburg"]
    mannheim = f.user(session, "officer", f.MANNHEIM)
    members_only = f.listing(session, mannheim, publish_by=world["coord"], visibility="network")
    assert can(freiburg, "listing.view", members_only)
    networks.leave_network(session, freiburg, andi)
    assert members(session, andi) == {f.MANNHEIM}
    assert not can(freiburg, "listing.view", members_only)
    assert any("abgemeldet" in m for m in messages(session, world["freiburg2"], "network_membership"))
    assert any("verlassen" in m for m in messages(session, world["coord"], "network_membership"))
    assert messages(session, freiburg, "network_membership") == []  # the one who left knows
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.action == "network.member_left" and event.actor_id == freiburg.id
    before = counts(session)
    session.commit()
    with pytest.raises(Forbidden):  # no longer a member
        networks.leave_network(session, freiburg, andi)
    session.rollback()
    assert counts(session) == before


@pytest.mark.parametrize("who", ["coord", "admin", "salzuflen", "lemgo"])
def test_only_officers_of_members_leave(session, world, who):
    """Coordinators and admins remove instead; outsiders have nothing to leave."""
    before = counts(session)
    session.commit()
    with pytest.raises(Forbidden):
        networks.leave_network(session, world[who], world["andi"])
    session.rollback()
    assert counts(session) == before


def test_removal_notifies_the_municipality_with_reason(session, world):
    andi, coord = world["andi"], world["coord"]
    session.commit()
    with pytest.raises(Invalid):
        networks.remove_member(session, coord, andi, f.org(session, f.FREIBURG).id, "x" * 2001)
    session.rollback()
    assert members(session, andi) == {f.FREIBURG, f.MANNHEIM}
    session.commit()
    with pytest.raises(Forbidden):
        networks.remove_member(session, world["freiburg"], andi, f.org(session, f.MANNHEIM).id)
    session.rollback()
    networks.remove_member(session, coord, andi, f.org(session, f.FREIBURG).id, "Nur noch Kreis Lippe.")
    assert members(session, andi) == {f.MANNHEIM}
    for officer in (world["freiburg"], world["freiburg2"]):
        [note] = messages(session, officer, "network_membership")
        assert "entfernt" in note and "Nur noch Kreis Lippe." in note
    with pytest.raises(NotFound):
        networks.remove_member(session, coord, andi, f.org(session, f.FREIBURG).id)


def test_admin_adds_directly_audited_and_notified(session, world):
    andi, admin = world["andi"], world["admin"]
    inv = networks.invite(session, world["coord"], andi, f.BAD_SALZUFLEN)
    before = counts(session)
    session.commit()
    with pytest.raises(Forbidden):
        networks.add_member(session, world["coord"], andi, f.BAD_SALZUFLEN)
    session.rollback()
    assert counts(session) == before
    networks.add_member(session, admin, andi, f.BAD_SALZUFLEN)
    assert members(session, andi) == {f.FREIBURG, f.MANNHEIM, f.BAD_SALZUFLEN}
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.action == "network.member_added" and event.actor_id == admin.id
    assert event.details["direct"] is True
    assert any("Plattformverwaltung" in m for m in messages(session, world["salzuflen"], "network_membership"))
    assert inv.status == "withdrawn"  # the open invitation cannot be answered any more
    with pytest.raises(Conflict):
        networks.add_member(session, admin, andi, f.BAD_SALZUFLEN)


def test_approved_join_request_closes_nothing_twice(session, world):
    """Approval goes through the same path: a second decision is refused, no duplicate row."""
    req = networks.request_join(session, world["salzuflen"], world["andi"])
    networks.decide_join(session, world["coord"], req.id, approve=True)
    with pytest.raises(Conflict):
        networks.invite(session, world["coord"], world["andi"], f.BAD_SALZUFLEN)
    assert members(session, world["andi"]) == {f.FREIBURG, f.MANNHEIM, f.BAD_SALZUFLEN}


def test_memberships_are_created_only_by_the_consent_paths():
    """Only services/networks.py (through _admit) and the demo loader create membership rows."""
    root = Path(__file__).resolve().parents[1] / "marktplatz"
    creators = {}
    for path in root.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        hits = len(re.findall(r"(?<!class )NetworkMembership\(|insert\(NetworkMembership|INTO network_membership",
                              source))
        if hits:
            creators[path.relative_to(root).as_posix()] = hits
    assert creators == {"services/networks.py": 1, "services/demo.py": 4}


# --------------------------------------------------------------------------- pages and forms


def test_network_page_offers_invitation_not_direct_add_to_coordinators(client, auth, world):
    auth.login(world["coord"].email)
    html = client.get("/netzwerke/andi").get_data(as_text=True)
    assert "Kommune einladen" in html and "Einladung senden" in html
    assert 'value="direkt"' not in html and "Aus dem Netzwerk entfernen" in html
    auth.logout()
    auth.login(world["admin"].email)
    html = client.get("/netzwerke/andi").get_data(as_text=True)
    assert "Einladung senden" in html and 'name="aktion" value="direkt"' in html and "Direkt aufnehmen" in html
    auth.logout()
    auth.login(world["salzuflen"].email)
    html = client.get("/netzwerke/andi").get_data(as_text=True)
    assert "Kommune einladen" not in html and "Aus dem Netzwerk entfernen" not in html
    assert "Beitritt für Bad Salzuflen anfragen" in html and "Netzwerk verlassen" not in html


@pytest.mark.parametrize("ags,status,text", [
    ("", 422, "Bitte den Amtlichen Gemeindeschlüssel"),
    ("12345678", 422, "Keine Kommune mit diesem AGS"),
    (f.MANNHEIM, 409, "ist bereits Mitglied"),
])
def test_invite_form_shows_errors_next_to_the_field(client, auth, session, world, ags, status, text):
    auth.login(world["coord"].email)
    before = counts(session)
    resp = client.post("/netzwerke/andi/mitglieder", data={"organisation": ags, "message": "Hallo"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == status
    error = re.search(r'<p class="field-error" id="organisation-error">(.*?)</p>', html, re.S)
    assert error and text in error.group(1)
    assert 'aria-invalid="true"' in html and f'value="{ags}"' in html and ">Hallo</textarea>" in html
    assert counts(session) == before


def test_invite_form_message_too_long(client, auth, session, world):
    auth.login(world["coord"].email)
    resp = client.post("/netzwerke/andi/mitglieder", data={"organisation": f.BAD_SALZUFLEN, "message": "x" * 2001})
    assert resp.status_code == 422 and 'id="message-error"' in resp.get_data(as_text=True)
    assert networks.pending_invitations(session, world["andi"]) == []


def test_invitation_shown_and_answered_on_my_municipality(client, auth, session, world):
    inv = networks.invite(session, world["coord"], world["andi"], f.BAD_SALZUFLEN, "Herzlich willkommen")
    auth.login(world["coord"].email)
    html = client.get("/netzwerke/andi").get_data(as_text=True)
    assert "Offene Einladungen (1)" in html and "Zurückziehen" in html
    auth.logout()
    auth.login(world["salzuflen"].email)
    page = client.get("/netzwerke/andi").get_data(as_text=True)
    assert "Einladung für Bad Salzuflen" in page and 'value="annehmen"' in page
    assert "Beitritt für Bad Salzuflen anfragen" not in page
    html = client.get("/meine-kommune").get_data(as_text=True)
    assert "Einladungen in Netzwerke (1)" in html and "Herzlich willkommen" in html
    assert f'action="/netzwerke/andi/einladungen/{inv.id}"' in html
    assert ">Annehmen<" in html and ">Ablehnen<" in html
    resp = client.post(f"/netzwerke/andi/einladungen/{inv.id}", data={"antwort": "ablehnen", "zurueck": "kommune"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/meine-kommune")
    assert members(session, world["andi"]) == {f.FREIBURG, f.MANNHEIM}
    assert "Einladungen in Netzwerke" not in client.get("/meine-kommune").get_data(as_text=True)
    assert client.post(f"/netzwerke/andi/einladungen/{inv.id}", data={"antwort": "vielleicht"}).status_code == 422


def test_stranger_cannot_answer_or_withdraw_through_the_pages(client, auth, session, world):
    inv = networks.invite(session, world["coord"], world["andi"], f.BAD_SALZUFLEN)
    before = counts(session)
    auth.login(world["lemgo"].email)
    assert client.post(f"/netzwerke/andi/einladungen/{inv.id}", data={"antwort": "annehmen"}).status_code == 403
    assert client.post(f"/netzwerke/andi/einladungen/{inv.id}/zurueckziehen").status_code == 403
    assert client.post("/netzwerke/andi/mitglieder/1/entfernen", data={"bestaetigt": "ja"}).status_code in (403, 404)
    freiburg_id = f.org(session, f.FREIBURG).id
    assert client.post(f"/netzwerke/andi/mitglieder/{freiburg_id}/entfernen",
                       data={"bestaetigt": "ja"}).status_code == 403
    assert client.post("/netzwerke/andi/verlassen", data={"bestaetigt": "ja"}).status_code == 403
    assert counts(session) == before


def test_coordinator_withdraws_through_the_page(client, auth, session, world):
    inv = networks.invite(session, world["coord"], world["andi"], f.BAD_SALZUFLEN)
    auth.login(world["coord"].email)
    resp = client.post(f"/netzwerke/andi/einladungen/{inv.id}/zurueckziehen")
    assert resp.status_code == 302
    session.expire_all()
    assert inv.status == "withdrawn"


def test_removal_asks_for_confirmation_first(client, auth, session, world):
    freiburg_id = f.org(session, f.FREIBURG).id
    auth.login(world["coord"].email)
    url = f"/netzwerke/andi/mitglieder/{freiburg_id}/entfernen"
    resp = client.post(url)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Freiburg im Breisgau aus dem Netzwerk entfernen?" in html
    assert 'name="bestaetigt" value="ja"' in html and 'name="csrf_token"' in html
    assert "Ja, Freiburg im Breisgau aus dem Netzwerk entfernen" in html and "Aufnehmen" not in html
    assert members(session, world["andi"]) == {f.FREIBURG, f.MANNHEIM}
    resp = client.post(url, data={"bestaetigt": "ja", "comment": "x" * 2001})
    assert resp.status_code == 422 and 'id="comment-error"' in resp.get_data(as_text=True)
    assert members(session, world["andi"]) == {f.FREIBURG, f.MANNHEIM}
    resp = client.post(url, data={"bestaetigt": "ja", "comment": "Bitte neu anfragen."})
    assert resp.status_code == 302
    assert members(session, world["andi"]) == {f.MANNHEIM}
    assert any("Bitte neu anfragen." in m for m in messages(session, world["freiburg"]))


def test_leaving_asks_for_confirmation_first(client, auth, session, world):
    auth.login(world["freiburg"].email)
    html = client.get("/netzwerke/andi").get_data(as_text=True)
    assert "Netzwerk verlassen" in html
    resp = client.post("/netzwerke/andi/verlassen")
    assert resp.status_code == 200 and "„Netzwerk andi“ verlassen?" in resp.get_data(as_text=True)
    assert members(session, world["andi"]) == {f.FREIBURG, f.MANNHEIM}
    resp = client.post("/netzwerke/andi/verlassen", data={"bestaetigt": "ja"})
    assert resp.status_code == 302
    assert members(session, world["andi"]) == {f.MANNHEIM}
    assert any("verlassen" in m for m in messages(session, world["coord"]))


def test_admin_direct_add_through_the_page(client, auth, session, world):
    auth.login(world["admin"].email)
    resp = client.post("/netzwerke/andi/mitglieder", data={"organisation": f.LEMGO, "aktion": "direkt"})
    assert resp.status_code == 302
    assert members(session, world["andi"]) == {f.FREIBURG, f.MANNHEIM, f.LEMGO}
    assert any("Plattformverwaltung" in m for m in messages(session, world["lemgo"]))
