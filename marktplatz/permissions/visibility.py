"""The one visibility policy: who may see a listing.

A listing carries *labels* that depend only on its own fields (owner, state, visibility);
a viewer holds labels that depend on who they are (their municipality, its networks, the
networks they coordinate). A viewer may see a listing when the two sets meet, as in ckan's
permission labels. Admins see everything.

Listing labels:

- ``public``: released and public;
- ``members:<org>``: released, visible to the members of the owner's networks;
- ``review:<org>``: in review, changes requested or rejected (never a draft), for the
  coordinators of the owner's networks;
- ``owner:<org>``: always, for the owner municipality.

Everything else derives from these two functions: the single-object check
(:func:`can_view_listing`), the SQL filter (:func:`listing_visibility_filter`) and the
search index filter (the index stores :func:`listing_labels` and the query asks for
:meth:`ViewerScope.labels`). ``tests/test_visibility_policy.py`` checks that the three agree
for every state, visibility and viewer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..models import Listing, ListingStatus, NetworkMembership, ProcessRegister, User

PUBLIC = "public"
#: States a network's coordinators may read (to review them); drafts are never among them.
REVIEW_STATES = frozenset({ListingStatus.IN_REVIEW, ListingStatus.CHANGES_REQUESTED, ListingStatus.REJECTED})
VISIBILITY_PUBLIC = "public"
VISIBILITY_NETWORK = "network"


def is_released(status: str, archived_from: str | None) -> bool:
    """Tell whether a listing in this state is readable beyond its owner and reviewers.

    Published listings are; archived ones only when they were published when archived, so
    archiving (or marking as duplicate) never publishes a draft or a listing in review.
    """
    return status == ListingStatus.PUBLISHED or (
        status == ListingStatus.ARCHIVED and archived_from == ListingStatus.PUBLISHED
    )


def labels_of(organisation_id: int, status: str, visibility: str, archived_from: str | None) -> frozenset[str]:
    """Return the labels of a listing with these fields."""
    labels = {f"owner:{organisation_id}"}
    if is_released(status, archived_from):
        labels.add(PUBLIC if visibility == VISIBILITY_PUBLIC else f"members:{organisation_id}")
    elif status in REVIEW_STATES:
        labels.add(f"review:{organisation_id}")
    return frozenset(labels)


def listing_labels(listing: Listing) -> frozenset[str]:
    """Return the labels of listing (stored in the search index as well)."""
    return labels_of(listing.organisation_id, listing.status, listing.visibility, listing.archived_from)


def _authenticated(user: Any) -> bool:
    return isinstance(user, User) and bool(getattr(user, "is_authenticated", False)) and bool(user.active)


@dataclass(frozen=True)
class ViewerScope:
    """What a viewer holds: the labels, kept as network ids until they must be expanded."""

    everything: bool = False
    own_org: int | None = None
    member_networks: frozenset[int] = frozenset()  # networks whose members-only listings they read
    review_networks: frozenset[int] = frozenset()  # networks whose reviewable listings they read

    def labels_for(self, org_networks: Mapping[int, Iterable[int]]) -> frozenset[str]:
        """Return the viewer's labels that concern the given organisations (id -> network ids)."""
        labels = {PUBLIC}
        for org_id, nets in org_networks.items():
            nets = set(nets)
            if org_id == self.own_org:
                labels.add(f"owner:{org_id}")
            if nets & self.member_networks:
                labels.add(f"members:{org_id}")
            if nets & self.review_networks:
                labels.add(f"review:{org_id}")
        return frozenset(labels)

    def labels(self, session: Session) -> frozenset[str]:
        """Return every label the viewer holds (the organisations of their networks expanded)."""
        nets = self.member_networks | self.review_networks
        org_networks: dict[int, set[int]] = {}
        if nets:
            rows = session.execute(
                select(NetworkMembership.organisation_id, NetworkMembership.network_id)
                .where(NetworkMembership.network_id.in_(sorted(nets)))
            )
            for org_id, net_id in rows:
                org_networks.setdefault(org_id, set()).add(net_id)
        if self.own_org is not None:
            org_networks.setdefault(self.own_org, set())
        return self.labels_for(org_networks)


ANONYMOUS = ViewerScope()


def viewer_scope(user: Any) -> ViewerScope:
    """Return the scope of user: anonymous, officer, coordinator or admin."""
    if not _authenticated(user):
        return ANONYMOUS
    if user.is_admin:
        return ViewerScope(everything=True)
    own_nets = frozenset(user.organisation.network_ids) if user.organisation is not None else frozenset()
    coordinated = frozenset(user.coordinated_network_ids)
    return ViewerScope(
        own_org=user.organisation_id,
        member_networks=own_nets | coordinated,
        review_networks=coordinated,
    )


def can_view_listing(user: Any, listing: Listing) -> bool:
    """Tell whether user may see listing (pages, search, API, feeds, exports, notifications)."""
    scope = viewer_scope(user)
    if scope.everything:
        return True
    held = scope.labels_for({listing.organisation_id: listing.organisation.network_ids})
    return bool(listing_labels(listing) & held)


def visible_duplicate_of(user: Any, listing: Listing) -> Listing | None:
    """Return the listing that listing is a duplicate of, if user may see it; else None.

    A duplicate pointer names the surviving listing: pages, the API and webhooks show it only
    to whoever may see the survivor, so a public duplicate never reveals a members-only title.
    """
    survivor = listing.duplicate_of if listing.duplicate_of_id is not None else None
    return survivor if survivor is not None and can_view_listing(user, survivor) else None


def _released_sql() -> ColumnElement[bool]:
    return or_(
        Listing.status == ListingStatus.PUBLISHED.value,
        and_(Listing.status == ListingStatus.ARCHIVED.value,
             Listing.archived_from == ListingStatus.PUBLISHED.value),
    )


def _orgs_in(networks: frozenset[int]) -> ColumnElement[bool]:
    return Listing.organisation_id.in_(
        select(NetworkMembership.organisation_id).where(NetworkMembership.network_id.in_(sorted(networks)))
    )


def listing_visibility_filter(user: Any) -> ColumnElement[bool]:
    """Return a SQL condition selecting exactly the listings user may see.

    One condition per label kind, each the SQL form of the rule in :func:`labels_of`.
    """
    scope = viewer_scope(user)
    if scope.everything:
        return true()
    conds: list[ColumnElement[bool]] = [
        and_(_released_sql(), Listing.visibility == VISIBILITY_PUBLIC),  # public
    ]
    if scope.member_networks:  # members:<org>
        conds.append(and_(_released_sql(), Listing.visibility != VISIBILITY_PUBLIC,
                          _orgs_in(scope.member_networks)))
    if scope.review_networks:  # review:<org>
        conds.append(and_(Listing.status.in_(sorted(s.value for s in REVIEW_STATES)),
                          _orgs_in(scope.review_networks)))
    if scope.own_org is not None:  # owner:<org>
        conds.append(Listing.organisation_id == scope.own_org)
    return or_(*conds) if conds else false()


def released_filter() -> ColumnElement[bool]:
    """Return the SQL condition 'released' (published, or archived after publication)."""
    return _released_sql()


# Process registers (issue 19) use the same labels: ``owner:<org>`` always, ``members:<org>``
# when shared with the owner's networks, ``public`` when public. A private register is read
# by its municipality (and admins) only.
REGISTER_PRIVATE = "private"


def register_labels_of(organisation_id: int, visibility: str) -> frozenset[str]:
    """Return the labels of a process register with these fields."""
    labels = {f"owner:{organisation_id}"}
    if visibility == VISIBILITY_PUBLIC:
        labels.add(PUBLIC)
    elif visibility == VISIBILITY_NETWORK:
        labels.add(f"members:{organisation_id}")
    return frozenset(labels)


def can_view_register(user: Any, register: ProcessRegister) -> bool:
    """Tell whether user may read a process register (page, API, exports, network and gap views)."""
    scope = viewer_scope(user)
    if scope.everything:
        return True
    held = scope.labels_for({register.organisation_id: register.organisation.network_ids})
    return bool(register_labels_of(register.organisation_id, register.visibility) & held)


def register_visibility_filter(user: Any) -> ColumnElement[bool]:
    """Return a SQL condition selecting exactly the process registers user may read.

    The SQL form of :func:`register_labels_of` against the viewer's labels.
    """
    scope = viewer_scope(user)
    if scope.everything:
        return true()
    conds: list[ColumnElement[bool]] = [ProcessRegister.visibility == VISIBILITY_PUBLIC]
    if scope.member_networks:
        conds.append(and_(
            ProcessRegister.visibility == VISIBILITY_NETWORK,
            ProcessRegister.organisation_id.in_(
                select(NetworkMembership.organisation_id)
                .where(NetworkMembership.network_id.in_(sorted(scope.member_networks)))),
        ))
    if scope.own_org is not None:
        conds.append(ProcessRegister.organisation_id == scope.own_org)
    return or_(*conds)
