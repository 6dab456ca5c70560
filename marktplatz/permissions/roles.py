"""The role table and can(user, action, obj): who may act on what.

A permission is granted when the user holds one of the *relations* listed for the action
towards the object. Relations are computed by small functions below. Which state a listing
may move to is the lifecycle's table (services/lifecycle.py), which asks this module who
may act; who may see a listing is the visibility policy (permissions/visibility.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from ..models import (
    Listing,
    Network,
    NetworkCoordinator,
    NetworkInvitation,
    NetworkMembership,
    Organisation,
    ProcessEntry,
    ProcessRegister,
    Reuse,
    ReuseSuggestion,
    StatusUpdate,
    User,
)

# action -> relations that grant it. Keep this table complete: the authorisation tests are
# generated from it, so a new action without a row fails them.
PERMISSIONS: dict[str, frozenset[str]] = {
    "listing.create": frozenset({"owner", "admin"}),  # obj: the owner Organisation
    "listing.edit": frozenset({"owner", "admin"}),
    "listing.submit": frozenset({"owner", "admin"}),
    # Publishing without review: only where every network of the owner allows it (see
    # _rel_self_publisher); elsewhere a listing is published by a reviewer's approval.
    "listing.publish": frozenset({"self_publisher", "admin"}),
    "listing.archive": frozenset({"owner", "admin"}),
    "listing.restore": frozenset({"owner", "reviewer", "admin"}),
    "listing.post_status": frozenset({"owner", "admin"}),
    "listing.review": frozenset({"reviewer", "admin"}),
    "listing.mark_duplicate": frozenset({"reviewer", "admin"}),
    "listing.view_audit": frozenset({"owner", "reviewer", "admin"}),
    "listing.follow": frozenset({"signed_in"}),
    "listing.flag": frozenset({"officer"}),
    "reuse.declare": frozenset({"officer"}),  # obj: the Listing to be reused
    "reuse.update": frozenset({"reuser", "admin"}),  # obj: the Reuse
    # A reuse suggested by a publiccode.yml's usedBy: only the named municipality confirms
    # (declares it) or dismisses it; not the publisher, not a coordinator, not an admin.
    "reuse_suggestion.decide": frozenset({"suggested"}),  # obj: the ReuseSuggestion
    "organisation.edit": frozenset({"owner", "admin"}),
    "organisation.manage_tokens": frozenset({"owner", "admin"}),
    "organisation.manage_webhooks": frozenset({"owner", "admin"}),
    "network.create": frozenset({"admin"}),  # obj: None
    "network.appoint_coordinator": frozenset({"admin"}),
    # Membership needs the municipality's consent (join request or accepted invitation);
    # only admins add directly. manage_members: remove members, see and withdraw invitations.
    "network.manage_members": frozenset({"coordinator", "admin"}),  # obj: the Network
    "network.invite": frozenset({"coordinator", "admin"}),
    "network.add_member": frozenset({"admin"}),
    "network.leave": frozenset({"member"}),  # an officer of a member municipality
    "invitation.respond": frozenset({"invitee"}),  # obj: the NetworkInvitation
    "network.decide_join": frozenset({"coordinator", "admin"}),
    "network.request_join": frozenset({"officer"}),
    "network.view_dashboard": frozenset({"coordinator", "admin"}),
    "flag.resolve": frozenset({"reviewer", "admin"}),  # obj: the flagged Listing
    "user.create": frozenset({"admin"}),
    # Invitations: an officer invites colleagues of their municipality, a coordinator officers
    # of a member municipality (obj: the Organisation); only an admin invites other roles.
    "user.invite": frozenset({"owner", "coordinator", "admin"}),
    "user.invite_any_role": frozenset({"admin"}),  # obj: None
    "feedback.view": frozenset({"admin"}),  # obj: None; the accessibility feedback
    # "Zugang beantragen": the coordinators of the municipality's networks and the admins
    # decide (obj: the requested Organisation); other roles than officer need user.invite_any_role.
    "access_request.decide": frozenset({"coordinator", "admin"}),
    # Administration in the browser (issue 14 item 4).
    "user.manage": frozenset({"admin"}),  # obj: None; find, (de)activate, re-role users
    "network.edit": frozenset({"admin"}),  # obj: the Network; edit, archive, delete when empty
    "reference.view": frozenset({"admin"}),  # obj: None; loaded reference data versions
    "audit.view_all": frozenset({"admin"}),  # obj: None; the global audit log
    # Process registers (issue 19). Reading a register is the visibility policy's
    # (visibility.can_view_register); these are who may act.
    "register.edit": frozenset({"owner", "admin"}),  # obj: the Organisation, register or entry
    "register.view_gaps": frozenset({"owner", "admin"}),  # obj: the Organisation
    "network.view_registers": frozenset({"member", "coordinator", "admin"}),  # obj: the Network
}


def _authenticated(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and isinstance(user, User)


def _owner_org_id(obj: Any) -> int | None:
    if isinstance(obj, Organisation):
        return obj.id
    if isinstance(obj, Listing):
        return obj.organisation_id
    if isinstance(obj, StatusUpdate):
        return obj.listing.organisation_id
    if isinstance(obj, Reuse):
        return obj.listing.organisation_id
    if isinstance(obj, ProcessRegister):
        return obj.organisation_id
    if isinstance(obj, ProcessEntry):
        return obj.register.organisation_id
    return None


def _owner_network_ids(obj: Any) -> set[int]:
    if isinstance(obj, Network):
        return {obj.id}
    if isinstance(obj, Reuse):
        obj = obj.listing
    if isinstance(obj, Listing):
        obj = obj.organisation
    if isinstance(obj, Organisation):
        return {m.network_id for m in obj.memberships}
    return set()


def _rel_signed_in(user: User, _obj: Any) -> bool:
    return True


def _rel_officer(user: User, _obj: Any) -> bool:
    return user.organisation_id is not None


def _rel_owner(user: User, obj: Any) -> bool:
    org_id = _owner_org_id(obj)
    return org_id is not None and user.organisation_id == org_id


def _rel_self_publisher(user: User, obj: Any) -> bool:
    """Own the listing, and every network of its municipality lets members publish directly.

    A municipality in no network has no coordinator but the admins, so it is reviewed; a
    network that reviews its members' listings keeps reviewing them even if another of the
    municipality's networks would not (its members would otherwise see unreviewed entries).
    """
    if not _rel_owner(user, obj):
        return False
    org = obj if isinstance(obj, Organisation) else obj.organisation if isinstance(obj, Listing) else None
    nets = [m.network for m in org.memberships] if org is not None else []
    return bool(nets) and all(n.direct_publish for n in nets)


def _rel_reuser(user: User, obj: Any) -> bool:
    return isinstance(obj, Reuse) and user.organisation_id == obj.organisation_id


def _rel_suggested(user: User, obj: Any) -> bool:
    return isinstance(obj, ReuseSuggestion) and obj.organisation_id is not None \
        and user.organisation_id == obj.organisation_id


def _rel_coordinator(user: User, obj: Any) -> bool:
    return bool(user.coordinated_network_ids & _owner_network_ids(obj))


def _rel_reviewer(user: User, obj: Any) -> bool:
    """Coordinate the owner's network, may read the listing, and are not of its municipality.

    Four-eyes: a coordinator never decides on a listing of their own municipality (an
    admin may). Reading is the visibility policy's: coordinators never act on drafts.
    """
    from .visibility import can_view_listing

    listing = obj.listing if isinstance(obj, (Reuse, StatusUpdate)) else obj
    if not isinstance(listing, Listing) or user.organisation_id == listing.organisation_id:
        return False
    return _rel_coordinator(user, listing) and can_view_listing(user, listing)


def _rel_member(user: User, obj: Any) -> bool:
    if user.organisation is None:
        return False
    return bool(set(user.organisation.network_ids) & _owner_network_ids(obj))


def _rel_invitee(user: User, obj: Any) -> bool:
    return isinstance(obj, NetworkInvitation) and user.organisation_id == obj.organisation_id


def _rel_admin(user: User, _obj: Any) -> bool:
    return user.role == "admin"


RELATIONS: dict[str, Callable[[User, Any], bool]] = {
    "signed_in": _rel_signed_in,
    "officer": _rel_officer,
    "owner": _rel_owner,
    "self_publisher": _rel_self_publisher,
    "reuser": _rel_reuser,
    "suggested": _rel_suggested,
    "coordinator": _rel_coordinator,
    "reviewer": _rel_reviewer,
    "member": _rel_member,
    "invitee": _rel_invitee,
    "admin": _rel_admin,
}


# A listing or reuse mirrored from another instance (services/federation.py) is kept by the
# mirror and changed only where it comes from: here nobody, admins included, may act on it
# except following it. Seeing it is the visibility policy's, as for any listing.
MIRROR_ACTIONS = frozenset({"listing.follow"})


def is_mirrored(obj: Any) -> bool:
    """Tell whether obj is a listing or reuse mirrored from another instance."""
    return isinstance(obj, (Listing, Reuse)) and obj.origin_id is not None


def relations(user: Any, obj: Any) -> set[str]:
    """Return every relation the user holds towards obj."""
    if not _authenticated(user):
        return set()
    return {name for name, fn in RELATIONS.items() if fn(user, obj)}


def can(user: Any, action: str, obj: Any = None) -> bool:
    """Tell whether user may perform action on obj."""
    if action == "listing.view":
        from .visibility import can_view_listing

        return can_view_listing(user, obj)
    if action == "register.view":
        from .visibility import can_view_register

        return can_view_register(user, obj)
    allowed = PERMISSIONS[action]  # KeyError on an unknown action is a programming error
    if not _authenticated(user) or not user.is_active:
        return False
    if is_mirrored(obj) and action not in MIRROR_ACTIONS:
        return False
    return any(RELATIONS[name](user, obj) for name in allowed)


def is_moderator(user: Any) -> bool:
    """Tell whether user coordinates a network or is an admin (the review pages are theirs)."""
    return _authenticated(user) and bool(user.is_active) and (
        user.is_admin or bool(user.coordinated_network_ids))


def is_officer(user: Any) -> bool:
    """Tell whether user speaks for a municipality ("Meine Kommune")."""
    return _authenticated(user) and user.organisation_id is not None


NAV_AUDIENCES: dict[str, Callable[[Any], bool]] = {
    "all": lambda _user: True,
    "officer": is_officer,
    "coordinator": is_moderator,
    "admin": lambda user: _authenticated(user) and user.is_admin,
}


def may_see_nav(user: Any, audience: str) -> bool:
    """Tell whether a navigation entry for audience is shown to user."""
    return NAV_AUDIENCES[audience](user)


def moderated_organisations(user: Any):
    """Return a select() of the organisation ids whose listings user moderates (None: all)."""
    if _authenticated(user) and user.is_admin:
        return None
    nets = sorted(user.coordinated_network_ids) if _authenticated(user) else []
    return select(NetworkMembership.organisation_id).where(NetworkMembership.network_id.in_(nets or [-1]))


def coordinators_of(session: Any, organisation_id: int) -> list[User]:
    """Return the coordinators responsible for an organisation (admins if it has no network)."""
    q = (
        select(User)
        .join(NetworkCoordinator, NetworkCoordinator.user_id == User.id)
        .join(NetworkMembership, NetworkMembership.network_id == NetworkCoordinator.network_id)
        .where(NetworkMembership.organisation_id == organisation_id, User.active.is_(True))
        .distinct()
    )
    users = list(session.scalars(q))
    if not users:
        users = list(session.scalars(select(User).where(User.role == "admin", User.active.is_(True))))
    return users
