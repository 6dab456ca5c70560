"""Read the change log as a feed: ordered, keyset-paginated, never skipping a change.

Order is (txid, id). On PostgreSQL ``txid`` is the writing transaction's id and only rows
with ``txid`` below the oldest transaction still running (``pg_snapshot_xmin``) are
returned: those transactions have all finished, and every transaction that commits later
has a larger txid, so no row can later appear *before* a cursor already handed out, even
when transactions commit out of order. SQLite serialises writers, so ``id`` order is
commit order there and txid stays NULL (treated as 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Text, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from ..models import ChangeLog, Listing
from ..permissions import listing_visibility_filter

MAX_LIMIT = 1000


@dataclass(frozen=True)
class Change:
    """One entry of the change feed."""

    txid: int
    id: int
    entity_type: str
    entity_id: int
    op: str
    organisation_id: int | None
    listing_id: int | None
    created_at: datetime


def _visible(user: Any):
    """Return a condition on ChangeLog rows whose subject the user may see."""
    visible_listing = select(Listing.id).where(listing_visibility_filter(user))
    return or_(
        ChangeLog.listing_id.is_(None),
        ChangeLog.listing_id.in_(visible_listing),
        # A deleted listing can no longer be checked; its deletion only reveals an id.
        and_(ChangeLog.op == "deleted", ChangeLog.entity_type == "listing"),
    )


def read_changes(session: Session, user: Any, after: tuple[int, int] | None, limit: int) -> list[Change]:
    """Return up to limit changes after the (txid, id) position that user may see."""
    limit = max(1, min(limit, MAX_LIMIT))
    postgres = session.get_bind().dialect.name == "postgresql"
    q = select(ChangeLog).where(_visible(user))
    if postgres:
        horizon = func.pg_snapshot_xmin(func.pg_current_snapshot()).cast(Text).cast(BigInteger)
        q = q.where(ChangeLog.txid < horizon)
        if after is not None:
            q = q.where(tuple_(ChangeLog.txid, ChangeLog.id) > tuple_(after[0], after[1]))
        q = q.order_by(ChangeLog.txid, ChangeLog.id)
    else:
        if after is not None:
            q = q.where(ChangeLog.id > after[1])
        q = q.order_by(ChangeLog.id)
    rows = session.scalars(q.limit(limit)).all()
    return [
        Change(
            txid=r.txid or 0,
            id=r.id,
            entity_type=r.entity_type,
            entity_id=r.entity_id,
            op=r.op,
            organisation_id=r.organisation_id,
            listing_id=r.listing_id,
            created_at=r.created_at,
        )
        for r in rows
    ]
