"""Administration (admins): find and manage users, networks, municipalities; reference data; audit log.

Every change is audited; who may act is the permission table's (user.manage, network.edit,
organisation.edit, reference.view, audit.view_all). Destructive changes are confirmed by the
edge before it calls a service here.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from ..core.text import strip_bidi
from ..models import (
    AuditEvent,
    JoinRequest,
    Land,
    Lebenslage,
    LeikaLeistung,
    Network,
    NetworkCoordinator,
    NetworkInvitation,
    NetworkMembership,
    Organisation,
    OzgLeistung,
    Themenfeld,
    User,
    utcnow,
)
from ..models.user import ROLES
from . import audit, reference
from .common import flush, require
from .errors import Conflict, Invalid, NotFound
from .legal import EMAIL_RE
from .listing_query import Page

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s<>\"]*$", re.IGNORECASE)


def _page_numbers(page: Any, size: Any) -> tuple[int, int]:
    """Return a page number >= 1 and a page size within 1..MAX_PAGE_SIZE from raw input."""
    def number(raw: Any, default: int) -> int:
        try:
            return int(str(raw)[:6])
        except (TypeError, ValueError):
            return default
    return max(1, number(page, 1)), min(MAX_PAGE_SIZE, max(1, number(size, DEFAULT_PAGE_SIZE)))


def _like(text: str) -> str:
    return "%" + text.replace("\\", "").replace("%", "").replace("_", "").lower() + "%"


def _paged(session: Session, q: Any, page: int, size: int) -> Page:
    total = session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    pages = max(1, -(-total // size))
    page = min(page, pages)
    return Page(list(session.scalars(q.limit(size).offset((page - 1) * size))), total, page, size)


# --- users ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UserQuery:
    """Filters of the user list, from the edge's vocabulary."""

    text: str = ""  # part of name or e-mail address
    role: str = ""
    status: str = ""  # aktiv | inaktiv | "" (all)
    ags: str = ""  # the municipality
    page: Any = 1
    size: Any = DEFAULT_PAGE_SIZE


def search_users(session: Session, actor: Any, query: UserQuery) -> Page:
    """Return one page of users matching query, by name."""
    require(actor, "user.manage")
    q = select(User).order_by(func.lower(User.name), User.id)
    text = (query.text or "").strip()[:200]
    if text:
        q = q.where(or_(func.lower(User.name).like(_like(text)), func.lower(User.email).like(_like(text))))
    if query.role in ROLES:
        q = q.where(User.role == query.role)
    if query.status in ("aktiv", "inaktiv"):
        q = q.where(User.active.is_(query.status == "aktiv"))
    ags = (query.ags or "").strip()[:8]
    if ags:
        q = q.where(User.organisation_id.in_(select(Organisation.id).where(Organisation.ags == ags)))
    page, size = _page_numbers(query.page, query.size)
    return _paged(session, q, page, size)


def get_user(session: Session, actor: Any, user_id: int) -> User:
    """Return the user with this id (admins only)."""
    require(actor, "user.manage")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("Dieses Konto gibt es nicht.")
    return user


def set_active(session: Session, actor: Any, target: User, active: bool, comment: str = "") -> None:
    """Deactivate (ending every session) or reactivate an account; nobody deactivates themselves."""
    require(actor, "user.manage")
    if target.id == actor.id and not active:
        raise Conflict("Sie können Ihr eigenes Konto nicht deaktivieren. Bitten Sie eine andere Administratorin.")
    if bool(target.active) == active:
        raise Conflict("Das Konto ist bereits " + ("aktiv." if active else "deaktiviert."))
    target.active = active
    if not active:
        target.session_token = secrets.token_hex(8)  # signed-in browsers of the person stop working
    audit.record(session, actor, "user.reactivated" if active else "user.deactivated", target,
                 comment=(comment or "").strip()[:2000])
    flush(session)
    log.info("user %s %s by user %s", target.id, "reactivated" if active else "deactivated", actor.id)


def change_role(session: Session, actor: Any, target: User, role: str, ags: str, network_ids: list[Any]) -> None:
    """Set role, municipality and coordinated networks of an account (admins; not their own role)."""
    require(actor, "user.manage")
    errors: dict[str, list[str]] = {}
    if role not in ROLES:
        errors["role"] = ["Bitte eine der angebotenen Rollen wählen."]
    if target.id == actor.id and role != target.role:
        errors["role"] = ["Ihre eigene Rolle ändert eine andere Administratorin, damit niemand sich aussperrt."]
    ags = (ags or "").strip()
    org = session.scalar(select(Organisation).where(Organisation.ags == ags[:8])) if ags else None
    if ags and org is None:
        errors["ags"] = ["Zu diesem Gemeindeschlüssel kennen wir keine Kommune."]
    elif role == "officer" and org is None:
        errors["ags"] = ["Digitalbeauftragte gehören zu einer Kommune: bitte den Gemeindeschlüssel (AGS) angeben."]
    ids = sorted({int(i) for i in network_ids if str(i).isdigit() and len(str(i)) < 10})
    nets = list(session.scalars(select(Network).where(Network.id.in_(ids or [-1]))))
    if role == "officer":
        nets = []  # officers coordinate nothing
    elif role == "coordinator" and not nets:
        errors["network_ids"] = ["Koordinatorinnen und Koordinatoren brauchen mindestens ein Netzwerk."]
    if errors:
        raise Invalid(errors)
    before = {"role": target.role, "organisation_id": target.organisation_id,
              "networks": sorted(target.coordinated_network_ids)}
    wanted = {n.id for n in nets}
    for row in list(target.coordinations):
        if row.network_id not in wanted:
            target.coordinations.remove(row)
    have = target.coordinated_network_ids
    for net in nets:
        if net.id not in have:
            target.coordinations.append(NetworkCoordinator(network=net))
    target.role, target.organisation = role, org
    after = {"role": role, "organisation_id": org.id if org else None, "networks": sorted(wanted)}
    if before == after:
        return
    audit.record(session, actor, "user.role_changed", target, before=before, after=after)
    flush(session)
    log.info("user %s re-roled by user %s", target.id, actor.id)


# --- networks ------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkRow:
    """A network in the admin list with its member and coordinator counts."""

    network: Network
    members: int
    coordinators: int


def list_all_networks(session: Session, actor: Any) -> list[NetworkRow]:
    """Return every network, archived ones included, with counts (admins)."""
    require(actor, "network.edit")
    members = dict(session.execute(select(NetworkMembership.network_id, func.count(NetworkMembership.id))
                                   .group_by(NetworkMembership.network_id)).all())
    coords = dict(session.execute(select(NetworkCoordinator.network_id, func.count(NetworkCoordinator.id))
                                  .group_by(NetworkCoordinator.network_id)).all())
    nets = session.scalars(select(Network).order_by(Network.archived_at.is_not(None), func.lower(Network.name)))
    return [NetworkRow(n, members.get(n.id, 0), coords.get(n.id, 0)) for n in nets]


def _name_key(name: str) -> str:
    return re.sub(r"\s+", " ", name or "").strip().casefold()


def same_name_networks(session: Session, name: str, exclude_id: int | None = None) -> list[Network]:
    """Return the networks whose name equals name, ignoring case and spacing."""
    key = _name_key(name)
    # Networks are few (hundreds at most); comparing in Python catches doubled spaces too.
    return [n for n in session.scalars(select(Network).order_by(Network.id))
            if _name_key(n.name) == key and n.id != exclude_id]


def duplicate_name_error(session: Session, name: str, exclude_id: int | None = None) -> Invalid | None:
    """Return the warning for a name another network already has (None if it is free)."""
    same = same_name_networks(session, name, exclude_id)
    if not same:
        return None
    return Invalid({"name": [f"Ein Netzwerk „{same[0].name}“ gibt es schon ({same[0].slug}). Meinen Sie dieses? "
                             "Wenn es wirklich ein anderes ist, kreuzen Sie „Trotzdem unter diesem Namen "
                             "speichern“ an."]}, message="duplicate_name")


def edit_network(session: Session, actor: Any, net: Network, data: dict[str, Any],
                 allow_duplicate_name: bool = False) -> None:
    """Change name, description, website and publishing policy of a network; warn on a name another one has.

    direct_publish (if given) lets the members publish without review (roles.py decides
    who may, from it); the change is audited like the others.
    """
    require(actor, "network.edit", net)
    name = strip_bidi(str(data.get("name") or "")).strip()
    description = str(data.get("description") or "").strip()
    website = str(data.get("website") or "").strip()
    errors: dict[str, list[str]] = {}
    if len(name) < 3 or len(name) > 200:
        errors["name"] = ["Bitte einen Namen mit 3 bis 200 Zeichen angeben."]
    if len(description) > 5000:
        errors["description"] = ["Bitte höchstens 5000 Zeichen."]
    if website and (not URL_RE.match(website) or len(website) > 300):
        errors["website"] = ["Bitte eine Adresse wie https://www.netzwerk.de angeben oder das Feld leer lassen."]
    if errors:
        raise Invalid(errors)
    if not allow_duplicate_name and _name_key(name) != _name_key(net.name):
        dup = duplicate_name_error(session, name, net.id)
        if dup is not None:
            raise dup
    before = {"name": net.name, "description": net.description, "website": net.website,
              "direct_publish": net.direct_publish}
    net.name, net.description, net.website = name, description, website or None
    if "direct_publish" in data:
        net.direct_publish = bool(data["direct_publish"])
    changed = [k for k, v in before.items() if v != getattr(net, k)]
    if not changed:
        return
    audit.record(session, actor, "network.edited", net, changed=changed, before_name=before["name"])
    flush(session)


def archive_network(session: Session, actor: Any, net: Network, archived: bool) -> None:
    """Archive a network (it leaves the overview and takes no new members) or bring it back."""
    require(actor, "network.edit", net)
    if (net.archived_at is not None) == archived:
        raise Conflict("Das Netzwerk ist bereits " + ("archiviert." if archived else "aktiv."))
    net.archived_at = utcnow() if archived else None
    audit.record(session, actor, "network.archived" if archived else "network.unarchived", net)
    flush(session)


def delete_network(session: Session, actor: Any, net: Network) -> str:
    """Delete a network without members (with its coordinators, requests, invitations); return its name."""
    require(actor, "network.edit", net)
    members = session.scalar(select(func.count(NetworkMembership.id)).where(NetworkMembership.network_id == net.id))
    if members:
        raise Conflict(f"„{net.name}“ hat {members} Mitglied{'er' if members != 1 else ''} und wird nicht gelöscht. "
                       "Archivieren Sie es stattdessen.")
    name = net.name
    audit.record(session, actor, "network.deleted", net, name=name, slug=net.slug,
                 coordinators=sorted(c.user_id for c in net.coordinators))
    session.execute(delete(JoinRequest).where(JoinRequest.network_id == net.id))
    session.execute(delete(NetworkInvitation).where(NetworkInvitation.network_id == net.id))
    session.delete(net)
    flush(session)
    log.info("network %s deleted by user %s", net.id, actor.id)
    return name


# --- municipalities ------------------------------------------------------------------


def search_organisations(session: Session, actor: Any, text: str, page: Any = 1) -> Page:
    """Return one page of organisations whose name, AGS or key matches text (admins)."""
    require(actor, "user.manage")
    text = (text or "").strip()[:200]
    q = select(Organisation).order_by(Organisation.population.desc().nulls_last(), Organisation.name)
    if text.isdigit():
        q = q.where(or_(Organisation.ags == text, Organisation.key == text))
    elif text:
        q = q.where(or_(func.lower(Organisation.name).like(_like(text)),
                        func.lower(Organisation.short_name).like(_like(text))))
    else:  # without a search: those that have people on the platform
        q = q.where(Organisation.id.in_(select(User.organisation_id).where(User.organisation_id.is_not(None))))
    number, size = _page_numbers(page, DEFAULT_PAGE_SIZE)
    return _paged(session, q, number, size)


def get_organisation(session: Session, key: str) -> Organisation:
    """Return the organisation with this URL key or raise NotFound."""
    org = session.scalar(select(Organisation).where(Organisation.key == (key or "")[:40]))
    if org is None:
        raise NotFound("Diese Kommune gibt es nicht.")
    return org


def officers_of(session: Session, org: Organisation) -> list[User]:
    """Return the accounts that act for org (active first)."""
    return list(session.scalars(select(User).where(User.organisation_id == org.id)
                                .order_by(User.active.desc(), func.lower(User.name))))


def edit_organisation(session: Session, actor: Any, org: Organisation, website: str, contact_email: str) -> None:
    """Change a municipality's website and contact address."""
    require(actor, "organisation.edit", org)
    website, contact_email = (website or "").strip(), (contact_email or "").strip().lower()
    errors: dict[str, list[str]] = {}
    if website and (not URL_RE.match(website) or len(website) > 300):
        errors["website"] = ["Bitte eine Adresse wie https://www.kommune.de angeben oder das Feld leer lassen."]
    if contact_email and (not EMAIL_RE.match(contact_email) or len(contact_email) > 254):
        errors["contact_email"] = ["Bitte eine gültige E-Mail-Adresse angeben, z. B. digital@kommune.de, "
                                   "oder das Feld leer lassen."]
    if errors:
        raise Invalid(errors)
    before = {"website": org.website, "contact_email": org.contact_email}
    org.website, org.contact_email = website or None, contact_email or None
    changed = [k for k, v in before.items() if v != getattr(org, k)]
    if not changed:
        return
    audit.record(session, actor, "organisation.edited", org, changed=changed, before=before)
    flush(session)


# --- reference data ------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceSet:
    """One shipped reference data set: its file, version and how many rows are loaded."""

    label: str
    file: str
    version: str
    source: str
    in_file: int
    loaded: int


@functools.cache
def _rows_in(name: str) -> int:
    return sum(1 for _ in reference.read_csv(name))


def _version(name: str) -> str:
    found = re.search(r"(\d{4})-(\d{2})-(\d{2})", name)
    if found:
        return f"Gebietsstand {found.group(3)}.{found.group(2)}.{found.group(1)}"
    stamp = datetime.fromtimestamp(os.path.getmtime(os.path.join(reference.DATA_DIR, name + ".gz")), UTC)
    return f"Datei vom {stamp:%d.%m.%Y}"


def reference_sets(session: Session, actor: Any) -> list[ReferenceSet]:
    """Return the shipped reference data sets with their versions and loaded counts (admins)."""
    require(actor, "reference.view")
    def count(q: Any) -> int:
        return session.scalar(q) or 0
    destatis, ozg = "Destatis GV100AD", "OZG-Informationsplattform / FIM"
    rows = [
        ("Länder", "laender_de_gv100ad_2023-11-30.csv", destatis, count(select(func.count()).select_from(Land))),
        ("Kreise", "kreise_de_gv100ad_2023-11-30.csv", destatis,
         count(select(func.count(Organisation.id)).where(Organisation.kind == "kreis"))),
        ("Gemeinden", "gemeinden_de_gv100ad_2023-11-30.csv", destatis,
         count(select(func.count(Organisation.id)).where(Organisation.ags.is_not(None)))),
        ("OZG-Themenfelder", "ozg_themenfelder.csv", ozg, count(select(func.count()).select_from(Themenfeld))),
        ("OZG-Lebenslagen", "ozg_lebenslagen.csv", ozg, count(select(func.count()).select_from(Lebenslage))),
        ("OZG-Leistungen", "ozg_leistungen.csv", ozg, count(select(func.count()).select_from(OzgLeistung))),
        ("LeiKa-Leistungen", "leika_leistungen_ozg.csv", ozg, count(select(func.count()).select_from(LeikaLeistung))),
    ]
    return [ReferenceSet(label, name + ".gz", _version(name), source, _rows_in(name), loaded)
            for label, name, source, loaded in rows]


# --- audit log -----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the global audit log, from the edge's vocabulary."""

    actor: str = ""  # part of the actor's e-mail address or name
    ags: str = ""  # the municipality's AGS or key
    action: str = ""  # an action, or its area such as "user."
    since: str = ""  # YYYY-MM-DD
    until: str = ""  # YYYY-MM-DD, inclusive
    page: Any = 1
    size: Any = DEFAULT_PAGE_SIZE


@dataclass
class AuditPage:
    """One page of the audit log with the actors and organisations it names."""

    page: Page
    actors: dict[int, User] = field(default_factory=dict)
    organisations: dict[int, Organisation] = field(default_factory=dict)


def _day(raw: str, field_name: str, errors: dict[str, list[str]]) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        errors[field_name] = ["Bitte ein Datum wie 2026-12-01 angeben."]
        return None


def audit_actions(session: Session, actor: Any) -> list[str]:
    """Return every action recorded in the audit log, sorted."""
    require(actor, "audit.view_all")
    return sorted(session.scalars(select(AuditEvent.action).distinct()))


def audit_log(session: Session, actor: Any, query: AuditQuery) -> AuditPage:
    """Return one page of the global audit log, newest first, filtered by query (admins)."""
    require(actor, "audit.view_all")
    errors: dict[str, list[str]] = {}
    since, until = _day(query.since, "von", errors), _day(query.until, "bis", errors)
    if since and until and since > until:
        errors["bis"] = ["Das Ende liegt vor dem Anfang."]
    if errors:
        raise Invalid(errors)
    q = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    who = (query.actor or "").strip()[:254]
    if who:
        q = q.where(AuditEvent.actor_id.in_(select(User.id).where(or_(
            func.lower(User.email).like(_like(who)), func.lower(User.name).like(_like(who))))))
    ags = (query.ags or "").strip()[:40]
    if ags:
        q = q.where(AuditEvent.organisation_id.in_(select(Organisation.id).where(
            or_(Organisation.ags == ags, Organisation.key == ags))))
    action = (query.action or "").strip()[:60]
    if action.endswith("."):
        q = q.where(AuditEvent.action.like(action.replace("%", "").replace("_", r"\_") + "%", escape="\\"))
    elif action:
        q = q.where(AuditEvent.action == action)
    if since:
        q = q.where(AuditEvent.created_at >= datetime.combine(since, time.min, UTC))
    if until:
        q = q.where(AuditEvent.created_at < datetime.combine(until + timedelta(days=1), time.min, UTC))
    page, size = _page_numbers(query.page, query.size)
    found = _paged(session, q, page, size)
    actor_ids = {e.actor_id for e in found.items if e.actor_id}
    org_ids = {e.organisation_id for e in found.items if e.organisation_id}
    actors = {u.id: u for u in session.scalars(select(User).where(User.id.in_(actor_ids or [-1])))}
    orgs = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(org_ids or [-1])))}
    return AuditPage(found, actors, orgs)
