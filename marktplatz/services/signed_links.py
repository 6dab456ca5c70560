"""Signed, expiring tokens for the links sent by e-mail (password reset, invitations, access).

A token is signed with the app's SECRET_KEY and a salt per purpose (a reset token is no
invitation). Single use is the caller's: it binds the token to state that the use changes
(the password hash, the address not yet registered).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .errors import Invalid

SALTS = {"password-reset": "marktplatz.password-reset.v1", "invitation": "marktplatz.invitation.v1",
         "access-confirm": "marktplatz.access-confirm.v1", "set-password": "marktplatz.set-password.v1"}
# Tokens are short; anything much longer is not one of ours (and is not worth decoding).
MAX_TOKEN_LENGTH = 2000


def _serializer(config: Mapping[str, Any], purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config["SECRET_KEY"], salt=SALTS[purpose])


def sign(config: Mapping[str, Any], purpose: str, payload: dict[str, Any]) -> str:
    """Return a URL-safe signed token carrying payload."""
    return _serializer(config, purpose).dumps(payload)


def unsign(config: Mapping[str, Any], purpose: str, token: str, max_age: float) -> dict[str, Any]:
    """Return the payload of a valid token no older than max_age seconds; raise Invalid otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Invalid({"token": ["Dieser Link ist ungültig. Bitte prüfen Sie, ob er vollständig kopiert wurde."]})
    try:
        payload = _serializer(config, purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise Invalid({"token": ["Dieser Link ist abgelaufen. Bitte fordern Sie einen neuen an."]}) from None
    except (BadSignature, ValueError, TypeError):
        raise Invalid({"token": ["Dieser Link ist ungültig. Bitte prüfen Sie, ob er vollständig kopiert wurde."]}) \
            from None
    if not isinstance(payload, dict):
        raise Invalid({"token": ["Dieser Link ist ungültig."]})
    return payload
