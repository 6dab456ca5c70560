"""Create in-app notifications for the events users care about."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Follow, Listing, Notification, Reuse, StatusUpdate, User
from ..permissions import can, coordinators_of


def _link(listing: Listing) -> str:
    return f"/eintraege/{listing.slug}"


def send(session: Session, users: Iterable[User], kind: str, message: str, listing: Listing | None = None, link: str | None = None, exclude: Any = None) -> int:
    """Add one notification per user (skipping exclude) and commit; return how many."""
    count = 0
    seen: set[int] = set()
    for user in users:
        if user is None or user.id in seen or (exclude is not None and user.id == getattr(exclude, "id", None)):
            continue
        seen.add(user.id)
        session.add(
            Notification(
                user_id=user.id,
                kind=kind,
                message=message,
                listing_id=listing.id if listing else None,
                link=link or (_link(listing) if listing else None),
            )
        )
        count += 1
    if count:
        session.commit()
    return count


def _org_users(session: Session, organisation_id: int) -> list[User]:
    return list(session.scalars(select(User).where(User.organisation_id == organisation_id, User.active.is_(True))))


def _followers(session: Session, listing: Listing) -> list[User]:
    users = session.scalars(select(User).join(Follow, Follow.user_id == User.id).where(Follow.listing_id == listing.id))
    return [u for u in users if can(u, "listing.view", listing)]


def review_requested(session: Session, listing: Listing) -> None:
    """Tell the responsible coordinators that a listing waits for review."""
    send(session, coordinators_of(session, listing.organisation_id), "review_requested",
         f"„{listing.title}“ von {listing.organisation.short_name} wartet auf Prüfung.", listing)


def listing_changed(session: Session, listing: Listing, actor: User) -> None:
    """Tell followers that a published listing changed."""
    send(session, _followers(session, listing), "listing_changed", f"„{listing.title}“ wurde geändert.", listing, exclude=actor)


def status_posted(session: Session, listing: Listing, update: StatusUpdate) -> None:
    """Tell followers about a new status update."""
    send(session, _followers(session, listing), "status_update",
         f"Neuer Stand zu „{listing.title}“: {update.title}", listing, exclude=update.author)


def reuse_declared(session: Session, reuse: Reuse) -> None:
    """Tell the owner municipality that someone reuses their listing."""
    listing = reuse.listing
    send(session, _org_users(session, listing.organisation_id), "reuse_declared",
         f"{reuse.organisation.short_name} nutzt „{listing.title}“ nach ({reuse.stage_label}).", listing)


def reuse_stage_changed(session: Session, reuse: Reuse, old: str) -> None:
    """Tell the owner municipality that a reuse moved to another stage."""
    listing = reuse.listing
    send(session, _org_users(session, listing.organisation_id), "reuse_stage_changed",
         f"Nachnutzung von „{listing.title}“ durch {reuse.organisation.short_name}: jetzt {reuse.stage_label}.", listing)


def review_outcome(session: Session, listing: Listing, message: str) -> None:
    """Tell the owner municipality the outcome of a review."""
    send(session, _org_users(session, listing.organisation_id), "review_outcome", message, listing)


def unread_count(session: Session, user: Any) -> int:
    """Return the number of unread notifications of user."""
    from sqlalchemy import func

    if not getattr(user, "is_authenticated", False):
        return 0
    return session.scalar(
        select(func.count(Notification.id)).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ) or 0
