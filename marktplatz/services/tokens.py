"""API tokens of municipalities: create (secret shown once), authenticate, revoke.

Writes through the API run as a per-municipality technical user ("API-Zugang <Kommune>"):
the services and the permission table expect a ``User`` with an organisation, and a real
row keeps audit events, ``created_by`` and change attribution intact without a second
permission model. That user cannot sign in (unusable password hash).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import ApiToken, Organisation, User, utcnow
from ..permissions import can
from .common import flush, require
from .errors import DomainError, Invalid, NotFound

log = logging.getLogger(__name__)

TOKEN_PREFIX = "mpk_"
SCOPES = {"read": "Lesen", "write": "Lesen und Schreiben"}
# last_used_at is written at most this often per token, so reads stay cheap.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class Unauthorized(DomainError):
    """No valid credentials (missing, unknown, expired or revoked token)."""

    status = 401
    title = "Nicht angemeldet"


def hash_token(raw: str) -> str:
    """Return the sha256 hex digest stored for a token secret."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def technical_user(session: Session, organisation: Organisation) -> User:
    """Return (creating if needed) the technical user through which API tokens of organisation act."""
    email = f"api-{organisation.key}@api.marktplatz.invalid".lower()
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None:
        user = User(
            email=email,
            name=f"API-Zugang {organisation.short_name}",
            password_hash="!",  # never matches a password: this account cannot sign in
            role="officer",
            organisation=organisation,
            digest="none",
            session_token=secrets.token_hex(8),
        )
        session.add(user)
        session.flush()
    return user


def token_input_errors(name: str, scopes: list[str], expires_at: datetime | None) -> dict[str, list[str]]:
    """Return every error of a token's input at once (empty when it is valid)."""
    errors: dict[str, list[str]] = {}
    if not 1 <= len((name or "").strip()) <= 120:
        errors["name"] = ["Bitte einen Namen mit höchstens 120 Zeichen angeben."]
    if not [s for s in SCOPES if s in set(scopes or [])]:
        errors["scopes"] = ["Bitte mindestens eine Berechtigung wählen."]
    if expires_at is not None and expires_at <= utcnow():
        errors["expires_at"] = ["Das Ablaufdatum muss in der Zukunft liegen."]
    return errors


def create_token(
    session: Session,
    actor: User,
    organisation: Organisation,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for organisation and return it with its secret (shown only once)."""
    require(actor, "organisation.manage_tokens", organisation)
    errors = token_input_errors(name, scopes, expires_at)
    if errors:
        raise Invalid(errors)
    name = (name or "").strip()
    wanted = [s for s in SCOPES if s in set(scopes or [])]
    if "write" in wanted and "read" not in wanted:
        wanted.insert(0, "read")
    visible = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}{visible}_{secrets.token_urlsafe(32)}"
    technical_user(session, organisation)
    token = ApiToken(
        organisation_id=organisation.id,
        created_by_id=actor.id,
        name=name,
        prefix=f"{TOKEN_PREFIX}{visible}",
        token_hash=hash_token(raw),
        scopes=" ".join(wanted),
        expires_at=expires_at,
    )
    session.add(token)
    flush(session)
    log.info("api token %s created for organisation %s by user %s", token.id, organisation.id, actor.id)
    return token, raw


def list_tokens(session: Session, actor: User, organisation: Organisation) -> list[ApiToken]:
    """Return the tokens of organisation, newest first."""
    require(actor, "organisation.manage_tokens", organisation)
    q = select(ApiToken).where(ApiToken.organisation_id == organisation.id).order_by(ApiToken.id.desc())
    return list(session.scalars(q))


def token_for(session: Session, actor: User, token_id: int) -> ApiToken:
    """Return a token that actor may manage, or raise NotFound / Forbidden."""
    token = session.get(ApiToken, token_id)
    # Another municipality's token is as unknown as a missing one (404, not 403).
    if token is None or not can(actor, "organisation.manage_tokens", token.organisation):
        raise NotFound("Diesen Token gibt es nicht.")
    return token


def revoke_token(session: Session, actor: User, token_id: int) -> ApiToken:
    """Revoke a token (idempotent)."""
    token = token_for(session, actor, token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        flush(session)
        log.info("api token %s revoked by user %s", token.id, actor.id)
    return token


def authenticate(session: Session, raw: str) -> tuple[ApiToken, User]:
    """Return the token and its acting user for a bearer secret, or raise Unauthorized."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        raise Unauthorized("Der API-Token ist ungültig.")
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    if token is None:
        raise Unauthorized("Der API-Token ist ungültig.")
    now = utcnow()
    if token.revoked_at is not None:
        raise Unauthorized("Der API-Token wurde widerrufen.")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized("Der API-Token ist abgelaufen.")
    user = technical_user(session, token.organisation)
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        flush(session)
    return token, user


def token_status(token: ApiToken, now: Any = None) -> str:
    """Return a German label for the token state."""
    now = now or utcnow()
    if token.revoked_at is not None:
        return "Widerrufen"
    if token.expires_at is not None and token.expires_at <= now:
        return "Abgelaufen"
    return "Aktiv"
