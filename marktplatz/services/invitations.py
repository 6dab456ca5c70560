"""Invitations: a signed, single-use, expiring link that creates an account when accepted.

Who may invite whom is the permission table's (``user.invite`` on the municipality for
officers, ``user.invite_any_role`` for every other role). The link carries the invitation
itself; it is single-use because accepting registers its address, and it is checked again
on acceptance (the inviter must still be active and still allowed).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Network, NetworkMembership, Organisation, User
from ..models.user import ROLES
from ..permissions import can
from . import accounts, audit, signed_links
from .common import flush
from .errors import Forbidden, Invalid, Unavailable
from .legal import EMAIL_RE
from .mail import new_message, send_message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Invitation:
    """What an invitation link offers: an account with this address, name, role and scope."""

    email: str
    name: str
    role: str
    organisation: Organisation | None
    networks: list[Network]
    inviter: User

    @property
    def role_label(self) -> str:
        """Return the German label of the offered role."""
        return ROLES.get(self.role, self.role)


def invitable_roles(session: Session, user: Any) -> list[str]:
    """Return the roles user may invite to (empty: may not invite at all)."""
    if can(user, "user.invite_any_role"):
        return list(ROLES)
    return ["officer"] if invitable_organisations(session, user) else []


def invitable_organisations(session: Session, user: Any) -> list[Organisation]:
    """Return the municipalities whose officers user may invite (admins: all, by AGS; not listed).

    The candidates are the user's own municipality and the members of their networks; the
    permission table decides which of them count.
    """
    if not getattr(user, "is_authenticated", False):
        return []
    candidates: dict[int, Organisation] = {}
    if user.organisation is not None:
        candidates[user.organisation.id] = user.organisation
    nets = sorted(user.coordinated_network_ids)
    if nets:
        q = (select(Organisation).join(NetworkMembership, NetworkMembership.organisation_id == Organisation.id)
             .where(NetworkMembership.network_id.in_(nets)).order_by(Organisation.name))
        for org in session.scalars(q):
            candidates.setdefault(org.id, org)
    return sorted((o for o in candidates.values() if can(user, "user.invite", o)), key=lambda o: o.name)


def invitable_networks(session: Session, user: Any) -> list[Network]:
    """Return the networks a coordinator may be invited to by user (admins only: all)."""
    if not can(user, "user.invite_any_role"):
        return []
    return list(session.scalars(select(Network).order_by(Network.name)))


def _organisation(session: Session, ags: str) -> Organisation | None:
    ags = (ags or "").strip()
    if not ags:
        return None
    return session.scalar(select(Organisation).where(Organisation.ags == ags))


def _check_allowed(inviter: Any, role: str, org: Organisation | None) -> None:
    if role == "officer":
        if org is None or not can(inviter, "user.invite", org):
            raise Forbidden("Sie dürfen nur Digitalbeauftragte Ihrer Kommune oder der Mitglieder Ihrer Netzwerke einladen.")
    elif not can(inviter, "user.invite_any_role"):
        raise Forbidden("Nur Plattform-Admins laden Koordinatorinnen, Koordinatoren und Admins ein.")


def invite(session: Session, config: Mapping[str, Any], inviter: Any, data: Mapping[str, Any],
           link: Callable[[str], str]) -> str:
    """Validate an invitation, e-mail its link and audit it; return the token.

    data: email, name, role, ags (the municipality) and network_ids (for coordinators).
    """
    email = str(data.get("email") or "").strip().lower()
    name = str(data.get("name") or "").strip()
    role = str(data.get("role") or "officer")
    errors: dict[str, list[str]] = {}
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors["email"] = ["Bitte eine gültige dienstliche E-Mail-Adresse angeben, z. B. name@kommune.de."]
    elif session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        errors["email"] = ["Zu dieser Adresse gibt es schon ein Konto."]
    if not name or len(name) > 200:
        errors["name"] = ["Bitte den Namen angeben (höchstens 200 Zeichen)."]
    if role not in ROLES:
        errors["role"] = ["Bitte eine der angebotenen Rollen wählen."]
        raise Invalid(errors)
    org = _organisation(session, str(data.get("ags") or ""))
    if role == "officer" and org is None:
        errors["ags"] = ["Bitte die Kommune wählen (achtstelliger Gemeindeschlüssel)."]
    elif str(data.get("ags") or "").strip() and org is None:
        errors["ags"] = ["Zu diesem Gemeindeschlüssel kennen wir keine Kommune."]
    networks: list[Network] = []
    if role == "coordinator":
        ids = [int(i) for i in data.get("network_ids") or [] if str(i).isdigit()]
        networks = list(session.scalars(select(Network).where(Network.id.in_(ids or [-1])).order_by(Network.name)))
        if not networks:
            errors["network_ids"] = ["Bitte mindestens ein Netzwerk wählen, das die Person koordiniert."]
    if role != "officer" or org is not None:
        _check_allowed(inviter, role, org)  # before the field errors: nobody learns what they may not do
    if errors:
        raise Invalid(errors)
    token = signed_links.sign(config, "invitation", {
        "e": email, "n": name, "r": role, "o": org.id if org else None,
        "w": [n.id for n in networks], "i": inviter.id})
    msg = _invitation_mail(config, Invitation(email, name, role, org, networks, inviter), link(token))
    audit.record(session, inviter, "user.invite", org or inviter, email=email, role=role,
                 networks=[n.id for n in networks])
    flush(session)
    try:
        send_message(config, msg)
    except (OSError, smtplib.SMTPException) as err:
        log.error("invitation mail not sent: %s", type(err).__name__)
        raise Unavailable("Die Einladung konnte nicht per E-Mail verschickt werden. Bitte später erneut versuchen.") \
            from None
    log.info("user %s invited a %s", inviter.id, role)
    return token


def _invitation_mail(config: Mapping[str, Any], inv: Invitation, url: str) -> EmailMessage:
    days = int(config["INVITATION_SECONDS"]) // 86400
    scope = f" für {inv.organisation.name}" if inv.organisation else ""
    if inv.networks:
        scope += " im Netzwerk " + ", ".join(n.name for n in inv.networks)
    msg = new_message(inv.email, "Einladung zum Marktplatz kommunaler Digitalisierung")
    msg.set_content("\n".join([
        f"Guten Tag {inv.name},", "",
        f"{inv.inviter.name} lädt Sie als {inv.role_label}{scope} auf den Marktplatz kommunaler "
        "Digitalisierung ein. Dort teilen Kommunen ihre Online-Dienste, Komponenten und Projekte.", "",
        f"Mit diesem Link legen Sie Ihr Passwort fest und eröffnen Ihr Konto "
        f"(gültig {days} Tage, nur einmal verwendbar):", "", url, "",
        "Wenn Sie die Einladung nicht erwartet haben, ignorieren Sie diese E-Mail.", "",
    ]))
    return msg


def invitation_for(session: Session, config: Mapping[str, Any], token: str) -> Invitation:
    """Return the invitation of a valid, unused token; raise Invalid otherwise."""
    p = signed_links.unsign(config, "invitation", token, config["INVITATION_SECONDS"])
    def gone() -> Invalid:
        return Invalid({"token": ["Diese Einladung gilt nicht mehr. Bitte bitten Sie um eine neue."]})

    try:
        email, name, role = str(p["e"]), str(p["n"]), str(p["r"])
        inviter = session.get(User, int(p["i"]))
        org = session.get(Organisation, int(p["o"])) if p.get("o") is not None else None
        net_ids = [int(i) for i in p.get("w") or []]
    except (KeyError, TypeError, ValueError):
        raise gone() from None
    if session.scalar(select(User.id).where(func.lower(User.email) == email.lower())) is not None:
        raise Invalid({"token": ["Diese Einladung wurde schon angenommen. Bitte melden Sie sich an."]})
    networks = list(session.scalars(select(Network).where(Network.id.in_(net_ids or [-1])).order_by(Network.name)))
    if inviter is None or not inviter.active or role not in ROLES or (p.get("o") is not None and org is None) \
            or len(networks) != len(set(net_ids)):
        raise gone()
    try:
        _check_allowed(inviter, role, org)
    except Forbidden:
        raise gone() from None
    return Invitation(email, name, role, org, networks, inviter)


def accept(session: Session, config: Mapping[str, Any], token: str, name: str, password: str,
           repeat: str) -> User:
    """Create the invited account with the chosen password; the link is used up by it."""
    inv = invitation_for(session, config, token)
    if password != repeat and password:
        raise Invalid({"repeat_password": ["Die beiden Passwörter stimmen nicht überein."]})
    try:
        user = accounts.create_user(session, inv.email, (name or "").strip()[:200] or inv.name, password, inv.role,
                                    inv.organisation, inv.networks)
    except Invalid as err:
        fields = {"password": "new_password", "name": "name"}
        raise Invalid({fields.get(k, "token"): v for k, v in err.errors.items()}) from None
    audit.record(session, user, "user.accept_invitation", user, role=inv.role, invited_by=inv.inviter.id)
    flush(session)
    return user
