"""The role table and can(user, action, obj): every permission decision lives here.

A permission is granted when the user holds one of the *relations* listed for the action
towards the object. Relations are computed by small functions below; state rules (for
example "you cannot reuse your own listing") are checked by the services.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, exists, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from .models import (
    Listing,
    Network,
    NetworkCoordinator,
    NetworkMembership,
    Organisation,
    Reuse,
    StatusUpdate,
    User,
)

# action -> relations that grant it. Keep this table complete: the authorisation tests are
# generated from it, so a new action without a row fails them.
PERMISSIONS: dict[str, frozenset[str]] = {
    "listing.create": frozenset({"owner", "admin"}),  # obj: the owner Organisation
    "listing.edit": frozenset({"owner", "admin"}),
    "listing.submit": frozenset({"owner", "admin"}),
    "listing.archive": frozenset({"owner", "admin"}),
    "listing.post_status": frozenset({"owner", "admin"}),
    "listing.review": frozenset({"coordinator", "admin"}),
    "listing.mark_duplicate": frozenset({"coordinator", "admin"}),
    "listing.view_audit": frozenset({"owner", "coordinator", "admin"}),
    "listing.follow": frozenset({"signed_in"}),
    "listing.flag": frozenset({"officer"}),
    "reuse.declare": frozenset({"officer"}),  # obj: the Listing to be reused
    "reuse.update": frozenset({"reuser", "admin"}),  # obj: the Reuse
    "organisation.edit": frozenset({"owner", "admin"}),
    "organisation.manage_tokens": frozenset({"owner", "admin"}),
    "organisation.manage_webhooks": frozenset({"owner", "admin"}),
    "network.create": frozenset({"admin"}),  # obj: None
    "network.appoint_coordinator": frozenset({"admin"}),
    "network.manage_members": frozenset({"coordinator", "admin"}),  # obj: the Network
    "network.decide_join": frozenset({"coordinator", "admin"}),
    "network.request_join": frozenset({"officer"}),
    "network.view_dashboard": frozenset({"coordinator", "admin"}),
    "flag.resolve": frozenset({"coordinator", "admin"}),  # obj: the flagged Listing
    "user.create": frozenset({"admin"}),
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


def _rel_reuser(user: User, obj: Any) -> bool:
    return isinstance(obj, Reuse) and user.organisation_id == obj.organisation_id


def _rel_coordinator(user: User, obj: Any) -> bool:
    return bool(user.coordinated_network_ids & _owner_network_ids(obj))


def _rel_member(user: User, obj: Any) -> bool:
    if user.organisation is None:
        return False
    return bool(set(user.organisation.network_ids) & _owner_network_ids(obj))


def _rel_admin(user: User, _obj: Any) -> bool:
    return user.role == "admin"


RELATIONS: dict[str, Callable[[User, Any], bool]] = {
    "signed_in": _rel_signed_in,
    "officer": _rel_officer,
    "owner": _rel_owner,
    "reuser": _rel_reuser,
    "coordinator": _rel_coordinator,
    "member": _rel_member,
    "admin": _rel_admin,
}


def relations(user: Any, obj: Any) -> set[str]:
    """Return every relation the user holds towards obj."""
    if not _authenticated(user):
        return set()
    return {name for name, fn in RELATIONS.items() if fn(user, obj)}


def can(user: Any, action: str, obj: Any = None) -> bool:
    """Tell whether user may perform action on obj."""
    if action == "listing.view":
        return can_view_listing(user, obj)
    allowed = PERMISSIONS[action]  # KeyError on an unknown action is a programming error
    if not _authenticated(user) or not user.is_active:
        return False
    return any(RELATIONS[name](user, obj) for name in allowed)


def can_view_listing(user: Any, listing: Listing) -> bool:
    """Tell whether user may see listing (pages, search, API, feeds and exports alike)."""
    rels = relations(user, listing)
    if "admin" in rels or "owner" in rels:
        return True
    if listing.status in ("published", "archived") and listing.published_at is not None:
        if listing.visibility == "public":
            return True
        return bool(rels & {"member", "coordinator"})
    if listing.status in ("in_review", "changes_requested", "rejected"):
        return "coordinator" in rels
    return False


def viewer_context(user: Any) -> tuple[int | None, set[int], set[int], bool]:
    """Return (own org id, member network ids, coordinated network ids, is_admin) for user."""
    if not _authenticated(user):
        return None, set(), set(), False
    member = set(user.organisation.network_ids) if user.organisation else set()
    return user.organisation_id, member, user.coordinated_network_ids, user.role == "admin"


def listing_visibility_filter(user: Any) -> ColumnElement[bool]:
    """Return a SQL condition selecting exactly the listings user may see."""
    org_id, member_nets, coord_nets, is_admin = viewer_context(user)
    if is_admin:
        return true()
    released = and_(Listing.status.in_(("published", "archived")), Listing.published_at.is_not(None))
    conds: list[ColumnElement[bool]] = [and_(released, Listing.visibility == "public")]
    nets = member_nets | coord_nets
    if nets:
        in_nets = exists(
            select(NetworkMembership.id).where(
                NetworkMembership.organisation_id == Listing.organisation_id,
                NetworkMembership.network_id.in_(nets),
            )
        )
        conds.append(and_(released, Listing.visibility == "network", in_nets))
    if coord_nets:
        in_coord = exists(
            select(NetworkMembership.id).where(
                NetworkMembership.organisation_id == Listing.organisation_id,
                NetworkMembership.network_id.in_(coord_nets),
            )
        )
        conds.append(
            and_(Listing.status.in_(("in_review", "changes_requested", "rejected")), in_coord)
        )
    if org_id is not None:
        conds.append(Listing.organisation_id == org_id)
    return or_(*conds) if conds else false()


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
