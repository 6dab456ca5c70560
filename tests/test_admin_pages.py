"""Administration in the browser: users, networks, municipalities, reference data, audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marktplatz.models import AuditEvent, Network, NetworkCoordinator, User
from marktplatz.services import accounts, admin, networks

from . import factories as f


@pytest.fixture
def world(session):
    net = f.network(session, "andi-admin", f.FREIBURG, f.MANNHEIM)
    return {"net": net, "admin": f.user(session, "admin", ags=None),
            "officer": f.user(session, "officer", f.FREIBURG), "coord": f.user(session, "coordinator", f.MANNHEIM, [net])}


def _actions(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


ADMIN_PAGES = ["/admin/", "/admin/benutzer", "/admin/netzwerke", "/admin/kommunen", "/admin/referenzdaten",
               "/admin/protokoll"]


def test_admin_pages_are_for_admins_only(client, auth, world):
    """Anonymous visitors go to the login; officers and coordinators get a 403; admins a 200."""
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 302, path
    for who in ("officer", "coord"):
        auth.login(world[who].email)
        for path in ADMIN_PAGES + [f"/admin/benutzer/{world['officer'].id}", "/admin/netzwerke/andi-admin",
                                   f"/admin/kommunen/{f.FREIBURG}"]:
            assert client.get(path).status_code == 403, (who, path)
        auth.logout()
    auth.login(world["admin"].email)
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 200, path
    assert "Verwaltung" in client.get("/").get_data(as_text=True)


def test_user_search_filters_and_shows_last_login(client, auth, session, world):
    """Search by name part, role, status and AGS; the last sign-in is shown."""
    auth.login(world["admin"].email)
    page = client.get("/admin/benutzer?rolle=coordinator").get_data(as_text=True)
    assert world["coord"].email in page and world["officer"].email not in page
    page = client.get(f"/admin/benutzer?ags={f.FREIBURG}").get_data(as_text=True)
    assert world["officer"].email in page and world["coord"].email not in page
    page = client.get(f"/admin/benutzer?q={world['officer'].name}").get_data(as_text=True)
    assert world["officer"].email in page and world["admin"].email not in page
    assert "noch nie" in page  # the officer never signed in
    assert client.get("/admin/benutzer?q=%25%5F&seite=99999999999&status=x&ags=abc").status_code == 200
    assert "0 Konten" in client.get("/admin/benutzer?q=niemand-heisst-so").get_data(as_text=True)


def test_deactivate_needs_confirmation_ends_sessions_and_is_audited(client, auth, session, world):
    """GET names what will happen and changes nothing; POST deactivates; the person's session ends."""
    officer = world["officer"]
    other = type(client)(client.application, client.response_wrapper)  # the officer's own browser
    assert other.post("/anmelden", data={"email": officer.email, "password": f.PASSWORD}).status_code == 302
    auth.login(world["admin"].email)
    page = client.get(f"/admin/benutzer/{officer.id}/deaktivieren")
    assert page.status_code == 200 and "kann sich danach nicht mehr anmelden" in page.get_data(as_text=True)
    session.expire_all()
    assert officer.active
    assert client.post(f"/admin/benutzer/{officer.id}/deaktivieren", data={"comment": "Ausgeschieden"}).status_code == 302
    session.expire_all()
    assert not officer.active
    assert "Abmelden" not in other.get("/").get_data(as_text=True)
    [event] = _actions(session, "user.deactivated")
    assert event.actor_id == world["admin"].id and event.comment == "Ausgeschieden"
    assert client.post(f"/admin/benutzer/{officer.id}/aktivieren").status_code == 302
    session.expire_all()
    assert officer.active and _actions(session, "user.reactivated")


def test_an_admin_cannot_lock_themselves_out(client, auth, session, world):
    """Own deactivation and own role change are refused."""
    me = world["admin"]
    auth.login(me.email)
    client.post(f"/admin/benutzer/{me.id}/deaktivieren")
    resp = client.post(f"/admin/benutzer/{me.id}", data={"role": "officer", "ags": f.FREIBURG})
    assert resp.status_code == 422 and 'id="role-error"' in resp.get_data(as_text=True)
    session.expire_all()
    assert me.active and me.role == "admin"


def test_change_role_and_networks(client, auth, session, world):
    """An officer becomes coordinator of a network; a coordinator without network is a field error."""
    officer = world["officer"]
    auth.login(world["admin"].email)
    resp = client.post(f"/admin/benutzer/{officer.id}", data={"role": "coordinator", "ags": f.FREIBURG})
    assert resp.status_code == 422 and 'id="network_ids-error"' in resp.get_data(as_text=True)
    resp = client.post(f"/admin/benutzer/{officer.id}", data={"role": "coordinator", "ags": f.FREIBURG,
                                                             "network_ids": [str(world["net"].id)]})
    assert resp.status_code == 302
    session.expire_all()
    assert officer.role == "coordinator" and officer.coordinated_network_ids == {world["net"].id}
    [event] = _actions(session, "user.role_changed")
    assert event.details["before"]["role"] == "officer" and event.details["after"]["networks"] == [world["net"].id]
    resp = client.post(f"/admin/benutzer/{officer.id}", data={"role": "officer", "ags": "99999999"})
    assert resp.status_code == 422 and 'id="ags-error"' in resp.get_data(as_text=True)
    assert client.post(f"/admin/benutzer/{officer.id}", data={"role": "officer", "ags": f.FREIBURG}).status_code == 302
    session.expire_all()
    assert officer.coordinated_network_ids == set()


def test_network_edit_warns_on_a_duplicate_name(client, auth, session, world):
    """A name another network has (case and spaces aside) needs a second, explicit save."""
    other = f.network(session, "zweites-netz")
    auth.login(world["admin"].email)
    resp = client.post("/admin/netzwerke/zweites-netz", data={"name": "netzwerk  ANDI-ADMIN", "description": ""})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "gibt es schon" in text and 'name="trotzdem"' in text
    session.expire_all()
    assert other.name == "Netzwerk zweites-netz"
    resp = client.post("/admin/netzwerke/zweites-netz", data={"name": "netzwerk  ANDI-ADMIN", "trotzdem": "ja"})
    assert resp.status_code == 302
    session.expire_all()
    assert other.name == "netzwerk  ANDI-ADMIN" and _actions(session, "network.edited")
    bad = client.post("/admin/netzwerke/zweites-netz", data={"name": "ab", "website": "javascript:alert(1)"})
    assert bad.status_code == 422 and 'id="website-error"' in bad.get_data(as_text=True)


def test_network_create_warns_on_a_duplicate_name(client, auth, session, world):
    """The create form of /netzwerke warns too."""
    auth.login(world["admin"].email)
    resp = client.post("/netzwerke", data={"name": "Netzwerk andi-admin"})
    assert resp.status_code == 422 and "gibt es schon" in resp.get_data(as_text=True)
    assert client.post("/netzwerke", data={"name": "Netzwerk andi-admin", "trotzdem": "ja"}).status_code == 302
    assert session.scalar(select(func.count(Network.id)).where(Network.name == "Netzwerk andi-admin")) == 2


def test_archive_is_confirmed_and_stops_new_members(client, auth, session, world):
    """Archiving has a confirmation page; an archived network leaves the overview and takes no requests."""
    net = world["net"]
    auth.login(world["admin"].email)
    page = client.get("/admin/netzwerke/andi-admin/archivieren").get_data(as_text=True)
    assert "2 Mitglieder" in page and 'class="button button-danger"' in page
    session.expire_all()
    assert net.archived_at is None
    assert client.post("/admin/netzwerke/andi-admin/archivieren").status_code == 302
    session.expire_all()
    assert net.archived_at is not None and _actions(session, "network.archived")
    assert 'href="/netzwerke/andi-admin"' not in client.get("/netzwerke").get_data(as_text=True)
    lemgo = f.user(session, "officer", f.LEMGO)
    with pytest.raises(Exception, match="archiviert"):
        networks.request_join(session, lemgo, net)
    session.rollback()
    assert client.post("/admin/netzwerke/andi-admin/reaktivieren").status_code == 302
    session.expire_all()
    assert net.archived_at is None


def test_only_an_empty_network_is_deleted_after_confirmation(client, auth, session, world):
    """A network with members is refused; an empty one goes with its coordinators, audited."""
    auth.login(world["admin"].email)
    assert client.get("/admin/netzwerke/andi-admin/loeschen").status_code == 302  # has members: back
    assert client.post("/admin/netzwerke/andi-admin/loeschen").status_code == 302
    assert session.scalar(select(Network.id).where(Network.slug == "andi-admin")) is not None
    empty = f.network(session, "testnetz-leer")
    networks.appoint_coordinator(session, world["admin"], empty, world["coord"].email)
    session.commit()
    page = client.get("/admin/netzwerke/testnetz-leer/loeschen").get_data(as_text=True)
    assert "endgültig" in page and "1 Koordinationszuordnungen" in page
    assert session.scalar(select(Network.id).where(Network.slug == "testnetz-leer")) is not None
    assert client.post("/admin/netzwerke/testnetz-leer/loeschen").status_code == 302
    session.expire_all()
    assert session.scalar(select(Network.id).where(Network.slug == "testnetz-leer")) is None
    assert session.scalar(select(func.count(NetworkCoordinator.id)).where(
        NetworkCoordinator.user_id == world["coord"].id)) == 1  # the other network's
    [event] = _actions(session, "network.deleted")
    assert event.details["name"] == "Netzwerk testnetz-leer"


def test_municipality_contact_website_and_officers(client, auth, session, world):
    """Admins edit contact and website (validated) and see who acts for the municipality."""
    auth.login(world["admin"].email)
    page = client.get(f"/admin/kommunen/{f.FREIBURG}").get_data(as_text=True)
    assert world["officer"].name in page
    bad = client.post(f"/admin/kommunen/{f.FREIBURG}", data={"website": "freiburg", "contact_email": "x"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="website-error"' in text and 'id="contact_email-error"' in text
    ok = client.post(f"/admin/kommunen/{f.FREIBURG}", data={"website": "https://www.freiburg.de",
                                                           "contact_email": "Digital@Freiburg.de"})
    assert ok.status_code == 302
    org = f.org(session, f.FREIBURG)
    session.expire_all()
    assert org.website == "https://www.freiburg.de" and org.contact_email == "digital@freiburg.de"
    [event] = _actions(session, "organisation.edited")
    assert event.organisation_id == org.id
    assert "Freiburg" in client.get("/admin/kommunen?q=Freiburg").get_data(as_text=True)


def test_reference_data_shows_versions_and_counts(client, auth, world):
    """Each shipped data set with its version, its rows and what is loaded."""
    auth.login(world["admin"].email)
    page = client.get("/admin/referenzdaten").get_data(as_text=True)
    assert "Gebietsstand 30.11.2023" in page and "OZG-Leistungen" in page and "LeiKa-Leistungen" in page


def test_audit_log_filters_and_bounds_the_page_size(client, auth, session, world):
    """Filter by actor, municipality, action and time; the page size is capped; bad dates are field errors."""
    admin_user = world["admin"]
    for i in range(3):
        admin.set_active(session, admin_user, world["officer"], i % 2 == 1)
    admin.edit_organisation(session, admin_user, f.org(session, f.MANNHEIM), "https://www.mannheim.de", "")
    session.commit()
    auth.login(admin_user.email)

    def rows(query: str) -> int:
        resp = client.get("/admin/protokoll?" + query)
        assert resp.status_code == 200, query
        text = resp.get_data(as_text=True)
        return text.count("<tr>") - text.count("<thead>")  # body rows only

    assert rows("aktion=user.deactivated") == 2
    assert rows("aktion=user.") == 3
    assert rows(f"akteur={admin_user.email}&kommune={f.MANNHEIM}") == 1
    assert rows(f"akteur={world['coord'].email}") == 0
    assert rows("von=2000-01-01&bis=2000-01-02") == 0
    assert rows("von=2000-01-01&pro_seite=2") == 2
    assert rows("pro_seite=100000&seite=-5") >= 4
    found = admin.audit_log(session, admin_user, admin.AuditQuery(size=100000))
    assert found.page.size == admin.MAX_PAGE_SIZE
    bad = client.get("/admin/protokoll?von=gestern&bis=2000-01-01")
    assert bad.status_code == 422 and 'id="von-error"' in bad.get_data(as_text=True)


def test_services_refuse_non_admins(session, world):
    """The services check the permission table, whatever the edge does."""
    from marktplatz.services.errors import Forbidden

    officer = world["officer"]
    for call in (lambda: admin.search_users(session, officer, admin.UserQuery()),
                 lambda: admin.set_active(session, officer, world["coord"], False),
                 lambda: admin.delete_network(session, officer, world["net"]),
                 lambda: admin.reference_sets(session, officer),
                 lambda: admin.audit_log(session, officer, admin.AuditQuery())):
        with pytest.raises(Forbidden):
            call()
    session.rollback()
    assert session.scalar(select(User.active).where(User.id == world["coord"].id))
    assert accounts  # imported for the factories' sake
