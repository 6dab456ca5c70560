"""Networks: creation, coordinators, members, join requests and invitations.

A municipality becomes a member only with consent: by its own join request approved by a
coordinator, by an invitation one of its officers accepts, or by an admin (audited).
Coordinators' powers over a municipality follow from the membership, so nothing else may
create one (the demo loader and backup restore aside).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..core.text import strip_bidi
from ..models import (
    JoinRequest,
    Listing,
    ListingStatus,
    Network,
    NetworkCoordinator,
    NetworkInvitation,
    NetworkMembership,
    Organisation,
    Reuse,
    User,
    utcnow,
)
from ..permissions import can, listing_visibility_filter
from . import audit
from .common import flush, require, slugify, unique_slug
from .errors import Conflict, Invalid, NotFound

log = logging.getLogger(__name__)


def list_networks(session: Session, include_archived: bool = False) -> list[Network]:
    """Return the networks ordered by name (archived ones only when asked for)."""
    q = select(Network).order_by(Network.name)
    if not include_archived:
        q = q.where(Network.archived_at.is_(None))
    return list(session.scalars(q))


def _require_open(network: Network) -> None:
    """Refuse new members, invitations and join requests for an archived network."""
    if network.archived_at is not None:
        raise Conflict(f"Das Netzwerk „{network.name}“ ist archiviert und nimmt keine neuen Mitglieder auf.")


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
    session: Session, user: User, name: str, description: str = "", website: str | None = None,
    allow_duplicate_name: bool = True,
) -> Network:
    """Create a network (platform admins only); with allow_duplicate_name false, refuse a taken name."""
    require(user, "network.create")
    name = strip_bidi(name or "").strip()
    if len(name) < 3:
        raise Invalid({"name": ["Bitte einen Namen mit mindestens 3 Zeichen angeben."]})
    website = (website or "").strip()
    from .admin import URL_RE

    if website and (not URL_RE.match(website) or len(website) > 300):
        raise Invalid({"website": ["Bitte eine Adresse wie https://www.netzwerk.de angeben oder das Feld leer lassen."]})
    if not allow_duplicate_name:
        from .admin import duplicate_name_error

        if (dup := duplicate_name_error(session, name)) is not None:
            raise dup
    net = Network(
        name=name[:200],
        slug=unique_slug(session, Network, slugify(name, 60)),
        description=(description or "").strip(),
        website=website or None,
    )
    session.add(net)
    session.flush()
    audit.record(session, user, "network.created", net)
    flush(session)
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
    flush(session)
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
    flush(session)


def _find_org(session: Session, ident: str) -> Organisation:
    ident = (ident or "").strip()
    if not ident:
        raise Invalid({"organisation": ["Bitte den Amtlichen Gemeindeschlüssel (AGS, 8 Ziffern) angeben."]})
    org = session.scalar(select(Organisation).where((Organisation.ags == ident) | (Organisation.key == ident)))
    if org is None:
        raise Invalid({"organisation": ["Keine Kommune mit diesem AGS oder Schlüssel gefunden."]})
    return org


MESSAGE_MAX = 2000


def _message(text: str | None, field: str = "message") -> str:
    text = (text or "").strip()
    if len(text) > MESSAGE_MAX:
        raise Invalid({field: [f"Bitte höchstens {MESSAGE_MAX} Zeichen (jetzt {len(text)})."]})
    return text


def _is_member(session: Session, network: Network, organisation_id: int) -> bool:
    return session.scalar(
        select(NetworkMembership.id).where(NetworkMembership.network_id == network.id,
                                           NetworkMembership.organisation_id == organisation_id)
    ) is not None


def _admit(session: Session, actor: User, network: Network, org: Organisation) -> NetworkMembership:
    """Add the membership and close what asked for it (the one place that creates memberships).

    Callers have established consent (an accepted invitation, an approved join request) or
    are an admin. Open invitations and join requests of the pair are settled with it, so
    none of them can be answered a second time.
    """
    _require_open(network)
    organisation_id = org.id
    row = NetworkMembership(network=network, organisation=org)  # keeps both collections current
    session.add(row)
    now = utcnow()
    for inv in session.scalars(select(NetworkInvitation).where(
            NetworkInvitation.network_id == network.id, NetworkInvitation.organisation_id == organisation_id,
            NetworkInvitation.status == "pending")):
        # Accepted only by the officer who answered it; any other open one is obsolete.
        inv.status, inv.decided_at, inv.decided_by_id = "withdrawn", now, actor.id
    for req in session.scalars(select(JoinRequest).where(
            JoinRequest.network_id == network.id, JoinRequest.organisation_id == organisation_id,
            JoinRequest.status == "pending")):
        req.status, req.decided_at, req.decided_by_id = "approved", now, actor.id
    return row


def _drop(session: Session, row: NetworkMembership) -> None:
    """Delete the membership and forget the loaded collections that held it."""
    network, org = row.network, row.organisation
    session.delete(row)
    session.flush()
    session.expire(network, ["memberships"])
    session.expire(org, ["memberships"])


def add_member(session: Session, user: User, network: Network, ident: str) -> NetworkMembership:
    """Add the municipality with this AGS (or key) to network directly (admins only, audited)."""
    require(user, "network.add_member", network)
    org = _find_org(session, ident)
    if _is_member(session, network, org.id):
        raise Conflict(f"{org.short_name} ist bereits Mitglied.")
    row = _admit(session, user, network, org)
    audit.record(session, user, "network.member_added", network, organisation_id=org.id, direct=True)
    flush(session)
    log.info("organisation %s added to network %s by admin %s", org.id, network.id, user.id)
    return row


def remove_member(session: Session, user: User, network: Network, organisation_id: int,
                  comment: str = "") -> None:
    """Remove a member municipality from network and tell its officers."""
    require(user, "network.manage_members", network)
    comment = _message(comment, "comment")
    row = session.scalar(
        select(NetworkMembership).where(
            NetworkMembership.network_id == network.id, NetworkMembership.organisation_id == organisation_id
        )
    )
    if row is None:
        raise NotFound("Diese Kommune ist kein Mitglied.")
    _drop(session, row)
    audit.record(session, user, "network.member_removed", network, comment=comment,
                 organisation_id=organisation_id)
    flush(session)
    log.info("organisation %s removed from network %s by user %s", organisation_id, network.id, user.id)


def leave_network(session: Session, user: User, network: Network) -> None:
    """Take the officer's municipality out of network; its officers and the coordinators are told."""
    require(user, "network.leave", network)
    org = user.organisation
    row = session.scalar(
        select(NetworkMembership).where(
            NetworkMembership.network_id == network.id, NetworkMembership.organisation_id == org.id
        )
    )
    if row is None:  # left meanwhile in another request
        raise Conflict("Ihre Kommune ist kein Mitglied dieses Netzwerks.")
    _drop(session, row)
    audit.record(session, user, "network.member_left", network, organisation_id=org.id)
    flush(session)
    log.info("organisation %s left network %s (user %s)", org.id, network.id, user.id)


def invite(session: Session, user: User, network: Network, ident: str, message: str = "") -> NetworkInvitation:
    """Invite the municipality with this AGS (or key) into network; its officers decide."""
    require(user, "network.invite", network)
    _require_open(network)
    org = _find_org(session, ident)
    message = _message(message)
    if _is_member(session, network, org.id):
        raise Conflict(f"{org.short_name} ist bereits Mitglied.")
    open_invitation = session.scalar(select(NetworkInvitation.id).where(
        NetworkInvitation.network_id == network.id, NetworkInvitation.organisation_id == org.id,
        NetworkInvitation.status == "pending"))
    if open_invitation is not None:
        raise Conflict(f"{org.short_name} ist bereits eingeladen; die Antwort steht noch aus.")
    open_request = session.scalar(select(JoinRequest.id).where(
        JoinRequest.network_id == network.id, JoinRequest.organisation_id == org.id,
        JoinRequest.status == "pending"))
    if open_request is not None:
        raise Conflict(f"{org.short_name} hat den Beitritt bereits angefragt. "
                       "Bitte entscheiden Sie über die Beitrittsanfrage.")
    inv = NetworkInvitation(network=network, organisation_id=org.id, invited_by_id=user.id, message=message)
    session.add(inv)
    session.flush()
    audit.record(session, user, "network.invitation_sent", network, invitation_id=inv.id,
                 organisation_id=org.id)
    flush(session)
    log.info("organisation %s invited into network %s by user %s", org.id, network.id, user.id)
    return inv


def _invitation(session: Session, invitation_id: int, network: Network | None) -> NetworkInvitation:
    inv = session.get(NetworkInvitation, invitation_id)
    if inv is None or (network is not None and inv.network_id != network.id):
        raise NotFound("Diese Einladung gibt es nicht.")
    return inv


def respond_to_invitation(session: Session, user: User, invitation_id: int, accept: bool,
                          network: Network | None = None) -> NetworkInvitation:
    """Accept or decline an invitation for the officer's municipality; accepting makes it a member."""
    inv = _invitation(session, invitation_id, network)
    require(user, "invitation.respond", inv)
    if inv.status != "pending":
        raise Conflict("Über diese Einladung wurde bereits entschieden oder sie wurde zurückgezogen.")
    network = inv.network
    if accept and _is_member(session, network, inv.organisation_id):
        raise Conflict("Ihre Kommune ist bereits Mitglied dieses Netzwerks.")
    if accept:
        _admit(session, user, network, inv.organisation)
    inv.status = "accepted" if accept else "declined"
    inv.decided_at = utcnow()
    inv.decided_by_id = user.id
    audit.record(session, user, f"network.invitation_{inv.status}", network, invitation_id=inv.id,
                 organisation_id=inv.organisation_id)
    flush(session)
    log.info("invitation %s %s by user %s", inv.id, inv.status, user.id)
    return inv


def withdraw_invitation(session: Session, user: User, invitation_id: int,
                        network: Network | None = None) -> NetworkInvitation:
    """Withdraw an open invitation (coordinators of its network, admins)."""
    inv = _invitation(session, invitation_id, network)
    require(user, "network.manage_members", inv.network)
    if inv.status != "pending":
        raise Conflict("Über diese Einladung wurde bereits entschieden oder sie wurde zurückgezogen.")
    inv.status = "withdrawn"
    inv.decided_at = utcnow()
    inv.decided_by_id = user.id
    audit.record(session, user, "network.invitation_withdrawn", inv.network, invitation_id=inv.id,
                 organisation_id=inv.organisation_id)
    flush(session)
    return inv


def pending_invitations(session: Session, network: Network) -> list[NetworkInvitation]:
    """Return the open invitations of network, oldest first."""
    return list(session.scalars(
        select(NetworkInvitation)
        .where(NetworkInvitation.network_id == network.id, NetworkInvitation.status == "pending")
        .order_by(NetworkInvitation.created_at, NetworkInvitation.id)
    ))


def invitations_for(session: Session, user: Any, network: Network | None = None) -> list[NetworkInvitation]:
    """Return the open invitations the user may answer for their municipality (optionally of one network)."""
    org_id = getattr(user, "organisation_id", None) if getattr(user, "is_authenticated", False) else None
    if org_id is None:
        return []
    q = select(NetworkInvitation).where(NetworkInvitation.organisation_id == org_id,
                                        NetworkInvitation.status == "pending")
    if network is not None:
        q = q.where(NetworkInvitation.network_id == network.id)
    found = session.scalars(q.order_by(NetworkInvitation.created_at, NetworkInvitation.id))
    return [inv for inv in found if can(user, "invitation.respond", inv)]


def request_join(session: Session, user: User, network: Network, message: str = "") -> JoinRequest:
    """Ask that the officer's municipality join network; coordinators are notified."""
    require(user, "network.request_join", network)
    _require_open(network)
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
    if invitations_for(session, user, network):
        raise Conflict("Ihre Kommune ist bereits eingeladen. Bitte nehmen Sie die Einladung an.")
    req = JoinRequest(
        network=network,
        organisation_id=user.organisation_id,
        requested_by_id=user.id,
        message=(message or "").strip()[:2000],
    )
    session.add(req)
    session.flush()
    audit.record(session, user, "network.join_requested", network, join_request_id=req.id)
    flush(session)
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


def join_request_for(session: Session, user: User, network: Network | None, request_id: int) -> JoinRequest:
    """Return an open join request that user may decide (of network, if given), or raise."""
    req = session.get(JoinRequest, request_id)
    if req is None or (network is not None and req.network_id != network.id):
        raise NotFound("Diese Beitrittsanfrage gibt es nicht.")
    require(user, "network.decide_join", req.network)
    if req.status != "pending":
        raise Conflict("Über diese Anfrage wurde bereits entschieden.")
    return req


def decide_join(session: Session, user: User, request_id: int, approve: bool, comment: str = "") -> JoinRequest:
    """Approve or decline a join request; approving adds the municipality."""
    req = join_request_for(session, user, None, request_id)
    if approve and not _is_member(session, req.network, req.organisation_id):
        _admit(session, user, req.network, req.organisation)
    req.status = "approved" if approve else "declined"
    req.decided_by_id = user.id
    req.decided_at = utcnow()
    req.decision_comment = (comment or "").strip()[:2000]
    audit.record(session, user, f"network.join_{req.status}", req.network, join_request_id=req.id,
                 organisation_id=req.organisation_id)
    flush(session)
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
