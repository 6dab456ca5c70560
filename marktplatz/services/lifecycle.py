"""The listing's lifecycle: one table of (state, action) -> new state, with its guard.

Every change of ``Listing.status`` goes through :func:`transition`; a test fails if a status
is written anywhere else. Templates and the API offer what :func:`allowed_actions` returns.

Rules the table enforces:

- only published or in-review listings can be marked as duplicates, and doing so never
  publishes anything (an archived listing is readable only if it was archived from
  "published", see permissions/visibility.py);
- ``published_at`` is set only by an approval, or by publishing a draft directly where the
  owner's networks allow it (``listing.publish``);
- an archived listing is restored, by its owner or a reviewer, to the state it came from;
  one archived as a duplicate only by a reviewer, since that was a moderation decision;
- four-eyes: the guard of every review action is ``listing.review``, which a coordinator
  never holds for a listing of their own municipality (admins do); the one way around review
  is ``publish``, a network's declared policy (``Network.direct_publish``, see roles.py);
- a listing mirrored from another instance (``Listing.origin_id``) takes no action here: its
  state is the remote one, set by :func:`mirror_state` (services/federation.py), published
  or archived from published, the only states another instance shows the public.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..models import Listing, ListingStatus, utcnow
from ..permissions import can, is_mirrored
from .errors import Conflict, Forbidden, unraised

S = ListingStatus


class Action(StrEnum):
    """What can happen to a listing's state."""

    CREATE = "create"
    EDIT = "edit"
    SUBMIT = "submit"
    PUBLISH = "publish"  # without review, where the owner's networks allow it
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"
    UNPUBLISH = "unpublish"
    ARCHIVE = "archive"
    RESTORE = "restore"
    MARK_DUPLICATE = "mark_duplicate"
    WITHDRAW = "withdraw"  # the owner takes a listing in review back to a draft
    DELETE = "delete"  # the owner deletes a draft that never left the municipality


@dataclass(frozen=True)
class Transition:
    """One row of the table: the new state (None: the state it was archived from), the
    permission that guards it, and a further condition with the reason it may fail."""

    to: ListingStatus | None
    permission: str
    condition: Callable[[Any, Listing], str | None] | None = None


def _restore_condition(user: Any, listing: Listing) -> str | None:
    if not listing.archived_from:
        return "Für diesen Eintrag ist nicht bekannt, in welchen Zustand er zurückkehren soll."
    if listing.duplicate_of_id is not None and not can(user, "listing.review", listing):
        return "Einen als Duplikat archivierten Eintrag kann nur die Koordination wiederherstellen."
    return None


def _publish_condition(_user: Any, listing: Listing) -> str | None:
    # A rejected listing becomes a draft again when edited: once a listing has been in
    # review, the decision stays the reviewers', so only a draft never submitted skips it.
    if listing.submitted_at is not None:
        return "Dieser Eintrag war bereits in der Prüfung; er wird erneut von der Koordination geprüft."
    return None


def _delete_condition(_user: Any, listing: Listing) -> str | None:
    # Once submitted or published, others have seen it: it is archived (restorable), not deleted.
    if listing.submitted_at is not None or listing.published_at is not None:
        return "Gelöscht werden können nur Entwürfe, die nie eingereicht wurden; archivieren Sie diesen Eintrag."
    return None


_EDITABLE = (S.DRAFT, S.IN_REVIEW, S.PUBLISHED, S.CHANGES_REQUESTED)

TRANSITIONS: dict[tuple[ListingStatus | None, Action], Transition] = {
    (None, Action.CREATE): Transition(S.DRAFT, "listing.create"),
    **{(s, Action.EDIT): Transition(s, "listing.edit") for s in _EDITABLE},
    # Editing a rejected listing reopens it as a draft, to be submitted again.
    (S.REJECTED, Action.EDIT): Transition(S.DRAFT, "listing.edit"),
    **{(s, Action.SUBMIT): Transition(S.IN_REVIEW, "listing.submit")
       for s in (S.DRAFT, S.CHANGES_REQUESTED, S.REJECTED)},
    (S.IN_REVIEW, Action.APPROVE): Transition(S.PUBLISHED, "listing.review"),
    # Only a draft never submitted: one returned or rejected by a reviewer goes through review.
    (S.DRAFT, Action.PUBLISH): Transition(S.PUBLISHED, "listing.publish", _publish_condition),
    (S.IN_REVIEW, Action.REQUEST_CHANGES): Transition(S.CHANGES_REQUESTED, "listing.review"),
    (S.IN_REVIEW, Action.REJECT): Transition(S.REJECTED, "listing.review"),
    (S.PUBLISHED, Action.UNPUBLISH): Transition(S.CHANGES_REQUESTED, "listing.review"),
    **{(s, Action.ARCHIVE): Transition(S.ARCHIVED, "listing.archive")
       for s in (S.DRAFT, S.IN_REVIEW, S.PUBLISHED, S.CHANGES_REQUESTED, S.REJECTED)},
    **{(s, Action.MARK_DUPLICATE): Transition(S.ARCHIVED, "listing.mark_duplicate")
       for s in (S.IN_REVIEW, S.PUBLISHED)},
    (S.ARCHIVED, Action.RESTORE): Transition(None, "listing.restore", _restore_condition),
    (S.IN_REVIEW, Action.WITHDRAW): Transition(S.DRAFT, "listing.submit"),
    # Deleting keeps the state until the row is gone; whoever may archive may delete a draft.
    (S.DRAFT, Action.DELETE): Transition(S.DRAFT, "listing.archive", _delete_condition),
}

REFUSED = {
    Action.EDIT: "Archivierte Einträge können nicht bearbeitet werden.",
    Action.SUBMIT: "Ein Eintrag im Zustand „{state}“ kann nicht eingereicht werden.",
    Action.APPROVE: "Nur Einträge in Prüfung können freigegeben werden.",
    Action.PUBLISH: "Ohne Prüfung veröffentlicht werden können nur Entwürfe; ein Eintrag im Zustand "
                    "„{state}“ geht über die Prüfung.",
    Action.REQUEST_CHANGES: "Nur Einträge in Prüfung können zurückgegeben werden.",
    Action.REJECT: "Nur Einträge in Prüfung können abgelehnt werden.",
    Action.UNPUBLISH: "Nur veröffentlichte Einträge können zurückgezogen werden.",
    Action.ARCHIVE: "Der Eintrag ist bereits archiviert.",
    Action.RESTORE: "Nur archivierte Einträge können wiederhergestellt werden.",
    Action.MARK_DUPLICATE: "Nur veröffentlichte Einträge oder Einträge in Prüfung können als Duplikat markiert werden.",
    Action.CREATE: "Dieser Eintrag besteht bereits.",
    Action.WITHDRAW: "Zurückziehen lässt sich nur ein Eintrag in Prüfung.",
    Action.DELETE: "Gelöscht werden können nur Entwürfe; archivieren Sie diesen Eintrag.",
}


MIRRORED = ("Dieser Eintrag stammt aus einem anderen Marktplatz und wird dort gepflegt; "
            "hier ist er nur gespiegelt.")


def state_of(listing: Listing | None) -> ListingStatus | None:
    """Return the listing's state as the enum (None for a listing not yet created)."""
    if listing is None or listing.status is None:
        return None
    return ListingStatus(listing.status)


def refusal(user: Any, listing: Listing, action: Action, permission_obj: Any = None) -> Conflict | Forbidden | None:
    """Return why user may not do action on listing now, or None if they may.

    The reason is an unraised domain error: asking does not fail the unit of work.
    """
    state = state_of(listing) if action != Action.CREATE else None
    row = TRANSITIONS.get((state, action))
    with unraised():
        if is_mirrored(listing):  # read-only here: the same rule as roles.can, with its reason
            return Conflict(MIRRORED)
        if row is None:
            return Conflict(REFUSED[action].format(state=listing.status_label))
        if not can(user, row.permission, permission_obj if permission_obj is not None else listing):
            return Forbidden("Sie haben für diese Aktion keine Berechtigung.")
        if row.condition is not None:
            reason = row.condition(user, listing)
            if reason:
                return Conflict(reason)
    return None


def may(user: Any, listing: Listing, action: Action) -> bool:
    """Tell whether user may do action on listing in its current state."""
    return refusal(user, listing, action) is None


def allowed_actions(user: Any, listing: Listing) -> frozenset[str]:
    """Return the actions user may take on listing now (what pages and the API offer)."""
    state = state_of(listing)
    return frozenset(
        action.value for (from_state, action) in TRANSITIONS
        if from_state == state and from_state is not None and may(user, listing, action)
    )


def transition(user: Any, listing: Listing, action: Action, permission_obj: Any = None) -> ListingStatus:
    """Move listing by action, or raise Forbidden/Conflict leaving it untouched.

    Applies the state's side fields: ``submitted_at``, ``published_at`` (first approval
    only), ``archived_at``/``archived_from`` and, on restore, clears the duplicate pointer.
    Return the previous state.
    """
    error = refusal(user, listing, action, permission_obj)
    if error is not None:
        raise error.fail()
    previous = state_of(listing) if action != Action.CREATE else None
    row = TRANSITIONS[(previous, action)]
    now = utcnow()
    if action == Action.RESTORE:
        listing.status = ListingStatus(listing.archived_from).value
        listing.archived_from = None
        listing.archived_at = None
        listing.duplicate_of_id = None
    else:
        assert row.to is not None
        listing.status = row.to.value
    if row.to == S.ARCHIVED:
        listing.archived_from = previous.value if previous else None
        listing.archived_at = now
    if action == Action.SUBMIT:
        listing.submitted_at = now
    if action in (Action.APPROVE, Action.PUBLISH) and listing.published_at is None:
        listing.published_at = now
    listing.updated_at = now
    return previous  # type: ignore[return-value]


def mirror_state(listing: Listing, status: str, published_at: Any) -> None:
    """Give a mirrored listing the state its instance shows: published, or archived from published.

    The remote instance made the decision (its review); here it is only copied. Raise
    ValueError for any other state: another instance never shows the public a draft.
    """
    if listing.origin_id is None:
        raise ValueError("only a mirrored listing takes its state from another instance")
    if status == S.PUBLISHED:
        listing.status, listing.archived_from, listing.archived_at = S.PUBLISHED.value, None, None
    elif status == S.ARCHIVED:
        if listing.status != S.ARCHIVED:
            listing.archived_at = utcnow()
        listing.status, listing.archived_from = S.ARCHIVED.value, S.PUBLISHED.value
    else:
        raise ValueError(f"a mirrored listing is published or archived, not {status!r}")
    listing.published_at = published_at or listing.published_at or utcnow()
