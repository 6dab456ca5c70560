"""Read the change log as a feed: ordered, keyset-paginated, never skipping a change.

Order is (txid, id). On PostgreSQL ``txid`` is the writing transaction's id and only rows
with ``txid`` below the oldest transaction of this database still running are returned
(see horizon()): those transactions have all finished, and every transaction that commits
later has a larger txid, so no row can later appear *before* a cursor already handed out,
even when transactions commit out of order. SQLite serialises writers, so ``id`` order is
commit order there and txid stays NULL (treated as 0).

Rows restored by ``marktplatz import`` are history: txid 0 on PostgreSQL (see
services/backup.py), so they come first, in id order, and a cursor ``(0, id)`` taken on the
SQLite instance a database was moved from resumes at the same change. A cursor of a
PostgreSQL database a dump came from is recognised by a txid at or past this database's
horizon and resumes after the same id: exact for changes that had committed when it was
handed out; one whose transaction was still open then and took a smaller id is not
delivered again (walk from the start when that matters).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select, text, tuple_
from sqlalchemy.orm import Session

from ..models import (
    ChangeLog,
    Listing,
    Network,
    NetworkMembership,
    Organisation,
    Reuse,
    StatusUpdate,
)
from ..permissions import listing_visibility_filter
from .errors import Invalid

MAX_LIMIT = 1000

# The oldest transaction id that may still add change-log rows: the smallest id the snapshot
# lists as running, leaving out transactions that run in *another* database of the cluster
# (they cannot write this change log; a long one, e.g. a report or another application on
# the same server, used to hold the feed back). Without any, the snapshot's xmax.
#
# The other databases' transactions are read *before* the snapshot is taken, in a statement
# of its own (READ COMMITTED, the sessions' level, takes a new snapshot per statement;
# pg_stat_activity is cached per transaction, which only makes its read older): an id both lists hold is certainly another database's, and one the snapshot
# holds that had no id yet at the first read got it later than every change already
# committed, so counting it holds back nothing a reader could want. Read the other way round
# (one statement did until now), a transaction of another database that ended in between
# counted as one of ours and held the feed below changes long committed: under load an
# empty page about one read in 13 to 40 under churn in a second database (see
# tests/test_api_changes_pg.py).
_OTHER_DATABASES_XIDS = text("""
    SELECT backend_xid::text::bigint FROM pg_stat_activity
    WHERE backend_xid IS NOT NULL AND datname <> current_database()
""")
_SNAPSHOT = text("""
    SELECT pg_snapshot_xmax(s)::text::bigint,
           ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x)
    FROM pg_current_snapshot() AS s
""")


def horizon(session: Session) -> int:
    """Return the PostgreSQL feed horizon: no change with a txid below it can still appear."""
    others = set(session.scalars(_OTHER_DATABASES_XIDS))
    xmax, running = session.execute(_SNAPSHOT).one()
    return min((x for x in running if x % 2**32 not in others), default=int(xmax))


#: The kinds of entity the change log records (services/changelog.py: TRACKED).
ENTITY_TYPES = ("listing", "reuse", "organisation", "status_update")
MAX_LIMIT_WITH_ENTITY = 100  # a page that embeds its entities costs one dump per change


@dataclass(frozen=True)
class ChangeFilter:
    """Which changes a reader asks for: one kind of entity, one municipality's, one network's."""

    entity_type: str | None = None
    organisation_id: int | None = None
    network_id: int | None = None


@dataclass(frozen=True)
class Change:
    """One entry of the change feed.

    tombstone: the reader may no longer see the entity (or it is gone); a mirror removes it.
    entity: its current object when asked for and not a tombstone.
    """

    txid: int
    id: int
    entity_type: str
    entity_id: int
    op: str
    organisation_id: int | None
    listing_id: int | None
    created_at: datetime
    tombstone: bool = False
    entity: Any = None


def _visible(user: Any):
    """Return a condition on ChangeLog rows the user may read (their subject, or its removal).

    A change of a listing the user may see now, a change of no listing (a municipality), a
    listing's deletion (it only reveals an id), and a change of a listing that was once
    published but that the user may no longer see: that one is read as a tombstone, so a
    mirror learns to drop it. Changes of listings never published stay the owner's and
    reviewers' (the SQL filter of the one visibility policy decides).
    """
    # A correlated EXISTS: one primary-key lookup per change read. `listing_id IN (SELECT
    # ...)` made both databases collect the ids of every visible listing for each page, and
    # at 100,000 listings a page took 1.6 s.
    listing_readable = exists(select(Listing.id).where(
        Listing.id == ChangeLog.listing_id,
        or_(listing_visibility_filter(user), Listing.published_at.is_not(None)),
    ))
    return or_(
        ChangeLog.listing_id.is_(None),
        listing_readable,
        and_(ChangeLog.op == "deleted", ChangeLog.entity_type == "listing"),
    )


def _filtered(q: Any, flt: ChangeFilter) -> Any:
    if flt.entity_type is not None:
        q = q.where(ChangeLog.entity_type == flt.entity_type)
    if flt.organisation_id is not None:
        q = q.where(ChangeLog.organisation_id == flt.organisation_id)
    if flt.network_id is not None:
        q = q.where(ChangeLog.organisation_id.in_(
            select(NetworkMembership.organisation_id).where(NetworkMembership.network_id == flt.network_id)))
    return q


def resolve_filter(session: Session, entity_type: str | None = None, ags: str | None = None,
                   network: str | None = None) -> ChangeFilter:
    """Return the filter for these arguments, or raise Invalid naming each unknown value."""
    errors: dict[str, list[str]] = {}
    if entity_type is not None and entity_type not in ENTITY_TYPES:
        errors["entity_type"] = [f"Erlaubt ist einer der Werte: {', '.join(ENTITY_TYPES)}."]
    org_id = net_id = None
    if ags is not None:
        org_id = session.scalar(select(Organisation.id).where(Organisation.ags == ags))
        if org_id is None:
            errors["ags"] = ["Keine Kommune mit diesem Amtlichen Gemeindeschlüssel."]
    if network is not None:
        net_id = session.scalar(select(Network.id).where(Network.slug == network))
        if net_id is None:
            errors["network"] = ["Kein Netzwerk mit dieser Kennung."]
    if errors:
        raise Invalid(errors)
    return ChangeFilter(entity_type, org_id, net_id)


def read_changes(session: Session, user: Any, after: tuple[int, int] | None, limit: int,
                 flt: ChangeFilter | None = None, include_entity: bool = False) -> list[Change]:
    """Return up to limit changes after the (txid, id) position that user may read.

    Each is marked a tombstone when user may not see its entity now or the entity is gone;
    with include_entity the others carry the entity's current object.
    """
    limit = max(1, min(limit, MAX_LIMIT_WITH_ENTITY if include_entity else MAX_LIMIT))
    postgres = session.get_bind().dialect.name == "postgresql"
    q = _filtered(select(ChangeLog).where(_visible(user)), flt or ChangeFilter())
    if postgres:
        horizon_id = horizon(session)
        q = q.where(ChangeLog.txid < horizon_id)
        if after is not None and after[0] >= horizon_id:
            # No cursor of this database is at or past its horizon: this one was handed out
            # by the database a dump came from. Its changes are history here (txid 0, same
            # ids), so it resumes after the same id, and then come all changes made here.
            after = (0, after[1])
        if after is not None:
            q = q.where(tuple_(ChangeLog.txid, ChangeLog.id) > tuple_(after[0], after[1]))
        q = q.order_by(ChangeLog.txid, ChangeLog.id)
    else:
        if after is not None:
            q = q.where(ChangeLog.id > after[1])
        q = q.order_by(ChangeLog.id)
    rows = session.scalars(q.limit(limit)).all()
    current = _current_entities(session, user, rows, include_entity)
    out = []
    for r in rows:
        obj = current.get((r.entity_type, r.entity_id))
        gone = r.op == "deleted" or obj is None
        out.append(Change(
            txid=r.txid or 0,
            id=r.id,
            entity_type=r.entity_type,
            entity_id=r.entity_id,
            op=r.op,
            organisation_id=r.organisation_id,
            listing_id=r.listing_id,
            created_at=r.created_at,
            tombstone=gone,
            entity=None if gone or not include_entity else obj,
        ))
    return out


_MODELS: dict[str, Any] = {"listing": Listing, "reuse": Reuse, "organisation": Organisation,
                           "status_update": StatusUpdate}


def _current_entities(session: Session, user: Any, rows: Any, load: bool) -> dict[tuple[str, int], Any]:
    """Return the entities of rows that exist and user may see, by (type, id), one query per type.

    Without load only their ids are read (the tombstone marks need no more). A listing, and
    the reuse or status update of one, is visible as the visibility policy's SQL filter says;
    a municipality is public.
    """
    wanted: dict[str, set[int]] = {}
    for r in rows:
        wanted.setdefault(r.entity_type, set()).add(r.entity_id)
    found: dict[tuple[str, int], Any] = {}
    for kind, ids in wanted.items():
        model = _MODELS.get(kind)
        if model is None:
            continue
        q = select(model if load else model.id).where(model.id.in_(sorted(ids)))
        if model is Listing:
            q = q.where(listing_visibility_filter(user))
        elif model is not Organisation:  # joined: the page's few listings, not every visible one
            q = q.join(Listing, Listing.id == model.listing_id).where(listing_visibility_filter(user))
        for obj in session.scalars(q):
            found[(kind, obj.id if load else obj)] = obj
    return found
