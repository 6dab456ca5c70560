"""Sign-out ends the session on the server, not only in the browser."""

from __future__ import annotations

import pytest

from . import factories as f

pytestmark = pytest.mark.sqlite_only


def test_cookie_copied_before_logout_is_dead_after_it(app, client, auth, session):
    """A session cookie copied while signed in no longer signs anyone in after sign-out."""
    user = f.user(session)
    assert auth.login(user.email).status_code == 302
    assert client.get("/konto/passwort").status_code == 200
    copied = client.get_cookie("session").value
    assert auth.logout().status_code == 302
    app.test_client_class = type(client)
    thief = app.test_client()
    thief.set_cookie("session", copied)
    resp = thief.get("/konto/passwort")
    assert resp.status_code == 302 and "/anmelden" in resp.headers["Location"]
    assert auth.login(user.email).status_code == 302  # signing in again works
    assert client.get("/konto/passwort").status_code == 200
