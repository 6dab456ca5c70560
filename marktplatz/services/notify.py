"""Create in-app notifications for the events users care about, from the audit events of a change."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import AuditEvent, Follow, Listing, Notification, Reuse, StatusUpdate, User
from ..permissions import can, coordinators_of


def _link(listing: Listing) -> str:
    return f"/eintraege/{listing.slug}"


def send(session: Session, users: Iterable[User], kind: str, message: str, listing: Listing | None = None, link: str | None = None, exclude: Any = None) -> int:
    """Add one notification per user (skipping exclude) to the unit of work; return how many."""
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


def resolve_review_requests(session: Session, listing: Listing) -> int:
    """Mark the open "waits for review" notices of listing as read; return how many.

    Called when the review is decided (approved, changes requested, rejected, merged as a
    duplicate, archived), so no coordinator's inbox keeps notices about work already done.
    """
    from sqlalchemy import update

    from ..models import utcnow

    result = session.execute(
        update(Notification)
        .where(Notification.listing_id == listing.id, Notification.kind == "review_requested",
               Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


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


def marked_duplicate(session: Session, listing: Listing, target: Listing) -> None:
    """Tell the owner municipality that listing was archived as a duplicate of target.

    The surviving listing's title is named only to those who may read it.
    """
    for user in _org_users(session, listing.organisation_id):
        named = can(user, "listing.view", target)
        message = (f"„{listing.title}“ wurde als Duplikat von „{target.title}“ archiviert." if named
                   else f"„{listing.title}“ wurde als Duplikat eines bestehenden Eintrags archiviert.")
        send(session, [user], "review_outcome", message, listing)


def unread_count(session: Session, user: Any) -> int:
    """Return the number of unread notifications of user."""
    from sqlalchemy import func

    if not getattr(user, "is_authenticated", False):
        return 0
    return session.scalar(
        select(func.count(Notification.id)).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ) or 0


def flag_created(session: Session, flag: Any) -> None:
    """Tell the owner municipality and the coordinators that a listing was flagged."""
    from ..models.listing import FLAG_REASONS

    listing = flag.listing
    reason = FLAG_REASONS.get(flag.reason, flag.reason)
    users = _org_users(session, listing.organisation_id) + coordinators_of(session, listing.organisation_id)
    send(session, users, "flag", f"„{listing.title}“ wurde gemeldet: {reason}.", listing,
         exclude=flag.reporter)


def new_listing_for_ozg(session: Session, listing: Listing) -> int:
    """Tell the followers of the listing's OZG-Leistungen about a newly published listing."""
    from ..models import OzgFollow

    ozg_ids = [o.id for o in listing.ozg_leistungen]
    if not ozg_ids:
        return 0
    users = session.scalars(
        select(User).join(OzgFollow, OzgFollow.user_id == User.id)
        .where(OzgFollow.ozg_id.in_(ozg_ids), User.active.is_(True)).distinct()
    )
    targets = [u for u in users if u.organisation_id != listing.organisation_id and can(u, "listing.view", listing)]
    names = ", ".join(o.name for o in listing.ozg_leistungen[:2])
    return send(session, targets, "ozg_listing",
                f"Neu zu einer OZG-Leistung, der Sie folgen ({names}): „{listing.title}“ "
                f"von {listing.organisation.short_name}.", listing)


def duplicate_invitation(session: Session, listing: Listing, target: Listing) -> int:
    """Invite the reusers of a duplicate to move their reuse to the surviving listing.

    Only reusers who may see the surviving listing are invited: the others would learn a
    title they may not read.
    """
    org_ids = {r.organisation_id for r in listing.reuses}
    users: list[User] = []
    for org_id in sorted(org_ids):
        users.extend(u for u in _org_users(session, org_id) if can(u, "listing.view", target))
    return send(session, users, "duplicate_moved",
                f"„{listing.title}“ ist ein Duplikat von „{target.title}“ und wurde archiviert. "
                f"Bitte übertragen Sie Ihre Nachnutzung mit einem Klick auf den bestehenden Eintrag.",
                listing, link=f"/eintraege/{listing.slug}/nachnutzung-umziehen")


def webhook_disabled(session: Session, webhook: Any, failures: int) -> int:
    """Tell the municipality's officers that a webhook was switched off after failures."""
    return send(session, _org_users(session, webhook.organisation_id), "webhook_disabled",
                f"Ihr Webhook an {webhook.url} wurde nach {failures} Fehlversuchen in Folge "
                "abgeschaltet. Bitte prüfen Sie den Empfänger und schalten Sie ihn wieder ein.",
                link="/kommune/webhooks")


def readable(session: Session, user: User, notes: list[Notification]) -> list[Notification]:
    """Return the notes whose listing user may still see (a listing hidden since is left out)."""
    ids = {n.listing_id for n in notes if n.listing_id is not None}
    listings = {lst.id: lst for lst in session.scalars(select(Listing).where(Listing.id.in_(ids)))} if ids else {}
    return [n for n in notes if n.listing_id is None
            or (n.listing_id in listings and can(user, "listing.view", listings[n.listing_id]))]


def inbox(session: Session, user: User, limit: int = 100) -> list[Notification]:
    """Return user's notifications that they may still read, newest first."""
    return readable(session, user, list(session.scalars(
        select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    )))


def mark_read(session: Session, user: User, notification_id: int) -> Notification:
    """Mark one of user's notifications as read."""
    from ..models import utcnow
    from .errors import NotFound

    note = session.get(Notification, notification_id)
    if note is None or note.user_id != user.id:
        raise NotFound("Diese Benachrichtigung gibt es nicht.")
    if note.read_at is None:
        note.read_at = utcnow()
        session.flush()
    return note


def mark_all_read(session: Session, user: User) -> int:
    """Mark all of user's notifications as read; return how many changed."""
    from sqlalchemy import update

    from ..models import utcnow

    result = session.execute(
        update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    session.flush()
    return result.rowcount or 0


def follow_ozg(session: Session, user: User, ozg_id: int) -> None:
    """Follow an OZG-Leistung (idempotent): new listings for it are notified."""
    from ..models import OzgFollow, OzgLeistung
    from .common import require
    from .errors import NotFound

    require(user, "listing.follow")
    if session.get(OzgLeistung, ozg_id) is None:
        raise NotFound("Diese OZG-Leistung gibt es nicht.")
    if session.get(OzgFollow, (user.id, ozg_id)) is None:
        session.add(OzgFollow(user_id=user.id, ozg_id=ozg_id))
        session.flush()


def unfollow_ozg(session: Session, user: User, ozg_id: int) -> None:
    """Stop following an OZG-Leistung (idempotent)."""
    from ..models import OzgFollow

    row = session.get(OzgFollow, (user.id, ozg_id))
    if row is not None:
        session.delete(row)
        session.flush()


def follows_ozg(session: Session, user: Any, ozg_id: int) -> bool:
    """Tell whether user follows the OZG-Leistung."""
    from ..models import OzgFollow

    if not getattr(user, "is_authenticated", False):
        return False
    return session.get(OzgFollow, (user.id, ozg_id)) is not None


def followed_ozg(session: Session, user: User) -> list[Any]:
    """Return the OZG-Leistungen user follows."""
    from ..models import OzgFollow, OzgLeistung

    return list(session.scalars(
        select(OzgLeistung).join(OzgFollow, OzgFollow.ozg_id == OzgLeistung.id)
        .where(OzgFollow.user_id == user.id).order_by(OzgLeistung.name)
    ))


DIGEST_CHOICES = {"none": "Keine E-Mails", "daily": "Täglich", "weekly": "Wöchentlich"}


def set_digest(session: Session, user: User, choice: str) -> None:
    """Set how often user receives an e-mail digest."""
    from .errors import Invalid

    if choice not in DIGEST_CHOICES:
        raise Invalid({"digest": ["Bitte eine der Möglichkeiten wählen."]})
    user.digest = choice
    session.flush()


# ---------------------------------------------------------------- notifications from domain events
#
# Services record what happened as audit events (services.audit.record) in the transaction
# of the change. The listeners below turn the events of each flush into notifications in
# the same transaction: a change and what it announces commit or roll back together, and
# no service writes a notification by itself. services.events registers them.

Handler = Callable[[Session, AuditEvent], None]
ON_EVENT: dict[str, Handler] = {}
_PENDING = "marktplatz.notify.pending"


def on(*actions: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the notification handler of these audit actions."""
    def register(fn: Handler) -> Handler:
        for action in actions:
            assert action not in ON_EVENT, action
            ON_EVENT[action] = fn
        return fn
    return register


def after_flush(session: Session, _ctx: Any) -> None:
    """Note the audit events this flush wrote that someone is told about (after_flush listener)."""
    events = [o for o in session.new if isinstance(o, AuditEvent) and o.action in ON_EVENT]
    if events:
        session.info.setdefault(_PENDING, []).extend(events)


def after_flush_postexec(session: Session, _ctx: Any) -> None:
    """Add the notifications of the noted events; the next flush of the same unit writes them."""
    for ev in session.info.pop(_PENDING, None) or []:
        ON_EVENT[ev.action](session, ev)


def forget_pending(session: Session, *_args: Any) -> None:
    """Drop noted events of a rolled-back transaction (after_soft_rollback listener)."""
    session.info.pop(_PENDING, None)


def _subject(ev: AuditEvent) -> Any:
    return getattr(ev, "subject", None)


def _actor(ev: AuditEvent) -> Any:
    return getattr(ev, "actor", None)


DECISIONS = {
    "listing.changes_requested": "Zu „{title}“ wurden Änderungen erbeten: {text}",
    "listing.rejected": "„{title}“ wurde abgelehnt: {text}",
    "listing.unpublished": "„{title}“ wurde von der Koordination zurückgezogen: {text}",
}


@on("listing.submitted")
def _on_submitted(session: Session, ev: AuditEvent) -> None:
    review_requested(session, _subject(ev))


@on("listing.approved")
def _on_approved(session: Session, ev: AuditEvent) -> None:
    listing = _subject(ev)
    resolve_review_requests(session, listing)
    review_outcome(session, listing, f"„{listing.title}“ wurde freigegeben und ist veröffentlicht.")
    if (ev.details or {}).get("first_publication"):
        new_listing_for_ozg(session, listing)
    else:
        listing_changed(session, listing, _actor(ev))


@on("listing.published")
def _on_published(session: Session, ev: AuditEvent) -> None:
    """A draft published without review (its networks' policy) is news like an approval."""
    new_listing_for_ozg(session, _subject(ev))


@on(*DECISIONS)
def _on_decision(session: Session, ev: AuditEvent) -> None:
    listing = _subject(ev)
    resolve_review_requests(session, listing)
    review_outcome(session, listing, DECISIONS[ev.action].format(title=listing.title, text=ev.comment))


@on("listing.updated")
def _on_updated(session: Session, ev: AuditEvent) -> None:
    listing = _subject(ev)
    if listing.is_published:
        listing_changed(session, listing, _actor(ev))


@on("listing.status_posted")
def _on_status_posted(session: Session, ev: AuditEvent) -> None:
    update = session.get(StatusUpdate, (ev.details or {}).get("status_update_id"))
    if update is not None:
        status_posted(session, _subject(ev), update)


@on("listing.marked_duplicate")
def _on_marked_duplicate(session: Session, ev: AuditEvent) -> None:
    listing = _subject(ev)
    resolve_review_requests(session, listing)
    target = session.get(Listing, (ev.details or {}).get("duplicate_of"))
    if target is not None:
        marked_duplicate(session, listing, target)
        duplicate_invitation(session, listing, target)


@on("listing.archived")
def _on_archived(session: Session, ev: AuditEvent) -> None:
    resolve_review_requests(session, _subject(ev))


@on("listing.flagged")
def _on_flagged(session: Session, ev: AuditEvent) -> None:
    from ..models import Flag

    flag = session.get(Flag, (ev.details or {}).get("flag_id"))
    if flag is not None:
        flag_created(session, flag)


@on("reuse.declared", "reuse.moved")
def _on_reuse_declared(session: Session, ev: AuditEvent) -> None:
    reuse_declared(session, _subject(ev))


@on("reuse.stage_changed")
def _on_reuse_stage(session: Session, ev: AuditEvent) -> None:
    details = ev.details or {}
    if details.get("from_stage") != details.get("to_stage"):
        reuse_stage_changed(session, _subject(ev), details.get("from_stage"))


@on("webhook.auto_disabled")
def _on_webhook_disabled(session: Session, ev: AuditEvent) -> None:
    hook = _subject(ev)
    webhook_disabled(session, hook, (ev.details or {}).get("failures", hook.consecutive_failures))


# Networks: the municipality's officers and the network's coordinators learn of membership changes.

def _network_coordinators(session: Session, network: Any) -> list[User]:
    """Return the active coordinators of network, or the admins when it has none."""
    users = [c.user for c in network.coordinators if c.user.active]
    return users or list(session.scalars(select(User).where(User.role == "admin", User.active.is_(True))))


def _org_name(session: Session, organisation_id: int) -> str:
    from ..models import Organisation

    org = session.get(Organisation, organisation_id)
    return org.short_name if org is not None else "Eine Kommune"


def _net_link(network: Any) -> str:
    return f"/netzwerke/{network.slug}"


@on("network.coordinator_appointed")
def _on_coordinator_appointed(session: Session, ev: AuditEvent) -> None:
    network = _subject(ev)
    send(session, [session.get(User, (ev.details or {}).get("coordinator_id"))], "network",
         f"Sie koordinieren jetzt das Netzwerk „{network.name}“.", link=_net_link(network))


@on("network.member_added")
def _on_member_added(session: Session, ev: AuditEvent) -> None:
    network, org_id = _subject(ev), (ev.details or {})["organisation_id"]
    send(session, _org_users(session, org_id), "network_membership",
         f"Die Plattformverwaltung hat {_org_name(session, org_id)} in das Netzwerk „{network.name}“ aufgenommen.",
         link=_net_link(network))


@on("network.member_removed")
def _on_member_removed(session: Session, ev: AuditEvent) -> None:
    network, org_id = _subject(ev), (ev.details or {})["organisation_id"]
    send(session, _org_users(session, org_id), "network_membership",
         f"{_org_name(session, org_id)} wurde aus dem Netzwerk „{network.name}“ entfernt."
         + (f" Begründung: {ev.comment}" if ev.comment else ""), link=_net_link(network))


@on("network.member_left")
def _on_member_left(session: Session, ev: AuditEvent) -> None:
    network, org_id, actor = _subject(ev), (ev.details or {})["organisation_id"], _actor(ev)
    name = _org_name(session, org_id)
    send(session, _org_users(session, org_id), "network_membership",
         f"{actor.name} hat {name} aus dem Netzwerk „{network.name}“ abgemeldet.",
         link=_net_link(network), exclude=actor)
    send(session, _network_coordinators(session, network), "network_membership",
         f"{name} hat das Netzwerk „{network.name}“ verlassen.", link=_net_link(network), exclude=actor)


def _invitation(session: Session, ev: AuditEvent) -> Any:
    from ..models import NetworkInvitation

    return session.get(NetworkInvitation, (ev.details or {}).get("invitation_id"))


@on("network.invitation_sent")
def _on_invitation_sent(session: Session, ev: AuditEvent) -> None:
    network, inv = _subject(ev), _invitation(session, ev)
    send(session, _org_users(session, inv.organisation_id), "network_invitation",
         f"Das Netzwerk „{network.name}“ lädt {_org_name(session, inv.organisation_id)} zur Mitgliedschaft ein. "
         "Bitte nehmen Sie die Einladung an oder lehnen Sie sie ab."
         + (f" Nachricht: „{inv.message}“" if inv.message else ""), link=_net_link(network))


@on("network.invitation_accepted", "network.invitation_declined")
def _on_invitation_answered(session: Session, ev: AuditEvent) -> None:
    network, inv = _subject(ev), _invitation(session, ev)
    verdict = "angenommen" if inv.status == "accepted" else "abgelehnt"
    inviter = session.get(User, inv.invited_by_id) if inv.invited_by_id else None
    send(session, [inviter, *_network_coordinators(session, network)], "network_invitation",
         f"{_org_name(session, inv.organisation_id)} hat die Einladung in das Netzwerk „{network.name}“ {verdict}.",
         link=_net_link(network), exclude=_actor(ev))


@on("network.invitation_withdrawn")
def _on_invitation_withdrawn(session: Session, ev: AuditEvent) -> None:
    network, inv = _subject(ev), _invitation(session, ev)
    send(session, _org_users(session, inv.organisation_id), "network_invitation",
         f"Die Einladung in das Netzwerk „{network.name}“ wurde zurückgezogen.", link=_net_link(network))


@on("network.join_requested")
def _on_join_requested(session: Session, ev: AuditEvent) -> None:
    network, actor = _subject(ev), _actor(ev)
    send(session, _network_coordinators(session, network), "join_request",
         f"{_org_name(session, actor.organisation_id)} möchte dem Netzwerk „{network.name}“ beitreten.",
         link=_net_link(network))


@on("network.join_approved", "network.join_declined")
def _on_join_decided(session: Session, ev: AuditEvent) -> None:
    from ..models import JoinRequest

    network = _subject(ev)
    req = session.get(JoinRequest, (ev.details or {}).get("join_request_id"))
    requester = session.get(User, req.requested_by_id) if req.requested_by_id else None
    verdict = "angenommen" if req.status == "approved" else "abgelehnt"
    send(session, [requester], "join_decision",
         f"Ihre Beitrittsanfrage für „{network.name}“ wurde {verdict}."
         + (f" {req.decision_comment}" if req.decision_comment else ""), link=_net_link(network))


# Access requests: the deciders learn of a confirmed request; the decision resolves the notices.

def access_request_link(request_id: int) -> str:
    """Return the site path of an access request's decision page."""
    return f"/zugangsantraege/{request_id}"


@on("access_request.confirmed")
def _on_access_requested(session: Session, ev: AuditEvent) -> None:
    from .access_requests import deciders

    req = _subject(ev)
    send(session, deciders(session, req.organisation), "access_request",
         f"{req.name} beantragt einen Zugang für {req.organisation.short_name}. Bitte entscheiden Sie.",
         link=access_request_link(req.id))
