"""Networks: creation, coordinators, members, join requests, network page and dashboard."""

from __future__ import annotations

import pytest

from marktplatz.models import Notification
from marktplatz.services import networks
from marktplatz.services.errors import Conflict, Forbidden

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


def test_coordinator_manages_members(session):
    net = f.network(session, "n1", f.FREIBURG)
    coord = f.user(session, "coordinator", f.FREIBURG, [net])
    networks.add_member(session, coord, net, f.MANNHEIM)
    with pytest.raises(Conflict):
        networks.add_member(session, coord, net, f.MANNHEIM)
    session.expire_all()
    assert {m.organisation.ags for m in net.memberships} == {f.FREIBURG, f.MANNHEIM}
    networks.remove_member(session, coord, net, f.org(session, f.MANNHEIM).id)
    session.expire_all()
    assert {m.organisation.ags for m in net.memberships} == {f.FREIBURG}


def test_other_coordinator_cannot_manage_members(session):
    net = f.network(session, "n1", f.FREIBURG)
    other_net = f.network(session, "n2", f.LEMGO)
    stranger = f.user(session, "coordinator", f.LEMGO, [other_net])
    with pytest.raises(Forbidden):
        networks.add_member(session, stranger, net, f.MANNHEIM)


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
    from marktplatz.services import listings, moderation, reuse

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
