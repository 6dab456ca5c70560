"""Networks: creation, coordinators, members and join requests."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import (
    JoinRequest,
    Listing,
    ListingStatus,
    Network,
    NetworkCoordinator,
    NetworkMembership,
    Organisation,
    Reuse,
    User,
    utcnow,
)
from ..permissions import listing_visibility_filter
from . import audit, notify
from .common import commit, require, slugify, unique_slug
from .errors import Conflict, Invalid, NotFound

log = logging.getLogger(__name__)


def list_networks(session: Session) -> list[Network]:
    """Return all networks ordered by name."""
    return list(session.scalars(select(Network).order_by(Network.name)))


def get_network(session: Session, slug: str) -> Network:
    """Return the network with this slug or raise NotFound."""
    net = session.scalar(select(Network).where(Network.slug == slug))
    if net is None:
        raise NotFound("Dieses Netzwerk gibt es nicht.")
    return net


def member_counts(session: Session) -> dict[int, int]:
    """Return the number of member municipalities per network id."""
    rows = session.execute(
        select(NetworkMembership.network_id, func.count(NetworkMembership.id)).group_by(
            NetworkMembership.network_id
        )
    )
    return {nid: n for nid, n in rows}


def create_network(
    session: Session, user: User, name: str, description: str = "", website: str | None = None
) -> Network:
    """Create a network (platform admins only)."""
    require(user, "network.create")
    name = (name or "").strip()
    if len(name) < 3:
        raise Invalid({"name": ["Bitte einen Namen mit mindestens 3 Zeichen angeben."]})
    net = Network(
        name=name[:200],
        slug=unique_slug(session, Network, slugify(name, 60)),
        description=(description or "").strip(),
        website=(website or "").strip() or None,
    )
    session.add(net)
    session.flush()
    audit.record(session, user, "network.created", net)
    commit(session)
    log.info("network %s created by user %s", net.id, user.id)
    return net


def appoint_coordinator(session: Session, user: User, network: Network, email: str) -> NetworkCoordinator:
    """Appoint the account with this e-mail as coordinator of network (admins only)."""
    require(user, "network.appoint_coordinator", network)
    target = session.scalar(select(User).where(func.lower(User.email) == (email or "").strip().lower()))
    if target is None:
        raise Invalid({"email": ["Es gibt kein Konto mit dieser E-Mail-Adresse."]})
    if network.id in target.coordinated_network_ids:
        raise Conflict("Diese Person koordiniert das Netzwerk bereits.")
    row = NetworkCoordinator(network=network, user=target)
    session.add(row)
    if target.role == "officer":
        target.role = "coordinator"
    audit.record(session, user, "network.coordinator_appointed", network, coordinator_id=target.id)
    commit(session)
    notify.send(session, [target], "network", f"Sie koordinieren jetzt das Netzwerk „{network.name}“.",
                link=f"/netzwerke/{network.slug}")
    return row


def remove_coordinator(session: Session, user: User, network: Network, coordinator_user_id: int) -> None:
    """Remove a coordinator from network (admins only)."""
    require(user, "network.appoint_coordinator", network)
    row = session.scalar(
        select(NetworkCoordinator).where(
            NetworkCoordinator.network_id == network.id, NetworkCoordinator.user_id == coordinator_user_id
        )
    )
    if row is None:
        raise NotFound("Diese Person koordiniert das Netzwerk nicht.")
    session.delete(row)
    audit.record(session, user, "network.coordinator_removed", network, coordinator_id=coordinator_user_id)
    commit(session)


def _find_org(session: Session, ident: str) -> Organisation:
    ident = (ident or "").strip()
    org = session.scalar(select(Organisation).where((Organisation.ags == ident) | (Organisation.key == ident)))
    if org is None:
        raise Invalid({"organisation": ["Keine Kommune mit diesem AGS oder Schlüssel gefunden."]})
    return org


def add_member(session: Session, user: User, network: Network, ident: str) -> NetworkMembership:
    """Add the municipality with this AGS (or key) to network."""
    require(user, "network.manage_members", network)
    org = _find_org(session, ident)
    if network.id in org.network_ids:
        raise Conflict(f"{org.short_name} ist bereits Mitglied.")
    row = NetworkMembership(network=network, organisation=org)
    session.add(row)
    audit.record(session, user, "network.member_added", network, organisation_id=org.id)
    commit(session)
    return row


def remove_member(session: Session, user: User, network: Network, organisation_id: int) -> None:
    """Remove a member municipality from network."""
    require(user, "network.manage_members", network)
    row = session.scalar(
        select(NetworkMembership).where(
            NetworkMembership.network_id == network.id, NetworkMembership.organisation_id == organisation_id
        )
    )
    if row is None:
        raise NotFound("Diese Kommune ist kein Mitglied.")
    session.delete(row)
    audit.record(session, user, "network.member_removed", network, organisation_id=organisation_id)
    commit(session)


def request_join(session: Session, user: User, network: Network, message: str = "") -> JoinRequest:
    """Ask that the officer's municipality join network; coordinators are notified."""
    require(user, "network.request_join", network)
    if network.id in user.organisation.network_ids:
        raise Conflict("Ihre Kommune ist bereits Mitglied.")
    pending = session.scalar(
        select(JoinRequest).where(
            JoinRequest.network_id == network.id,
            JoinRequest.organisation_id == user.organisation_id,
            JoinRequest.status == "pending",
        )
    )
    if pending is not None:
        raise Conflict("Für Ihre Kommune liegt bereits eine offene Beitrittsanfrage vor.")
    req = JoinRequest(
        network=network,
        organisation_id=user.organisation_id,
        requested_by_id=user.id,
        message=(message or "").strip()[:2000],
    )
    session.add(req)
    session.flush()
    audit.record(session, user, "network.join_requested", network, join_request_id=req.id)
    commit(session)
    coords = [c.user for c in network.coordinators] or list(
        session.scalars(select(User).where(User.role == "admin", User.active.is_(True)))
    )
    notify.send(session, coords, "join_request",
                f"{user.organisation.short_name} möchte dem Netzwerk „{network.name}“ beitreten.",
                link=f"/netzwerke/{network.slug}")
    return req


def pending_requests(session: Session, network: Network) -> list[JoinRequest]:
    """Return the open join requests of network, oldest first."""
    return list(
        session.scalars(
            select(JoinRequest)
            .where(JoinRequest.network_id == network.id, JoinRequest.status == "pending")
            .order_by(JoinRequest.created_at)
        )
    )


def decide_join(session: Session, user: User, request_id: int, approve: bool, comment: str = "") -> JoinRequest:
    """Approve or decline a join request; approving adds the municipality."""
    req = session.get(JoinRequest, request_id)
    if req is None:
        raise NotFound("Diese Beitrittsanfrage gibt es nicht.")
    require(user, "network.decide_join", req.network)
    if req.status != "pending":
        raise Conflict("Über diese Anfrage wurde bereits entschieden.")
    req.status = "approved" if approve else "declined"
    req.decided_by_id = user.id
    req.decided_at = utcnow()
    req.decision_comment = (comment or "").strip()[:2000]
    if approve and req.network_id not in req.organisation.network_ids:
        session.add(NetworkMembership(network_id=req.network_id, organisation_id=req.organisation_id))
    audit.record(session, user, f"network.join_{req.status}", req.network, join_request_id=req.id,
                 organisation_id=req.organisation_id)
    commit(session)
    requester = session.get(User, req.requested_by_id) if req.requested_by_id else None
    verdict = "angenommen" if approve else "abgelehnt"
    notify.send(session, [requester], "join_decision",
                f"Ihre Beitrittsanfrage für „{req.network.name}“ wurde {verdict}."
                + (f" {req.decision_comment}" if req.decision_comment else ""),
                link=f"/netzwerke/{req.network.slug}")
    return req


def network_listings(session: Session, viewer: Any, network: Network, limit: int = 50) -> list[Listing]:
    """Return published listings of member municipalities that viewer may see."""
    member_ids = select(NetworkMembership.organisation_id).where(NetworkMembership.network_id == network.id)
    return list(
        session.scalars(
            select(Listing)
            .where(
                Listing.organisation_id.in_(member_ids),
                Listing.status == ListingStatus.PUBLISHED.value,
                listing_visibility_filter(viewer),
            )
            .order_by(Listing.published_at.desc())
            .limit(limit)
        )
    )


def network_summary(session: Session, viewer: Any, network: Network) -> dict[str, int]:
    """Return key numbers of network as the viewer may see them."""
    member_ids = select(NetworkMembership.organisation_id).where(NetworkMembership.network_id == network.id)
    visible = [Listing.organisation_id.in_(member_ids), Listing.status == ListingStatus.PUBLISHED.value,
               listing_visibility_filter(viewer)]
    return {
        "members": len(network.memberships),
        "listings": session.scalar(select(func.count(Listing.id)).where(*visible)) or 0,
        "reuses": session.scalar(
            select(func.count(Reuse.id)).join(Listing, Reuse.listing_id == Listing.id)
            .where(*visible, Reuse.stage != "discontinued")
        ) or 0,
        "offered": session.scalar(
            select(func.count(Listing.id)).where(*visible, Listing.reuse_offered.is_(True))
        ) or 0,
    }
