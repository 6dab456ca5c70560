"""Accounts: login, logout, throttling, CSRF, password change, cookies, config."""

from __future__ import annotations

import re

import pytest
from werkzeug.security import check_password_hash

from marktplatz import create_app
from marktplatz.config import ConfigError

from . import factories as f


def test_login_and_logout(client, auth, session):
    """A user signs in with the form and signs out."""
    user = f.user(session)
    resp = auth.login(user.email)
    assert resp.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert user.name in page
    auth.logout()
    assert "Anmelden" in client.get("/").get_data(as_text=True)


def test_login_is_case_insensitive(auth, session):
    """E-mail addresses are matched case-insensitively."""
    user = f.user(session, email="Digital@Example.org")
    assert user.email == "digital@example.org"
    assert auth.login("DIGITAL@example.ORG").status_code == 302


def test_wrong_password_shows_error_next_to_field(auth, session):
    """A wrong password answers 422 with the message at the password field."""
    user = f.user(session)
    resp = auth.login(user.email, "falsch-falsch")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="password-error"' in html and "falsch" in html


def test_throttling_after_repeated_failures(auth, session, app):
    """After LOGIN_MAX_FAILURES wrong passwords sign-ins wait, unchecked, with the seconds named."""
    app.config["LOGIN_DELAY_SECONDS"] = 30  # a wait the test cannot outlast
    user = f.user(session)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        auth.login(user.email, "falsch-falsch")
    resp = auth.login(user.email)
    assert resp.status_code == 429
    assert re.search(r"Bitte warten Sie (29|30) Sekunden", resp.get_data(as_text=True))


def test_session_fixation_prevented(client, auth, session):
    """The session cookie issued before login is replaced at login."""
    user = f.user(session)
    client.get("/anmelden")
    before = client.get_cookie("session")
    auth.login(user.email)
    after = client.get_cookie("session")
    assert after is not None and (before is None or before.value != after.value)


def test_session_cookie_flags(client, auth, session):
    """The session cookie is HttpOnly and SameSite."""
    user = f.user(session)
    resp = auth.login(user.email)
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_csrf_required_on_forms(backend, database_urls, tmp_path, session):
    """With CSRF on (the default) a form post without token is refused."""
    app = create_app({"DATABASE_URL": database_urls[backend], "SECRET_KEY": "x", "INDEX_DIR": str(tmp_path / "i")})
    user = f.user(session)
    with app.app_context():
        resp = app.test_client().post("/anmelden", data={"email": user.email, "password": f.PASSWORD})
        assert resp.status_code == 400
        assert "Formular" in resp.get_data(as_text=True)
    app.extensions["sqlalchemy_engine"].dispose()


def test_password_change_ends_old_sessions(client, auth, session, app):
    """Changing the password logs out other sessions of the same user."""
    user = f.user(session)
    app.test_client_class = type(client)
    other = app.test_client()
    other.post("/anmelden", data={"email": user.email, "password": f.PASSWORD})
    auth.login(user.email)
    bad = client.post("/konto/passwort", data={"current_password": "x", "new_password": "neues-passwort-1", "repeat_password": "neues-passwort-1"})
    assert bad.status_code == 422 and 'id="current_password-error"' in bad.get_data(as_text=True)
    ok = client.post("/konto/passwort", data={"current_password": f.PASSWORD, "new_password": "neues-passwort-1", "repeat_password": "neues-passwort-1"})
    assert ok.status_code == 302
    assert 'action="/abmelden"' in client.get("/").get_data(as_text=True)
    assert 'action="/abmelden"' not in other.get("/").get_data(as_text=True)


def test_production_without_secret_key_stops(monkeypatch, tmp_path):
    """In production a missing secret key is a clear start-up error."""
    monkeypatch.delenv("MARKTPLATZ_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"ENV": "production", "DATABASE_URL": "sqlite:///" + str(tmp_path / "x.db")})


def test_security_headers(client):
    """CSP without unsafe-inline and the other headers are set."""
    resp = client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]


def test_cli_user_create(runner, session):
    """`marktplatz user create` creates an officer for a municipality."""
    result = runner.invoke(args=["user", "create", "--email", "neu@example.org", "--name", "Neu", "--ags", "08311000", "--password", "sehr-geheim-1"])
    assert result.exit_code == 0, result.output
    bad = runner.invoke(args=["user", "create", "--email", "x@example.org", "--name", "X", "--ags", "99999999", "--password", "sehr-geheim-1"])
    assert bad.exit_code != 0 and "AGS" in bad.output


# Page and form behaviour does not depend on the database; the database tests run on both.
pytestmark = pytest.mark.sqlite_only


def test_passwords_use_scrypt_unless_testing(tmp_path, monkeypatch):
    """Outside tests (TESTING unset) accounts get scrypt hashes; only TESTING picks the fast pbkdf2."""
    from marktplatz.services.accounts import hash_password

    monkeypatch.delenv("MARKTPLATZ_PASSWORD_HASH_METHOD", raising=False)
    base = {"DATABASE_URL": "sqlite:///" + str(tmp_path / "x.db"), "SECRET_KEY": "x"}
    for config, prefix in (({"ENV": "production"}, "scrypt:"), ({}, "scrypt:"),
                           ({"TESTING": True}, "pbkdf2:sha256:1000$")):
        app = create_app({**base, **config})
        with app.app_context():
            hashed = hash_password(f.PASSWORD)
        assert hashed.startswith(prefix), (config, hashed)
        assert check_password_hash(hashed, f.PASSWORD) and not check_password_hash(hashed, f.PASSWORD + "x")
    assert hash_password(f.PASSWORD).startswith("scrypt:")  # no app at all
