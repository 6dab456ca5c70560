"""Access requests ("Zugang beantragen"): ask for an account, confirm the address, get a decision.

A person picks their municipality, gives name, official address and the role wanted. A
signed link confirms the address; only then do the coordinators of the municipality's
networks and the admins learn of it (notification and e-mail). Whoever decides sees whether
the address's domain belongs to the municipality's known website. Approval creates the
account and sends a link to set the password (the reset mechanism with its own purpose);
a refusal sends its reason. The public form answers alike whether or not an address has an
account: a known address gets a mail pointing to "Passwort vergessen?" instead.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ..models import (
    AccessRequest,
    Network,
    NetworkCoordinator,
    NetworkMembership,
    Notification,
    Organisation,
    User,
    utcnow,
)
from ..models.user import ROLES
from ..permissions import can, is_moderator, moderated_organisations
from . import accounts, audit, signed_links
from .common import flush, require
from .errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from .legal import EMAIL_RE
from .mail import new_message, send_message
from .notify import access_request_link as request_link

log = logging.getLogger(__name__)

# Roles one may ask for; admins are only ever invited.
REQUESTABLE_ROLES = {"officer": ROLES["officer"], "coordinator": ROLES["coordinator"]}
MAX_CANDIDATES = 20
LIMITS = {"name": 200, "email": 254, "message": 2000}


def find_municipalities(session: Session, text: str, limit: int = MAX_CANDIDATES) -> list[Organisation]:
    """Return the municipalities whose AGS is text or whose name contains it (largest first)."""
    text = (text or "").strip()[:200]
    if not text:
        return []
    if text.isdigit():
        return list(session.scalars(select(Organisation).where(Organisation.ags == text)))
    pattern = "%" + text.replace("\\", "").replace("%", "").replace("_", "").lower() + "%"
    q = (select(Organisation).where(Organisation.ags.is_not(None),
                                    or_(func.lower(Organisation.name).like(pattern),
                                        func.lower(Organisation.short_name).like(pattern)))
         .order_by(Organisation.population.desc().nulls_last(), Organisation.name).limit(limit))
    return list(session.scalars(q))


def resolve_municipality(session: Session, ags: str, text: str) -> tuple[Organisation | None, list[Organisation]]:
    """Return the chosen municipality (by AGS, or the one match of text) and the candidates to pick from."""
    ags = (ags or "").strip()
    if ags:
        org = session.scalar(select(Organisation).where(Organisation.ags == ags[:8]))
        if org is not None:
            return org, [org]
    found = find_municipalities(session, text)
    return (found[0] if len(found) == 1 else None), found


def _clean(data: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(data.get(key) or "").strip() for key in ("ags", "kommune", "name", "email", "role", "message")}


def submit(session: Session, config: Mapping[str, Any], data: Mapping[str, Any],
           confirm_link: Callable[[str], str], forgot_link: str) -> AccessRequest | None:
    """Validate a request and e-mail the confirmation link; return it (None for a known address).

    data: ags (a chosen candidate) or kommune (name or AGS typed), name, email, role, message.
    The answer to the public must not tell whether the address has an account, so a known
    address gets a mail about the existing account and no request is stored.
    """
    values = _clean(data)
    email = values["email"].lower()
    errors: dict[str, list[str]] = {}
    org, candidates = resolve_municipality(session, values["ags"], values["kommune"])
    if org is None:
        if not values["kommune"] and not values["ags"]:
            errors["kommune"] = ["Bitte den Namen oder den Gemeindeschlüssel (AGS) Ihrer Kommune angeben."]
        elif candidates:
            errors["kommune"] = [f"{len(candidates)} Kommunen passen. Bitte wählen Sie Ihre aus der Liste."]
        else:
            errors["kommune"] = ["Keine Kommune gefunden. Bitte prüfen Sie die Schreibweise oder geben Sie "
                                 "den achtstelligen Gemeindeschlüssel an."]
    if not values["name"] or len(values["name"]) > LIMITS["name"]:
        errors["name"] = ["Bitte Ihren Namen angeben (höchstens 200 Zeichen)."]
    if not EMAIL_RE.match(email) or len(email) > LIMITS["email"]:
        errors["email"] = ["Bitte Ihre dienstliche E-Mail-Adresse angeben, z. B. name@kommune.de."]
    if values["role"] not in REQUESTABLE_ROLES:
        errors["role"] = ["Bitte eine der angebotenen Rollen wählen."]
    if len(values["message"]) > LIMITS["message"]:
        errors["message"] = [f"Bitte höchstens {LIMITS['message']} Zeichen."]
    if any("\x00" in v for v in values.values()):
        errors.setdefault("message", []).append("Die Eingabe enthält unzulässige Zeichen.")
    if errors:
        raise Invalid(errors)
    assert org is not None
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        _send(config, _known_address_mail(email, forgot_link))
        log.info("access requested for an address that has an account")
        return None
    req = session.scalar(select(AccessRequest).where(
        func.lower(AccessRequest.email) == email, AccessRequest.organisation_id == org.id,
        AccessRequest.status.in_(("unconfirmed", "pending"))))
    if req is None:
        req = AccessRequest(organisation=org, name=values["name"], email=email, role=values["role"],
                            message=values["message"], status="unconfirmed", decision_reason="")
        session.add(req)
        flush(session)
        audit.record(session, None, "access_request.submitted", req, role=req.role)
    elif req.status == "unconfirmed":  # asked again: the newest details count
        req.name, req.role, req.message = values["name"], values["role"], values["message"]
    flush(session)
    if req.status == "unconfirmed":
        token = signed_links.sign(config, "access-confirm", {"r": req.id, "e": req.email})
        _send(config, _confirm_mail(config, req, confirm_link(token)))
    log.info("access request %s submitted", req.id)
    return req


def _send(config: Mapping[str, Any], msg: EmailMessage) -> None:
    try:
        send_message(config, msg)
    except (OSError, smtplib.SMTPException) as err:
        log.error("access request mail not sent: %s", type(err).__name__)
        raise Unavailable("Die E-Mail konnte gerade nicht verschickt werden. Bitte versuchen Sie es später erneut.") \
            from None


def _confirm_mail(config: Mapping[str, Any], req: AccessRequest, url: str) -> EmailMessage:
    hours = int(config["ACCESS_CONFIRM_SECONDS"]) // 3600
    msg = new_message(req.email, "Marktplatz: Bitte bestätigen Sie Ihre E-Mail-Adresse")
    msg.set_content("\n".join([
        f"Guten Tag {req.name},", "",
        f"Sie haben für {req.organisation.name} einen Zugang zum Marktplatz kommunaler Digitalisierung "
        f"beantragt ({REQUESTABLE_ROLES.get(req.role, req.role)}).", "",
        f"Bitte bestätigen Sie Ihre E-Mail-Adresse mit diesem Link (gültig {hours} Stunden):", "", url, "",
        "Danach prüfen die Koordination Ihrer Netzwerke oder die Plattformverwaltung den Antrag. "
        "Sie bekommen die Entscheidung per E-Mail.", "",
        "Wenn Sie keinen Zugang beantragt haben, ignorieren Sie diese E-Mail.", "",
    ]))
    return msg


def _known_address_mail(email: str, forgot_link: str) -> EmailMessage:
    msg = new_message(email, "Marktplatz: Sie haben bereits ein Konto")
    msg.set_content("\n".join([
        "Guten Tag,", "",
        "für diese E-Mail-Adresse wurde ein Zugang zum Marktplatz kommunaler Digitalisierung beantragt. "
        "Zu der Adresse gibt es aber schon ein Konto.", "",
        f"Wenn Sie Ihr Passwort nicht mehr wissen, setzen Sie es hier zurück: {forgot_link}", "",
        "Wenn Sie nichts beantragt haben, ignorieren Sie diese E-Mail.", "",
    ]))
    return msg


def request_for_confirmation(session: Session, config: Mapping[str, Any], token: str) -> AccessRequest:
    """Return the request of a valid confirmation link; raise Invalid otherwise (also once used)."""
    payload = signed_links.unsign(config, "access-confirm", token, config["ACCESS_CONFIRM_SECONDS"])
    req_id = payload.get("r")
    req = session.get(AccessRequest, req_id) if isinstance(req_id, int) else None
    if req is None or req.email != payload.get("e"):
        raise Invalid({"token": ["Dieser Link ist ungültig. Bitte stellen Sie den Antrag erneut."]})
    if req.status != "unconfirmed":
        raise Invalid({"token": ["Diese E-Mail-Adresse ist schon bestätigt. Der Antrag liegt zur Entscheidung vor."]})
    return req


def purge_unconfirmed(session: Session, config: Mapping[str, Any]) -> int:
    """Delete the requests whose address was not confirmed before the link expired; return how many.

    Nobody decides on them and their link no longer works, so the name and address someone
    typed in (maybe someone else's) are not kept (Datensparsamkeit). The worker runs this.
    """
    cutoff = utcnow() - timedelta(seconds=int(config["ACCESS_CONFIRM_SECONDS"]))
    stale = list(session.scalars(select(AccessRequest).where(
        AccessRequest.status == "unconfirmed", AccessRequest.created_at < cutoff)))
    for req in stale:
        session.delete(req)
    flush(session)
    if stale:
        log.info("purged %d unconfirmed access requests", len(stale))
    return len(stale)


def deciders(session: Session, org: Organisation) -> list[User]:
    """Return the active coordinators of org's networks and the active admins."""
    coords = select(NetworkCoordinator.user_id).join(
        NetworkMembership, NetworkMembership.network_id == NetworkCoordinator.network_id).where(
        NetworkMembership.organisation_id == org.id)
    q = select(User).where(User.active.is_(True), or_(User.role == "admin", User.id.in_(coords))).order_by(User.id)
    return [u for u in session.scalars(q) if can(u, "access_request.decide", org)]


def confirm(session: Session, config: Mapping[str, Any], token: str, decide_link: Callable[[int], str]) -> AccessRequest:
    """Confirm the address; the request goes to its deciders (notification by the audit event, and e-mail)."""
    req = request_for_confirmation(session, config, token)
    req.status = "pending"
    req.confirmed_at = utcnow()
    audit.record(session, None, "access_request.confirmed", req)
    flush(session)
    people = deciders(session, req.organisation)
    if people:
        msg = new_message(", ".join(u.email for u in people),
                          f"Marktplatz: Zugangsantrag für {req.organisation.short_name}")
        check = domain_check(req)
        msg.set_content("\n".join([
            "Guten Tag,", "",
            f"{req.name} ({req.email}) beantragt einen Zugang als {REQUESTABLE_ROLES.get(req.role, req.role)} "
            f"für {req.organisation.name}. Die E-Mail-Adresse ist bestätigt.", "",
            f"Passt die Adresse zur Website der Kommune? {check.label}", "",
            f"Bitte entscheiden Sie hier: {decide_link(req.id)}", "",
        ]))
        try:
            send_message(config, msg)
        except (OSError, smtplib.SMTPException) as err:  # the notification on the platform remains
            log.error("access request %s: mail to deciders not sent: %s", req.id, type(err).__name__)
    else:
        log.warning("access request %s: nobody may decide it (no coordinator, no admin)", req.id)
    log.info("access request %s confirmed", req.id)
    return req


@dataclass(frozen=True)
class DomainCheck:
    """Whether the domain of a request's address belongs to the municipality's known website."""

    status: str  # match | mismatch | unknown
    email_domain: str
    website_host: str

    @property
    def label(self) -> str:
        """Return the German verdict shown to deciders."""
        if self.status == "match":
            return f"Ja: {self.email_domain} gehört zur Website {self.website_host}."
        if self.status == "mismatch":
            return (f"Nein: {self.email_domain} passt nicht zur Website {self.website_host}. "
                    "Bitte prüfen Sie die Person besonders sorgfältig.")
        return f"Unbekannt: Für die Kommune ist keine Website hinterlegt ({self.email_domain})."


def _registrable(host: str) -> str:
    host = host.lower().strip(".")
    return host[4:] if host.startswith("www.") else host


def domain_check(req: AccessRequest) -> DomainCheck:
    """Compare the address's domain with the host of the municipality's website."""
    domain = req.email_domain
    site = (req.organisation.website or "").strip()
    host = _registrable((urlsplit(site if "//" in site else "//" + site).hostname or "") if site else "")
    if not host:
        return DomainCheck("unknown", domain, "")
    ok = domain == host or domain.endswith("." + host) or host.endswith("." + domain)
    return DomainCheck("match" if ok else "mismatch", domain, host)


def list_requests(session: Session, user: Any, status: str = "pending", limit: int = 200) -> list[AccessRequest]:
    """Return the requests user may decide, newest first (only pending ones unless status says else)."""
    if not is_moderator(user):
        raise Forbidden("Nur Koordinationen und Plattform-Admins entscheiden über Zugangsanträge.")
    q = select(AccessRequest).order_by(AccessRequest.created_at.desc(), AccessRequest.id.desc()).limit(limit)
    if status in ("pending", "approved", "refused"):
        q = q.where(AccessRequest.status == status)
    else:
        q = q.where(AccessRequest.status != "unconfirmed")
    orgs = moderated_organisations(user)
    if orgs is not None:
        q = q.where(AccessRequest.organisation_id.in_(orgs))
    return [r for r in session.scalars(q) if can(user, "access_request.decide", r.organisation)]


def get_request(session: Session, user: Any, request_id: int) -> AccessRequest:
    """Return a confirmed request user may decide; NotFound otherwise (nobody learns it exists)."""
    req = session.get(AccessRequest, request_id)
    if req is None or req.status == "unconfirmed" or not can(user, "access_request.decide", req.organisation):
        raise NotFound("Diesen Zugangsantrag gibt es nicht.")
    return req


def _decidable(session: Session, user: Any, request_id: int) -> AccessRequest:
    req = get_request(session, user, request_id)
    if req.status != "pending":
        raise Conflict(f"Über diesen Antrag ist schon entschieden ({req.status_label}).")
    return req


def _resolve_notifications(session: Session, req: AccessRequest) -> None:
    """Mark every decider's notice of the request read: nobody is left a stale "wartet" note."""
    session.execute(update(Notification).where(Notification.link == request_link(req.id),
                                               Notification.read_at.is_(None)).values(read_at=utcnow()))


def approve(session: Session, config: Mapping[str, Any], user: Any, request_id: int,
            network_ids: list[int], set_password_link: Callable[[str], str]) -> User:
    """Create the account of a pending request and e-mail it a link to set the password."""
    req = _decidable(session, user, request_id)
    require(user, "access_request.decide", req.organisation)
    networks: list[Network] = []
    if req.role != "officer":
        if not can(user, "user.invite_any_role"):
            raise Forbidden("Über Anträge auf eine Koordinationsrolle entscheiden nur Plattform-Admins.")
        ids = [int(i) for i in network_ids if str(i).isdigit()]
        networks = list(session.scalars(select(Network).where(Network.id.in_(ids or [-1])).order_by(Network.name)))
        if not networks:
            raise Invalid({"network_ids": ["Bitte mindestens ein Netzwerk wählen, das die Person koordiniert."]})
    if session.scalar(select(User.id).where(func.lower(User.email) == req.email)) is not None:
        raise Conflict("Zu dieser E-Mail-Adresse gibt es inzwischen ein Konto. Bitte lehnen Sie den Antrag ab.")
    # Nobody knows this password; the person chooses their own through the link.
    account = accounts.create_user(session, req.email, req.name, secrets.token_urlsafe(24), req.role,
                                   req.organisation, networks)
    req.status, req.decided_at, req.decided_by_id, req.user_id = "approved", utcnow(), user.id, account.id
    audit.record(session, user, "access_request.approved", req, user_id=account.id,
                 networks=[n.id for n in networks])
    _resolve_notifications(session, req)
    flush(session)
    days = int(config["INVITATION_SECONDS"]) // 86400
    msg = new_message(req.email, "Marktplatz: Ihr Zugang ist freigeschaltet")
    msg.set_content("\n".join([
        f"Guten Tag {req.name},", "",
        f"Ihr Antrag auf einen Zugang für {req.organisation.name} wurde angenommen.", "",
        f"Mit diesem Link legen Sie Ihr Passwort fest (gültig {days} Tage, nur einmal verwendbar):", "",
        set_password_link(accounts.password_link_token(config, account, "set-password")), "",
        "Danach melden Sie sich mit Ihrer E-Mail-Adresse und diesem Passwort an.", "",
    ]))
    _send(config, msg)
    log.info("access request %s approved by user %s: account %s", req.id, user.id, account.id)
    return account


def refuse(session: Session, config: Mapping[str, Any], user: Any, request_id: int, reason: str) -> AccessRequest:
    """Refuse a pending request and e-mail the reason to the person."""
    req = _decidable(session, user, request_id)
    require(user, "access_request.decide", req.organisation)
    reason = (reason or "").strip()
    if len(reason) < 10 or len(reason) > 2000:
        raise Invalid({"reason": ["Bitte begründen Sie die Ablehnung in 10 bis 2000 Zeichen; "
                                  "die Begründung geht an die Person."]})
    req.status, req.decided_at, req.decided_by_id, req.decision_reason = "refused", utcnow(), user.id, reason
    audit.record(session, user, "access_request.refused", req, comment=reason)
    _resolve_notifications(session, req)
    flush(session)
    msg = new_message(req.email, "Marktplatz: Ihr Zugangsantrag wurde abgelehnt")
    msg.set_content("\n".join([
        f"Guten Tag {req.name},", "",
        f"Ihr Antrag auf einen Zugang für {req.organisation.name} wurde leider abgelehnt.", "",
        "Begründung:", reason, "",
        "Bei Fragen wenden Sie sich bitte an die Koordination Ihres Netzwerks oder an die Plattformverwaltung.", "",
    ]))
    _send(config, msg)
    log.info("access request %s refused by user %s", req.id, user.id)
    return req
