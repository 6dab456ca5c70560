"""User accounts: creation, sign-in with throttling, password changes."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..config import PASSWORD_HASH
from ..models import Network, NetworkCoordinator, Organisation, User, utcnow
from ..models.user import ROLES
from .common import flush
from .errors import Conflict, Forbidden, Invalid
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


def authenticate(session: Session, email: str, password: str, max_failures: int, lock_seconds: int) -> User | None:
    """Return the user for valid credentials, or None; count failures and lock after too many.

    A failure returns None instead of raising, so the unit of work that counts it commits.
    """
    email = (email or "").strip().lower()
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise Forbidden(
            "Zu viele fehlgeschlagene Anmeldeversuche. Bitte versuchen Sie es in einigen Minuten erneut."
        )
    if user is None or not user.active or not check_password_hash(user.password_hash, password or ""):
        if user is not None:
            user.failed_logins = (user.failed_logins or 0) + 1
            if user.failed_logins >= max_failures:
                user.locked_until = now + timedelta(seconds=lock_seconds)
                user.failed_logins = 0
                log.warning("user %s locked after repeated failed logins", user.id)
            flush(session)
        return None
    user.failed_logins = 0
    user.locked_until = None
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
