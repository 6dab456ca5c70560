"""User accounts: creation, sign-in with throttling, password changes."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import secrets
import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..config import PASSWORD_HASH
from ..core.text import strip_bidi
from ..models import LoginThrottle, Network, NetworkCoordinator, Organisation, User, utcnow
from ..models.user import ROLES
from . import audit, signed_links
from .common import flush
from .errors import Conflict, Invalid, TooManyAttempts
from .mail import new_message, send_message
from .passwords import problems as password_problems

log = logging.getLogger(__name__)


def hash_password(password: str) -> str:
    """Return the hash of password, by the app's PASSWORD_HASH_METHOD (scrypt unless TESTING)."""
    method = current_app.config["PASSWORD_HASH_METHOD"] if has_app_context() else PASSWORD_HASH
    return generate_password_hash(password, method=method)


def _password_errors(password: str, email: str, organisation: Organisation | None) -> list[str]:
    return password_problems(password, email, organisation.name if organisation is not None else "")


def create_user(
    session: Session,
    email: str,
    name: str,
    password: str,
    role: str = "officer",
    organisation: Organisation | None = None,
    networks: list[Network] | None = None,
) -> User:
    """Create an account; coordinators are appointed to the given networks."""
    errors: dict[str, list[str]] = {}
    email = (email or "").strip().lower()
    name = strip_bidi(name or "")
    if "@" not in email or len(email) > 254:
        errors["email"] = ["Bitte eine gültige E-Mail-Adresse angeben."]
    if not (name or "").strip():
        errors["name"] = ["Bitte einen Namen angeben."]
    if role not in ROLES:
        errors["role"] = [f"Unbekannte Rolle; erlaubt: {', '.join(ROLES)}."]
    if role == "officer" and organisation is None:
        errors["organisation"] = ["Digitalbeauftragte gehören zu einer Kommune."]
    if role == "coordinator" and not networks:
        errors["networks"] = ["Koordinatorinnen und Koordinatoren brauchen mindestens ein Netzwerk."]
    if found := _password_errors(password, email, organisation):
        errors["password"] = found
    if errors:
        raise Invalid(errors)
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise Conflict("Diese E-Mail-Adresse ist bereits registriert.")
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        role=role,
        organisation=organisation,
        session_token=secrets.token_hex(8),
    )
    session.add(user)
    for net in networks or []:
        user.coordinations.append(NetworkCoordinator(network=net))
    flush(session)
    log.info("user %s created with role %s", user.id, role)
    return user


@dataclass(frozen=True)
class LoginPolicy:
    """How sign-in backs off after failures (see the LOGIN_* settings in config.py)."""

    max_failures: int = 5
    ip_max_failures: int = 50
    delay_seconds: float = 2
    delay_max_seconds: float = 60
    forget_seconds: float = 900

    @classmethod
    def from_config(cls, config: Any) -> LoginPolicy:
        """Read the policy from an app config."""
        return cls(config["LOGIN_MAX_FAILURES"], config["LOGIN_IP_MAX_FAILURES"], config["LOGIN_DELAY_SECONDS"],
                   config["LOGIN_DELAY_MAX_SECONDS"], config["LOGIN_FORGET_SECONDS"])

    def wait_after(self, failures: int, limit: int) -> float:
        """Return the seconds to wait after the given number of failures (0 below the limit)."""
        if failures < limit:
            return 0.0
        return min(self.delay_max_seconds, self.delay_seconds * 2 ** min(failures - limit, 30))


def _email_key(email: str) -> str:
    return "email:" + hashlib.sha256(email.encode("utf-8")).hexdigest()


@functools.cache
def _dummy_hash(method: str) -> str:
    """Return a hash of a random password, checked for unknown addresses to take the same time."""
    return generate_password_hash(secrets.token_hex(16), method=method)


def _throttle_row(session: Session, key: str, found: LoginThrottle | None) -> LoginThrottle:
    """Return the row of key, inserting it if needed (INSERT ... ON CONFLICT: a concurrent insert is fine)."""
    if found is not None:
        return found
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(LoginThrottle).values(key=key, failures=0, last_failure_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["key"]))
    row = session.get(LoginThrottle, key, populate_existing=True)
    assert row is not None
    return row


def authenticate(session: Session, email: str, password: str, client_ip: str | None,
                 policy: LoginPolicy) -> User | None:
    """Return the user for valid credentials, or None; back off after repeated failures.

    Failures are counted per e-mail address as typed (known or not, so both answer alike)
    and per client address. While a wait is open, TooManyAttempts is raised without checking
    the password; after it the right password signs in again: nobody can lock an account.
    An unknown address costs one hash check too, so the answer time does not tell it apart.
    A failure returns None instead of raising, so the unit of work that counts it commits.
    """
    email = (email or "").strip().lower()
    now = utcnow()
    limits = {_email_key(email): policy.max_failures}
    if client_ip:
        limits["ip:" + client_ip[:70]] = policy.ip_max_failures
    rows = {row.key: row for row in session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(list(limits))))}
    forget_before = now - timedelta(seconds=policy.forget_seconds)
    waits = [r.wait_until for r in rows.values()
             if r.wait_until is not None and r.wait_until > now and r.last_failure_at >= forget_before]
    if waits:
        raise TooManyAttempts(math.ceil((max(waits) - now).total_seconds()))
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None:
        method = current_app.config["PASSWORD_HASH_METHOD"] if has_app_context() else PASSWORD_HASH
        check_password_hash(_dummy_hash(method), password or "")
        valid = False
    else:
        valid = check_password_hash(user.password_hash, password or "") and bool(user.active)
    if not valid:
        # Forgotten rows go, so the table holds only the failures of the last LOGIN_FORGET_SECONDS.
        session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < forget_before,
                                                    LoginThrottle.key.not_in(list(limits))))
        for key, limit in limits.items():
            row = _throttle_row(session, key, rows.get(key))
            if row.last_failure_at < forget_before:
                row.failures = 0
            row.failures = (row.failures or 0) + 1
            row.last_failure_at = now
            wait = policy.wait_after(row.failures, limit)
            row.wait_until = now + timedelta(seconds=wait) if wait else None
            if wait and key.startswith("email:") and user is not None:
                log.warning("sign-in for user %s waits %.0f s after %d failures", user.id, wait, row.failures)
        flush(session)
        return None
    # The address starts afresh; the client's count stays (signing in to one's own account
    # must not reset what one tried against others).
    if (row := rows.get(_email_key(email))) is not None:
        session.delete(row)
    user.last_login_at = now
    flush(session)
    return user


def change_password(session: Session, user: User, current: str, new: str, repeat: str) -> None:
    """Change the password after checking the current one; ends other sessions."""
    if not check_password_hash(user.password_hash, current or ""):
        raise Invalid({"current_password": ["Das aktuelle Passwort stimmt nicht."]})
    if found := _password_errors(new, user.email, user.organisation):
        raise Invalid({"new_password": found})
    if new != repeat:
        raise Invalid({"repeat_password": ["Die beiden neuen Passwörter stimmen nicht überein."]})
    user.password_hash = hash_password(new)
    user.session_token = secrets.token_hex(8)
    flush(session)


def end_sessions(session: Session, user: User) -> None:
    """End every session of the user (sign-out): cookies issued before stop working."""
    user.session_token = secrets.token_hex(8)
    flush(session)


def load_user(session: Session, ident: str) -> Any:
    """Return the active user for a session identifier 'id:token', or None."""
    try:
        raw_id, token = ident.split(":", 1)
        user = session.get(User, int(raw_id))
    except (ValueError, TypeError):
        return None
    if user is None or not user.active or not secrets.compare_digest(user.session_token or "", token):
        return None
    return user


def _password_fingerprint(user: User) -> str:
    """Return a digest of what a reset changes, so a reset link works once (and not after a change)."""
    return hashlib.sha256(f"{user.id}|{user.email}|{user.password_hash}".encode()).hexdigest()[:32]


def request_password_reset(session: Session, config: Mapping[str, Any], email: str,
                           link: Callable[[str], str]) -> None:
    """E-mail a signed, single-use reset link to the active account of email, if there is one.

    The caller answers the same whether or not the address is known. link turns a token into
    the absolute URL of the reset page (services build no URLs).
    """
    email = (email or "").strip().lower()
    user = session.scalar(select(User).where(func.lower(User.email) == email)) if email else None
    if user is None or not user.active:
        log.info("password reset asked for an address without an active account")
        return
    token = password_link_token(config, user, "password-reset")
    minutes = int(config["PASSWORD_RESET_SECONDS"]) // 60
    msg = new_message(user.email, "Marktplatz: Passwort zurücksetzen")
    msg.set_content("\n".join([
        f"Guten Tag {user.name},", "",
        "für Ihr Konto auf dem Marktplatz kommunaler Digitalisierung wurde ein neues Passwort angefordert.",
        f"Mit diesem Link legen Sie es fest (gültig {minutes} Minuten, nur einmal verwendbar):", "",
        link(token), "",
        "Wenn Sie das nicht angefordert haben, ignorieren Sie diese E-Mail; Ihr Passwort bleibt unverändert.", "",
    ]))
    audit.record(session, None, "user.password_reset_requested", user)
    flush(session)
    try:
        send_message(config, msg)
    except (OSError, smtplib.SMTPException) as err:
        log.error("password reset mail for user %s not sent: %s", user.id, type(err).__name__)


# Purpose of a password link -> the setting with its lifetime. A new account's first link
# ("set-password", after an approved access request) lives as long as an invitation.
PASSWORD_LINKS = {"password-reset": "PASSWORD_RESET_SECONDS", "set-password": "INVITATION_SECONDS"}


def password_link_token(config: Mapping[str, Any], user: User, purpose: str = "set-password") -> str:
    """Return a signed token that lets user choose a password once (bound to the current hash)."""
    assert purpose in PASSWORD_LINKS, purpose
    return signed_links.sign(config, purpose, {"u": user.id, "f": _password_fingerprint(user)})


def user_for_reset(session: Session, config: Mapping[str, Any], token: str,
                   purpose: str = "password-reset") -> User:
    """Return the user a valid, unused password link belongs to; raise Invalid otherwise."""
    payload = signed_links.unsign(config, purpose, token, config[PASSWORD_LINKS[purpose]])
    user_id = payload.get("u")
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or not secrets.compare_digest(
            str(payload.get("f", "")), _password_fingerprint(user)):
        raise Invalid({"token": ["Dieser Link wurde schon benutzt oder ist ungültig. Bitte fordern Sie einen neuen an."]})
    return user


def reset_password(session: Session, config: Mapping[str, Any], token: str, new: str, repeat: str,
                   purpose: str = "password-reset") -> User:
    """Set a new password through a reset (or set-password) link; ends every session of the user.

    The token is bound to the old password hash, so it stops working once used. Sign-in
    itself is left to the login form and its backoff.
    """
    user = user_for_reset(session, config, token, purpose)
    if found := _password_errors(new, user.email, user.organisation):
        raise Invalid({"new_password": found})
    if new != repeat:
        raise Invalid({"repeat_password": ["Die beiden Passwörter stimmen nicht überein."]})
    user.password_hash = hash_password(new)
    user.session_token = secrets.token_hex(8)
    audit.record(session, user, "user.password_reset" if purpose == "password-reset" else "user.password_set",
                 user)
    flush(session)
    log.info("password of user %s set by %s link", user.id, purpose)
    return user
