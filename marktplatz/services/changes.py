"""Read the change log as a feed: ordered, keyset-paginated, never skipping a change.

Order is (txid, id). On PostgreSQL ``txid`` is the writing transaction's id and only rows
with ``txid`` below the oldest transaction of this database still running are returned
(see HORIZON): those transactions have all finished, and every transaction that commits
later has a larger txid, so no row can later appear *before* a cursor already handed out,
even when transactions commit out of order. SQLite serialises writers, so ``id`` order is
commit order there and txid stays NULL (treated as 0).

Rows restored by ``marktplatz import`` are history: txid 0 on PostgreSQL (see
services/backup.py), so they come first, in id order, and a cursor ``(0, id)`` taken on the
SQLite instance a database was moved from resumes at the same change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, text, tuple_
from sqlalchemy.orm import Session

from ..models import ChangeLog, Listing
from ..permissions import listing_visibility_filter

MAX_LIMIT = 1000

# The oldest transaction id that may still add change-log rows: the smallest id the snapshot
# lists as running, leaving out transactions that run in *another* database of the cluster
# (they cannot write this change log; a long one, e.g. a report or another application on
# the same server, used to hold the feed back). A transaction that ended between the
# snapshot and the pg_stat_activity read, or whose database is not shown (no privilege to
# see it), still counts: the next read moves on. Without any, the snapshot's xmax.
HORIZON = text("""
    SELECT COALESCE(
      (SELECT MIN(x::text::bigint) FROM pg_snapshot_xip(s) AS x
        WHERE NOT EXISTS (
          SELECT 1 FROM pg_stat_activity AS a
          WHERE a.backend_xid IS NOT NULL
            AND a.backend_xid::text::bigint = x::text::bigint % 4294967296
            AND a.datname <> current_database())),
      pg_snapshot_xmax(s)::text::bigint)
    FROM pg_current_snapshot() AS s
""")


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
        q = q.where(ChangeLog.txid < int(session.scalar(HORIZON)))
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
