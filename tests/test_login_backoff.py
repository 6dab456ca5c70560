"""Sign-in backs off but never locks out: nobody can keep someone else from signing in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from marktplatz.models import LoginThrottle, utcnow
from marktplatz.services import accounts

from . import factories as f

pytestmark = pytest.mark.sqlite_only
WRONG = "falsch-falsch-falsch"


def _login(client, email, password, ip="198.51.100.1"):
    return client.post("/anmelden", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip})


def _end_waits(session) -> None:
    """Let every open wait pass, as if its seconds had gone by."""
    session.execute(update(LoginThrottle).values(wait_until=utcnow() - timedelta(seconds=1)))
    session.commit()


def test_right_password_works_after_the_wait_although_an_attacker_kept_failing(app, client, session):
    """After the failures a stranger caused, the wait passes and the right password signs in."""
    app.config["LOGIN_DELAY_SECONDS"] = 30
    user = f.user(session)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _login(client, user.email, WRONG, ip="203.0.113.66")
    waiting = _login(client, user.email, f.PASSWORD)
    assert waiting.status_code == 429 and "Bitte warten Sie" in waiting.get_data(as_text=True)
    _end_waits(session)
    assert _login(client, user.email, f.PASSWORD).status_code == 302


def test_with_no_delay_the_right_password_always_works(app, client, session):
    """With LOGIN_DELAY_SECONDS=0 any number of failures never keeps the owner out."""
    app.config["LOGIN_DELAY_SECONDS"] = 0
    user = f.user(session)
    for _ in range(app.config["LOGIN_MAX_FAILURES"] * 2):
        assert _login(client, user.email, WRONG, ip="203.0.113.66").status_code == 422
    assert _login(client, user.email, f.PASSWORD).status_code == 302


def test_during_the_wait_the_password_is_not_checked(app, client, session, monkeypatch):
    """While a wait is open the answer is "Bitte warten" without a hash check, also for the right password."""
    app.config["LOGIN_DELAY_SECONDS"] = 30
    user = f.user(session)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _login(client, user.email, WRONG)
    calls = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda *a: calls.append(a) or real(*a))
    assert _login(client, user.email, f.PASSWORD).status_code == 429
    assert calls == []


def test_waits_grow_and_are_capped(app, client, session):
    """Each failure after the limit doubles the wait, up to LOGIN_DELAY_MAX_SECONDS."""
    app.config.update(LOGIN_DELAY_SECONDS=10, LOGIN_DELAY_MAX_SECONDS=35)
    user = f.user(session)
    seen = []
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 3):
        _end_waits(session)
        _login(client, user.email, WRONG)
        session.expire_all()
        row = session.scalar(select(LoginThrottle).where(LoginThrottle.key.like("email:%")))
        seen.append(round((row.wait_until - utcnow()).total_seconds()) if row.wait_until else 0)
    assert seen[:4] == [0, 0, 0, 0]
    assert [abs(a - b) <= 1 for a, b in zip(seen[4:], [10, 20, 35, 35], strict=True)] == [True] * 4, seen


def test_unknown_and_known_addresses_answer_alike(app, client, session):
    """Wrong password and unknown address get the same message and status, before and during the wait."""
    app.config["LOGIN_DELAY_SECONDS"] = 30
    user = f.user(session)
    answers = {}
    for email in (user.email, "niemand@example.org"):
        first = _login(client, email, WRONG)
        for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
            _login(client, email, WRONG)
        later = _login(client, email, WRONG)
        answers[email] = (first.status_code, _error(first), later.status_code, _error(later).split(" Bitte")[0])
    assert answers[user.email] == answers["niemand@example.org"]
    assert answers[user.email][0] == 422 and answers[user.email][2] == 429


def _error(resp) -> str:
    html = resp.get_data(as_text=True)
    start = html.index('id="password-error"')
    return html[html.index(">", start) + 1:html.index("<", html.index(">", start) + 1)].strip()


def test_unknown_address_costs_a_hash_check(app, client, session, monkeypatch):
    """An unknown address runs check_password_hash once, as a known one does (same answer time)."""
    calls = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda *a: calls.append(a) or real(*a))
    assert _login(client, "niemand@example.org", WRONG).status_code == 422
    assert len(calls) == 1
    user = f.user(session)
    assert _login(client, user.email, WRONG).status_code == 422
    assert len(calls) == 2


def test_one_client_address_failing_on_many_accounts_waits(app, client, session):
    """Failures from one client address across many addresses make that client wait; another client does not."""
    app.config.update(LOGIN_IP_MAX_FAILURES=3, LOGIN_DELAY_SECONDS=30)
    user = f.user(session)
    for i in range(3):
        assert _login(client, f"rate{i}@example.org", WRONG, ip="203.0.113.9").status_code == 422
    assert _login(client, user.email, f.PASSWORD, ip="203.0.113.9").status_code == 429
    assert _login(client, user.email, f.PASSWORD, ip="203.0.113.10").status_code == 302


def test_signing_in_clears_the_address_but_not_the_client(app, client, session):
    """Signing in forgets the address's failures, not the client's (one's own account is no reset button)."""
    app.config.update(LOGIN_IP_MAX_FAILURES=4, LOGIN_DELAY_SECONDS=30)
    user = f.user(session)
    for _ in range(2):
        _login(client, user.email, WRONG)
    assert _login(client, user.email, f.PASSWORD).status_code == 302
    session.expire_all()
    rows = {row.key.split(":")[0]: row.failures for row in session.scalars(select(LoginThrottle))}
    assert rows == {"ip": 2}


def test_old_failures_are_forgotten(app, client, session):
    """Failures older than LOGIN_FORGET_SECONDS no longer count."""
    app.config["LOGIN_DELAY_SECONDS"] = 30
    user = f.user(session)
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        _login(client, user.email, WRONG)
    session.execute(update(LoginThrottle).values(last_failure_at=utcnow() - timedelta(hours=1)))
    session.commit()
    assert _login(client, user.email, WRONG).status_code == 422
    assert _login(client, user.email, f.PASSWORD).status_code == 302


def test_forgotten_failures_are_deleted(app, client, session):
    """Rows of failures older than LOGIN_FORGET_SECONDS are removed by the next failure."""
    _login(client, "alt@example.org", WRONG, ip="203.0.113.20")
    session.execute(update(LoginThrottle).values(last_failure_at=utcnow() - timedelta(hours=1)))
    session.commit()
    _login(client, "neu@example.org", WRONG, ip="203.0.113.21")
    session.expire_all()
    assert len(session.scalars(select(LoginThrottle)).all()) == 2  # only the new address and client
