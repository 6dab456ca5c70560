"""Zugang beantragen: request, confirm by link, decide (approve → set password, refuse with reason)."""

from __future__ import annotations

import email
import os
import re

import pytest
from sqlalchemy import func, select

from marktplatz.models import AccessRequest, AuditEvent, Notification, User
from marktplatz.services import access_requests, signed_links

from . import factories as f

PASSWORD = "eigenes-passwort-2026"


def _mails(app) -> list[email.message.Message]:
    folder = app.config["MAIL_DIR"]
    out = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        with open(os.path.join(folder, name), "rb") as fh:
            out.append(email.message_from_bytes(fh.read()))
    return out


def _body(mail) -> str:
    return mail.get_payload(decode=True).decode("utf-8")


def _to(app, address: str) -> list[email.message.Message]:
    """Return the mails to address (file names order them only to the second)."""
    return [m for m in _mails(app) if address in m["To"]]


def _path(app, address: str, prefix: str) -> str:
    """Return the one link with prefix in the mails to address."""
    found = {m.group(1) for mail in _to(app, address)
             for m in re.finditer(rf"https?://[^/\s]+({prefix}\S+)", _body(mail))}
    assert len(found) == 1, found
    return found.pop()


def _request(client, follow_redirects=False, **overrides):
    data = {"kommune": f.FREIBURG, "name": "Frieda Antrag", "email": "frieda@freiburg.de", "role": "officer",
            "message": "Ich leite das Digitalisierungsteam."}
    data.update(overrides)
    return client.post("/zugang-beantragen", data=data, follow_redirects=follow_redirects)


@pytest.fixture
def world(session):
    net = f.network(session, "andi-test", f.FREIBURG, f.MANNHEIM)
    other = f.network(session, "lippe-test", f.LEMGO)
    coord = f.user(session, "coordinator", f.MANNHEIM, [net])
    foreign = f.user(session, "coordinator", f.LEMGO, [other])
    admin = f.user(session, "admin", ags=None)
    f.org(session, f.FREIBURG).website = "https://www.freiburg.de"
    session.commit()
    return {"net": net, "coord": coord, "foreign": foreign, "admin": admin}


def _confirmed(client, app) -> AccessRequest:
    assert _request(client).status_code == 302
    path = _path(app, "frieda@freiburg.de", "/zugang-beantragen/bestaetigen/")
    assert client.post(path).status_code == 302
    return path


def test_login_page_links_to_the_request_form(client):
    """The login page offers "Zugang beantragen"."""
    assert 'href="/zugang-beantragen"' in client.get("/anmelden").get_data(as_text=True)


def test_request_confirm_approve_set_password_and_sign_in(client, auth, session, app, world):
    """The whole path: the request reaches coordinator and admin only after confirmation; approval
    creates the account, whose owner chooses a password by link and signs in."""
    assert _request(client).status_code == 302
    [mail] = _mails(app)
    assert mail["To"] == "frieda@freiburg.de" and "Freiburg" in _body(mail)
    assert "/zugang-beantragen/bestaetigen/" in _body(mail)
    req = session.scalar(select(AccessRequest))
    assert req.status == "unconfirmed"
    assert session.scalar(select(func.count(Notification.id))) == 0  # nobody is bothered before confirmation
    path = _path(app, "frieda@freiburg.de", "/zugang-beantragen/bestaetigen/")
    assert "Adresse bestätigen" in client.get(path).get_data(as_text=True)
    assert session.scalar(select(AccessRequest.status)) == "unconfirmed"  # opening the link confirms nothing
    assert client.post(path).status_code == 302
    session.expire_all()
    assert req.status == "pending"
    told = set(session.scalars(select(Notification.user_id).where(Notification.kind == "access_request")))
    assert told == {world["coord"].id, world["admin"].id}  # not the coordinator of another network
    [decider_mail] = _to(app, world["admin"].email)
    assert world["coord"].email in decider_mail["To"] and world["foreign"].email not in decider_mail["To"]
    assert f"/zugangsantraege/{req.id}" in _body(decider_mail)
    assert client.post(path).status_code == 400  # the link is used up

    auth.login(world["coord"].email)
    queue = client.get("/pruefung").get_data(as_text=True)  # the coordinator's way in: the review page
    assert 'href="/zugangsantraege">Zugangsanträge (1 wartet auf Ihre Entscheidung)' in queue
    page = client.get(f"/zugangsantraege/{req.id}").get_data(as_text=True)
    assert "Ja: freiburg.de gehört zur Website freiburg.de" in page
    assert client.post(f"/zugangsantraege/{req.id}/annehmen").status_code == 302
    auth.logout()
    account = session.scalar(select(User).where(User.email == "frieda@freiburg.de"))
    assert account.role == "officer" and account.organisation.ags == f.FREIBURG
    assert session.scalar(select(func.count(Notification.id)).where(
        Notification.kind == "access_request", Notification.read_at.is_(None))) == 0  # resolved for all
    set_path = _path(app, "frieda@freiburg.de", "/konto-einrichten/")
    resp = client.post(set_path, data={"new_password": PASSWORD, "repeat_password": PASSWORD})
    assert resp.status_code == 302
    assert auth.login("frieda@freiburg.de", PASSWORD).status_code == 302
    assert client.post(set_path, data={"new_password": PASSWORD + "x", "repeat_password": PASSWORD + "x"}
                       ).status_code == 400  # single use
    actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("access_request.%"))))
    assert actions == {"access_request.submitted", "access_request.confirmed", "access_request.approved"}


def test_refusal_needs_a_confirmation_page_and_sends_the_reason(client, auth, session, app, world):
    """GET shows what will happen; the POST without a reason is a field error; the reason is mailed."""
    _confirmed(client, app)
    req = session.scalar(select(AccessRequest))
    auth.login(world["admin"].email)
    page = client.get(f"/zugangsantraege/{req.id}/ablehnen").get_data(as_text=True)
    assert "Frieda Antrag" in page and "Es entsteht kein Konto" in page
    resp = client.post(f"/zugangsantraege/{req.id}/ablehnen", data={"reason": ""})
    assert resp.status_code == 422 and 'id="reason-error"' in resp.get_data(as_text=True)
    reason = "Bitte über die Kreisverwaltung beantragen."
    assert client.post(f"/zugangsantraege/{req.id}/ablehnen", data={"reason": reason}).status_code == 302
    assert any(reason in _body(m) for m in _to(app, "frieda@freiburg.de"))
    session.expire_all()
    assert req.status == "refused"
    assert session.scalar(select(User.id).where(User.email == "frieda@freiburg.de")) is None
    assert client.post(f"/zugangsantraege/{req.id}/annehmen").status_code == 302  # decided: refused, flashed
    assert session.scalar(select(User.id).where(User.email == "frieda@freiburg.de")) is None


def test_known_address_gets_the_same_answer_and_no_request(client, session, app, world):
    """No enumeration: the page answers alike; the mail points to "Passwort vergessen?"."""
    known = world["coord"].email
    first = _request(client, email="neu@freiburg.de", follow_redirects=True)
    second = _request(client, email=known, follow_redirects=True)
    assert first.status_code == second.status_code == 200
    assert first.request.path == second.request.path == "/anmelden"
    said = re.compile(r"Danke! Wir haben an (\S+) eine E-Mail geschickt[^<]*")
    assert said.search(first.get_data(as_text=True)).group(0).replace("neu@freiburg.de", known) == \
        said.search(second.get_data(as_text=True)).group(0)
    assert session.scalar(select(func.count(AccessRequest.id))) == 1
    [mail] = _to(app, known)
    assert "schon ein Konto" in _body(mail) and "/passwort-vergessen" in _body(mail)


def test_municipality_search_by_name_offers_a_choice_without_javascript(client, session):
    """An ambiguous name lists candidates as radio buttons; picking one completes the request."""
    resp = _request(client, kommune="Frei")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="kommune-error"' in text and 'name="ags" value="08311000"' in text
    assert 'value="frieda@freiburg.de"' in text  # what was typed stays
    assert _request(client, kommune="Frei", ags=f.FREIBURG).status_code == 302
    assert session.scalar(select(AccessRequest.organisation_id)) == f.org(session, f.FREIBURG).id
    none = _request(client, kommune="Gibtsnichthausen")
    assert none.status_code == 422 and "Keine Kommune gefunden" in none.get_data(as_text=True)


@pytest.mark.parametrize("field,value", [("name", ""), ("email", "keine-adresse"), ("role", "admin"),
                                         ("message", "x" * 2001), ("email", "x" * 300)])
def test_bad_input_is_a_field_error(client, session, field, value):
    """Every field validates and shows its error next to it; no input reaches a 500."""
    resp = _request(client, **{field: value})
    assert resp.status_code == 422
    assert session.scalar(select(func.count(AccessRequest.id))) == 0


def test_a_nul_character_is_refused_not_a_500(client, session):
    """Control characters are refused before they reach the database (the app's input filter)."""
    assert _request(client, name="a\x00b").status_code in (400, 422)
    assert session.scalar(select(func.count(AccessRequest.id))) == 0


def test_the_public_form_is_rate_limited(client):
    """Like the feedback form: more than ten posts a minute from one client are refused."""
    codes = [_request(client, email=f"p{i}@freiburg.de").status_code for i in range(11)]
    assert codes[:10] == [302] * 10 and codes[10] == 429


def test_only_deciders_see_and_decide_a_request(client, auth, session, app, world):
    """A coordinator of another network and an officer get a 404/403; nothing changes."""
    _confirmed(client, app)
    req = session.scalar(select(AccessRequest))
    officer = f.user(session, "officer", f.FREIBURG)
    for who in (world["foreign"], officer):
        auth.login(who.email)
        assert client.get(f"/zugangsantraege/{req.id}").status_code == 404
        assert client.post(f"/zugangsantraege/{req.id}/annehmen").status_code == 404
        auth.logout()
    assert client.get("/zugangsantraege").status_code == 302  # anonymous: to the login
    auth.login(officer.email)
    assert client.get("/zugangsantraege").status_code == 403
    session.expire_all()
    assert req.status == "pending"


def test_a_coordinator_role_is_granted_only_by_an_admin_with_networks(client, auth, session, app, world):
    """The coordinator may not approve a coordinator request; the admin must choose networks."""
    _request(client, role="coordinator")
    client.post(_path(app, "frieda@freiburg.de", "/zugang-beantragen/bestaetigen/"))
    req = session.scalar(select(AccessRequest))
    auth.login(world["coord"].email)
    assert client.post(f"/zugangsantraege/{req.id}/annehmen").status_code == 403
    auth.logout()
    auth.login(world["admin"].email)
    missing = client.post(f"/zugangsantraege/{req.id}/annehmen")
    assert missing.status_code == 422 and 'id="network_ids-error"' in missing.get_data(as_text=True)
    assert client.post(f"/zugangsantraege/{req.id}/annehmen",
                       data={"network_ids": [str(world["net"].id)]}).status_code == 302
    account = session.scalar(select(User).where(User.email == "frieda@freiburg.de"))
    assert account.role == "coordinator" and account.coordinated_network_ids == {world["net"].id}


def test_domain_check(session):
    """The address's domain is compared with the host of the known website."""
    org = f.org(session, f.FREIBURG)
    org.website = "https://www.freiburg.de/rathaus"
    def check(address):
        return access_requests.domain_check(AccessRequest(email=address, organisation=org)).status
    assert check("a@freiburg.de") == "match" and check("a@stadt.freiburg.de") == "match"
    assert check("a@gmail.com") == "mismatch" and check("a@notfreiburg.de") == "mismatch"
    org.website = None
    assert check("a@freiburg.de") == "unknown"


def test_expired_or_forged_confirmation_link_is_refused(client, session, app, world):
    """An old or forged link confirms nothing."""
    _request(client)
    req = session.scalar(select(AccessRequest))
    forged = signed_links.sign({"SECRET_KEY": "fremd"}, "access-confirm", {"r": req.id, "e": req.email})
    assert client.post(f"/zugang-beantragen/bestaetigen/{forged}").status_code == 400
    app.config["ACCESS_CONFIRM_SECONDS"] = -1
    token = signed_links.sign(app.config, "access-confirm", {"r": req.id, "e": req.email})
    resp = client.post(f"/zugang-beantragen/bestaetigen/{token}")
    assert resp.status_code == 400 and "abgelaufen" in resp.get_data(as_text=True)
    session.expire_all()
    assert req.status == "unconfirmed"


def test_a_reset_link_is_no_set_password_link_and_back(client, session, app, world):
    """The two password links are signed for their own purpose: neither opens the other's page."""
    from marktplatz.services import accounts

    user = world["coord"]
    reset = accounts.password_link_token(app.config, user, "password-reset")
    first = accounts.password_link_token(app.config, user, "set-password")
    assert client.get(f"/konto-einrichten/{reset}").status_code == 400
    assert client.get(f"/passwort-zuruecksetzen/{first}").status_code == 400
    assert client.get(f"/konto-einrichten/{first}").status_code == 200


def test_asking_twice_before_confirming_keeps_one_request(client, session, app, world):
    """A repeated request for the same address and municipality updates the open one."""
    assert _request(client).status_code == 302
    assert _request(client, name="Frieda Zweitantrag").status_code == 302
    [req] = session.scalars(select(AccessRequest))
    assert req.name == "Frieda Zweitantrag" and req.status == "unconfirmed"


def test_the_worker_forgets_requests_whose_confirmation_link_expired(client, session, app, world):
    """An unconfirmed request older than its link is deleted by the worker's round (name and
    address are not kept); a fresh one and a confirmed one stay."""
    from datetime import timedelta

    from marktplatz.cli.worker import run_once
    from marktplatz.models.base import utcnow

    _confirmed(client, app)  # Frieda's: pending
    _request(client, email="jana@freiburg.de", name="Jana Muster")  # unconfirmed, fresh
    _request(client, email="otto@freiburg.de", name="Otto Muster")  # unconfirmed, its link expired
    by_mail = {r.email: r for r in session.scalars(select(AccessRequest))}
    by_mail["otto@freiburg.de"].created_at = utcnow() - timedelta(seconds=app.config["ACCESS_CONFIRM_SECONDS"] + 60)
    session.commit()
    assert run_once()["access_requests_purged"] == 1
    session.expire_all()
    left = {r.email: r.status for r in session.scalars(select(AccessRequest))}
    assert left == {"frieda@freiburg.de": "pending", "jana@freiburg.de": "unconfirmed"}
