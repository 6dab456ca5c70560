"""Password reset: "Passwort vergessen?" sends a signed, single-use, expiring link."""

from __future__ import annotations

import email
import os
import re

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash

from marktplatz.models import AuditEvent
from marktplatz.services import accounts, signed_links

from . import factories as f

NEW = "neues-sicheres-passwort-7"


def _mails(app) -> list[email.message.Message]:
    folder = app.config["MAIL_DIR"]
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    out = []
    for name in names:
        with open(os.path.join(folder, name), "rb") as fh:
            out.append(email.message_from_bytes(fh.read()))
    return out


def _link(mail) -> str:
    body = mail.get_payload(decode=True).decode("utf-8")
    found = re.search(r"https?://\S+/passwort-zuruecksetzen/(\S+)", body)
    assert found, body
    return "/passwort-zuruecksetzen/" + found.group(1)


def _reset(client, path, password=NEW, repeat=None):
    return client.post(path, data={"new_password": password, "repeat_password": password if repeat is None else repeat})


def test_login_page_links_to_forgot_password(client):
    """The login page offers "Passwort vergessen?"."""
    assert 'href="/passwort-vergessen"' in client.get("/anmelden").get_data(as_text=True)


def test_same_answer_whether_or_not_the_address_exists(client, session, app):
    """Known and unknown addresses get the same redirect and message; only the known one gets mail."""
    user = f.user(session)
    answers = []
    for address in (user.email, "niemand@example.org"):
        resp = client.post("/passwort-vergessen", data={"email": address}, follow_redirects=True)
        html = resp.get_data(as_text=True).replace(address, "ADRESSE")
        answers.append((resp.status_code, re.search(r'<p class="alert alert-info">(.*?)</p>', html).group(1)))
    assert answers[0] == answers[1] and answers[0][0] == 200
    [mail] = _mails(app)
    assert mail["To"] == user.email and "60 Minuten" in mail.get_payload(decode=True).decode("utf-8")


def test_reset_sets_the_password_and_ends_other_sessions(client, auth, session, app):
    """The link sets a new password, ends every session, and the new password signs in."""
    user = f.user(session)
    app.test_client_class = type(client)
    other = app.test_client()
    other.post("/anmelden", data={"email": user.email, "password": f.PASSWORD})
    assert 'action="/abmelden"' in other.get("/").get_data(as_text=True)
    client.post("/passwort-vergessen", data={"email": user.email})
    path = _link(_mails(app)[0])
    page = client.get(path)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert user.email in page.get_data(as_text=True)
    resp = _reset(client, path)
    assert resp.status_code == 302 and "/anmelden" in resp.headers["Location"]
    assert 'action="/abmelden"' not in other.get("/").get_data(as_text=True)
    session.expire_all()
    assert check_password_hash(user.password_hash, NEW)
    assert auth.login(user.email, f.PASSWORD).status_code == 422
    assert auth.login(user.email, NEW).status_code == 302
    actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "user")))
    assert {"user.password_reset_requested", "user.password_reset"} <= actions


def test_link_works_only_once(client, session, app):
    """A used link is refused, even for a second different password."""
    user = f.user(session)
    client.post("/passwort-vergessen", data={"email": user.email})
    path = _link(_mails(app)[0])
    assert _reset(client, path).status_code == 302
    again = _reset(client, path, "noch-ein-anderes-passwort-9")
    assert again.status_code == 400 and "schon benutzt" in again.get_data(as_text=True)
    session.expire_all()
    assert check_password_hash(user.password_hash, NEW)


def test_password_change_voids_an_older_link(client, auth, session, app):
    """A link requested before the password was changed no longer works."""
    user = f.user(session)
    client.post("/passwort-vergessen", data={"email": user.email})
    path = _link(_mails(app)[0])
    accounts.change_password(session, user, f.PASSWORD, "zwischendurch-geaendert-3", "zwischendurch-geaendert-3")
    session.commit()
    assert client.get(path).status_code == 400


def test_expired_link_is_refused(client, session, app):
    """A link older than PASSWORD_RESET_SECONDS is refused with a message saying so."""
    user = f.user(session)
    client.post("/passwort-vergessen", data={"email": user.email})
    path = _link(_mails(app)[0])
    app.config["PASSWORD_RESET_SECONDS"] = -1  # every token is now older than allowed
    resp = client.get(path)
    assert resp.status_code == 400 and "abgelaufen" in resp.get_data(as_text=True)


@pytest.mark.parametrize("token", ["x", "a" * 3000, "eyJ1Ijo..", "%00", "..."])
def test_forged_or_mangled_tokens_are_refused(client, session, token):
    """Any token not signed by us answers 400 with a message, never a 500."""
    for resp in (client.get(f"/passwort-zuruecksetzen/{token}"), _reset(client, f"/passwort-zuruecksetzen/{token}")):
        assert resp.status_code in (400, 404)


def test_token_signed_with_another_key_or_purpose_is_refused(client, session, app):
    """Neither a token with another secret nor an invitation token resets a password."""
    user = f.user(session)
    fp = accounts._password_fingerprint(user)
    other_key = URLSafeTimedSerializer("anderer-schluessel", salt=signed_links.SALTS["password-reset"])
    invitation = signed_links.sign(app.config, "invitation", {"u": user.id, "f": fp})
    for token in (other_key.dumps({"u": user.id, "f": fp}), invitation):
        assert client.get(f"/passwort-zuruecksetzen/{token}").status_code == 400
    genuine = signed_links.sign(app.config, "password-reset", {"u": user.id, "f": fp})
    assert client.get(f"/passwort-zuruecksetzen/{genuine}").status_code == 200


def test_inactive_account_gets_no_link(client, session, app):
    """A deactivated account gets no mail, and its old link stops working."""
    user = f.user(session)
    client.post("/passwort-vergessen", data={"email": user.email})
    path = _link(_mails(app)[0])
    user.active = False
    session.commit()
    client.post("/passwort-vergessen", data={"email": user.email})
    assert len(_mails(app)) == 1
    assert client.get(path).status_code == 400


@pytest.mark.parametrize("password,repeat,field", [
    ("kurz", None, "new_password"),
    ("passwort12345", None, "new_password"),
    (NEW, "anders-als-oben-12", "repeat_password"),
])
def test_password_rules_apply_with_errors_at_the_field(client, session, app, password, repeat, field):
    """The reset form applies the password rules and keeps the link usable after an error."""
    user = f.user(session)
    client.post("/passwort-vergessen", data={"email": user.email})
    path = _link(_mails(app)[0])
    resp = _reset(client, path, password, repeat)
    assert resp.status_code == 422 and f'id="{field}-error"' in resp.get_data(as_text=True)
    assert _reset(client, path).status_code == 302


def test_email_part_of_the_password_is_refused(client, session, app):
    """The rule against the e-mail address inside the password holds here too."""
    user = f.user(session, email="hundesteuer.amt@example.org")
    client.post("/passwort-vergessen", data={"email": user.email})
    resp = _reset(client, _link(_mails(app)[0]), "hundesteuer.amt-2026!")
    assert resp.status_code == 422 and 'id="new_password-error"' in resp.get_data(as_text=True)


@pytest.mark.parametrize("address", ["", "kein-at-zeichen", "a@" + "b" * 260])
def test_forgot_form_validates_the_address(client, address):
    """An empty or malformed address is named at the field."""
    resp = client.post("/passwort-vergessen", data={"email": address})
    assert resp.status_code == 422 and 'id="email-error"' in resp.get_data(as_text=True)


def test_one_address_gets_at_most_five_mails_an_hour(client, session, app):
    """Requests for one address are rate-limited, so nobody floods an inbox through the form."""
    user = f.user(session)
    codes = [client.post("/passwort-vergessen", data={"email": user.email}).status_code for _ in range(6)]
    assert codes == [302] * 5 + [429]
    assert len(_mails(app)) == 5
    assert client.post("/passwort-vergessen", data={"email": "jemand@example.org"}).status_code == 302


def test_reset_does_not_bypass_the_login_backoff(client, auth, session, app):
    """A reset neither signs in nor clears the backoff: sign-in stays the login form's."""
    app.config["LOGIN_DELAY_SECONDS"] = 30
    user = f.user(session)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        auth.login(user.email, "falsch-falsch")
    client.post("/passwort-vergessen", data={"email": user.email})
    resp = _reset(client, _link(_mails(app)[0]))
    assert resp.status_code == 302
    assert 'action="/abmelden"' not in client.get("/").get_data(as_text=True)
    assert auth.login(user.email, NEW).status_code == 429
