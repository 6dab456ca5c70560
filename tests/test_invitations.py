"""Invitations: who may invite whom, and the signed, single-use, expiring link that creates the account."""

from __future__ import annotations

import email
import os
import re

import pytest
from sqlalchemy import func, select

from marktplatz.models import AuditEvent, User
from marktplatz.services import invitations, signed_links
from marktplatz.services.errors import Forbidden

from . import factories as f

PASSWORD = "eigenes-passwort-2026"


def _mails(app) -> list[email.message.Message]:
    folder = app.config["MAIL_DIR"]
    out = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        with open(os.path.join(folder, name), "rb") as fh:
            out.append(email.message_from_bytes(fh.read()))
    return out


def _link(mail) -> str:
    body = mail.get_payload(decode=True).decode("utf-8")
    found = re.search(r"https?://\S+(/einladung/\S+)", body)
    assert found, body
    return found.group(1)


def _account(session, address):
    session.expire_all()
    return session.scalar(select(User).where(func.lower(User.email) == address))


def _accept(client, path, password=PASSWORD, repeat=None, name="Neue Kollegin"):
    return client.post(path, data={"name": name, "new_password": password,
                                   "repeat_password": password if repeat is None else repeat})


def test_officer_invites_a_colleague_who_accepts(client, auth, session, app):
    """Invite → e-mail → accept: the account exists with the officer's municipality and is signed in."""
    officer = f.user(session, "officer", f.FREIBURG)
    auth.login(officer.email)
    form = client.get("/konto/einladen").get_data(as_text=True)
    assert "Freiburg" in form and 'name="role" value="officer"' in form
    resp = client.post("/konto/einladen", data={"email": "Kollegin@Freiburg.example", "name": "Kira Kollegin",
                                                "role": "officer", "ags": f.FREIBURG})
    assert resp.status_code == 302
    auth.logout()
    [mail] = _mails(app)
    assert mail["To"] == "kollegin@freiburg.example"
    assert officer.name in mail.get_payload(decode=True).decode("utf-8")
    assert _account(session, "kollegin@freiburg.example") is None  # not before acceptance
    path = _link(mail)
    page = client.get(path)
    assert page.status_code == 200 and "Digitalbeauftragte/r" in page.get_data(as_text=True)
    resp = _accept(client, path)
    assert resp.status_code == 302
    assert "Konto (Neue Kollegin)" in client.get("/").get_data(as_text=True)
    user = _account(session, "kollegin@freiburg.example")
    assert user.role == "officer" and user.organisation.ags == f.FREIBURG
    actions = [a for a, in session.execute(select(AuditEvent.action).where(AuditEvent.action.like("user.%")))]
    assert "user.invite" in actions and "user.accept_invitation" in actions


def test_link_is_single_use(client, auth, session, app):
    """A second acceptance of the same link is refused; the account keeps the first password."""
    officer = f.user(session)
    auth.login(officer.email)
    client.post("/konto/einladen", data={"email": "neu@example.org", "name": "Neu", "ags": f.FREIBURG})
    auth.logout()
    path = _link(_mails(app)[0])
    assert _accept(client, path).status_code == 302
    auth.logout()
    again = _accept(client, path, "ganz-anderes-passwort-5")
    assert again.status_code == 400 and "schon angenommen" in again.get_data(as_text=True)
    assert auth.login("neu@example.org", PASSWORD).status_code == 302


def test_expired_link_is_refused(client, session, app):
    """A link older than INVITATION_SECONDS creates nothing."""
    inviter = f.user(session)
    token = signed_links.sign(app.config, "invitation", {"e": "spaet@example.org", "n": "Spät", "r": "officer",
                                                         "o": inviter.organisation_id, "w": [], "i": inviter.id})
    app.config["INVITATION_SECONDS"] = -1
    resp = _accept(client, f"/einladung/{token}")
    assert resp.status_code == 400 and "abgelaufen" in resp.get_data(as_text=True)
    assert _account(session, "spaet@example.org") is None


def test_tampered_link_is_refused(client, session, app):
    """Changing the role inside a token breaks its signature; a reset token is no invitation."""
    inviter = f.user(session)
    payload = {"e": "x@example.org", "n": "X", "r": "officer", "o": inviter.organisation_id, "w": [], "i": inviter.id}
    token = signed_links.sign(app.config, "invitation", payload)
    body, sig = token.split(".", 1)
    forged = signed_links.sign({"SECRET_KEY": "fremd"}, "invitation", {**payload, "r": "admin"})
    reset = signed_links.sign(app.config, "password-reset", payload)
    for bad in (forged, reset, body + ".AAAA" + sig[4:], "nicht-signiert"):
        assert client.get(f"/einladung/{bad}").status_code == 400, bad
    assert client.get(f"/einladung/{token}").status_code == 200


def test_invitation_dies_with_the_inviters_right(client, session, app):
    """A link from an inviter who was deactivated since no longer works."""
    inviter = f.user(session)
    token = signed_links.sign(app.config, "invitation", {"e": "y@example.org", "n": "Y", "r": "officer",
                                                         "o": inviter.organisation_id, "w": [], "i": inviter.id})
    inviter.active = False
    session.commit()
    resp = client.get(f"/einladung/{token}")
    assert resp.status_code == 400 and "gilt nicht mehr" in resp.get_data(as_text=True)


def test_officer_may_not_invite_for_another_municipality_or_role(session, app):
    """An officer invites only officers of their own municipality."""
    officer = f.user(session, "officer", f.FREIBURG)
    link = lambda t: t  # noqa: E731
    with pytest.raises(Forbidden):
        invitations.invite(session, app.config, officer, {"email": "a@example.org", "name": "A", "ags": f.MANNHEIM},
                           link)
    with pytest.raises(Forbidden):
        invitations.invite(session, app.config, officer, {"email": "a@example.org", "name": "A", "role": "admin"},
                           link)
    assert _mails(app) == []


def test_coordinator_invites_an_officer_of_a_member_municipality(client, auth, session, app):
    """A coordinator may pick the members of their networks, and only those."""
    net = f.network(session, "einladenetz", f.MANNHEIM, f.KARLSRUHE)
    coord = f.user(session, "coordinator", ags=None, networks=[net])
    auth.login(coord.email)
    form = client.get("/konto/einladen").get_data(as_text=True)
    assert f'value="{f.MANNHEIM}"' in form and f'value="{f.KARLSRUHE}"' in form and f'value="{f.FREIBURG}"' not in form
    refused = client.post("/konto/einladen", data={"email": "b@example.org", "name": "B", "ags": f.FREIBURG})
    assert refused.status_code == 403
    ok = client.post("/konto/einladen", data={"email": "b@example.org", "name": "B", "ags": f.KARLSRUHE})
    assert ok.status_code == 302
    coordinator_role = client.post("/konto/einladen", data={"email": "c@example.org", "name": "C",
                                                            "role": "coordinator", "network_ids": [net.id]})
    assert coordinator_role.status_code == 403
    assert [m["To"] for m in _mails(app)] == ["b@example.org"]


def test_admin_invites_a_coordinator_with_networks(client, auth, session, app):
    """An admin invites any role; a coordinator's account comes with the chosen networks."""
    net = f.network(session, "adminnetz", f.LEMGO)
    admin = f.user(session, "admin", ags=None)
    auth.login(admin.email)
    missing = client.post("/konto/einladen", data={"email": "k@example.org", "name": "K", "role": "coordinator"})
    assert missing.status_code == 422 and 'id="network_ids-error"' in missing.get_data(as_text=True)
    resp = client.post("/konto/einladen", data={"email": "k@example.org", "name": "Koordination Lemgo",
                                                "role": "coordinator", "network_ids": [str(net.id)]})
    assert resp.status_code == 302
    auth.logout()
    assert _accept(client, _link(_mails(app)[0]), name="Koordination Lemgo").status_code == 302
    user = _account(session, "k@example.org")
    assert user.role == "coordinator" and user.coordinated_network_ids == {net.id}


def test_users_who_may_not_invite_get_403(client, auth, session):
    """A coordinator of a network without members, and anonymous visitors, cannot invite."""
    empty = f.network(session, "leeresnetz")
    coord = f.user(session, "coordinator", ags=None, networks=[empty])
    assert client.get("/konto/einladen").status_code == 302
    auth.login(coord.email)
    assert client.get("/konto/einladen").status_code == 403


@pytest.mark.parametrize("data,field", [
    ({"email": "kein-at", "name": "A"}, "email"),
    ({"email": "a@example.org", "name": ""}, "name"),
    ({"email": "a@example.org", "name": "A", "role": "kaiser"}, "role"),
])
def test_invite_form_errors_are_at_the_field(client, auth, session, app, data, field):
    """Invalid input answers 422 with the message next to the field and sends nothing."""
    officer = f.user(session)
    auth.login(officer.email)
    resp = client.post("/konto/einladen", data={"ags": f.FREIBURG, **data})
    assert resp.status_code == 422 and f'id="{field}-error"' in resp.get_data(as_text=True)
    assert _mails(app) == []


def test_existing_address_is_named(client, auth, session, app):
    """Inviting an address that has an account says so at the field."""
    officer = f.user(session)
    other = f.user(session)
    auth.login(officer.email)
    resp = client.post("/konto/einladen", data={"email": other.email, "name": "X", "ags": f.FREIBURG})
    assert resp.status_code == 422 and "schon ein Konto" in resp.get_data(as_text=True)


@pytest.mark.parametrize("password,repeat,field", [
    ("kurz", None, "new_password"),
    (PASSWORD, "nicht-dasselbe-12", "repeat_password"),
])
def test_accept_applies_the_password_rules(client, auth, session, app, password, repeat, field):
    """The password rules hold on acceptance; the link stays usable after an error."""
    officer = f.user(session)
    auth.login(officer.email)
    client.post("/konto/einladen", data={"email": "regel@example.org", "name": "R", "ags": f.FREIBURG})
    auth.logout()
    path = _link(_mails(app)[0])
    resp = _accept(client, path, password, repeat)
    assert resp.status_code == 422 and f'id="{field}-error"' in resp.get_data(as_text=True)
    assert _account(session, "regel@example.org") is None
    assert _accept(client, path).status_code == 302


def test_mail_server_down_sends_and_records_nothing(client, auth, session, app):
    """When the mail cannot go out, the inviter is told at the form and no audit event is kept."""
    officer = f.user(session)
    auth.login(officer.email)
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=9)
    resp = client.post("/konto/einladen", data={"email": "z@example.org", "name": "Z", "ags": f.FREIBURG})
    assert resp.status_code == 422 and "nicht per E-Mail verschickt" in resp.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == "user.invite")) is None
