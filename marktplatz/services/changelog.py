"""Write a change-log row for every change of a tracked entity, in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Text, func, insert, inspect, text
from sqlalchemy.orm import Session

from ..models import ChangeLog, Listing, ListingStatus, Organisation, Reuse, StatusUpdate, utcnow

TRACKED: dict[type, str] = {
    Listing: "listing",
    Reuse: "reuse",
    Organisation: "organisation",
    StatusUpdate: "status_update",
}


def _owner_and_listing(obj: Any) -> tuple[int | None, int | None]:
    if isinstance(obj, Listing):
        return obj.organisation_id, obj.id
    if isinstance(obj, Organisation):
        return obj.id, None
    if isinstance(obj, Reuse):
        return obj.organisation_id, obj.listing_id
    if isinstance(obj, StatusUpdate):
        listing = obj.listing
        return (listing.organisation_id if listing else None), obj.listing_id
    return None, None


def _op_for_dirty(obj: Any) -> str | None:
    state = inspect(obj)
    changed = [a for a in state.attrs if a.history.has_changes()]
    if not changed:
        return None
    if isinstance(obj, Listing):
        hist = state.attrs.status.history
        if hist.has_changes() and obj.status == ListingStatus.ARCHIVED.value:
            return "archived"
    return "updated"


def after_flush(session: Session, _ctx: Any) -> None:
    """Write the change-log rows of everything this flush changed (an after_flush listener)."""
    rows: list[dict[str, Any]] = []
    now = utcnow()
    with session.no_autoflush:
        _collect(session, rows, now)
    if not rows:
        return
    _write(session, rows)


def _collect(session: Session, rows: list[dict[str, Any]], now: Any) -> None:
    for obj in session.new:
        kind = TRACKED.get(type(obj))
        if kind:
            org_id, listing_id = _owner_and_listing(obj)
            rows.append(_row(kind, obj.id, "created", org_id, listing_id, now))
    for obj in session.dirty:
        kind = TRACKED.get(type(obj))
        if kind and session.is_modified(obj, include_collections=False):
            op = _op_for_dirty(obj)
            if op:
                org_id, listing_id = _owner_and_listing(obj)
                rows.append(_row(kind, obj.id, op, org_id, listing_id, now))
    for obj in session.deleted:
        kind = TRACKED.get(type(obj))
        if kind:
            org_id, listing_id = _owner_and_listing(obj)
            rows.append(_row(kind, obj.id, "deleted", org_id, listing_id, now))


def record(session: Session, obj: Any, op: str = "updated") -> None:
    """Write a change-log row for obj now: a change of what readers see of it beyond its own columns.

    (The listing page shows the usedBy names of its publiccode.yml, kept in their own table;
    cached pages and mirrors must learn that the listing changed.)
    """
    org_id, listing_id = _owner_and_listing(obj)
    _write(session, [_row(TRACKED[type(obj)], obj.id, op, org_id, listing_id, utcnow())])


def _write(session: Session, rows: list[dict[str, Any]]) -> None:
    conn = session.connection()
    table = ChangeLog.__table__
    stmt = insert(table)
    if conn.dialect.name == "postgresql":
        # The writing transaction id lets feed readers hold back rows of transactions that
        # are still running and might commit with a smaller id (see services/changes.py).
        stmt = stmt.values(txid=func.pg_current_xact_id().cast(Text).cast(BigInteger))
    written = conn.execute(stmt.returning(table.c.id, table.c.txid), rows).all()
    session.info["changelog_written"] = True
    # The position of this transaction's last row: once the search index has applied it, a
    # search by the writer shows the write (see search.remember_write).
    last = max(written, key=lambda r: r.id)
    session.info["changelog_last"] = {"id": int(last.id), "txid": None if last.txid is None else int(last.txid)}


def _row(kind: str, entity_id: int, op: str, org_id: int | None, listing_id: int | None, now: Any) -> dict[str, Any]:
    return {
        "entity_type": kind,
        "entity_id": entity_id,
        "op": op,
        "organisation_id": org_id,
        "listing_id": listing_id,
        "created_at": now,
    }


WINDOW = 256  # recent change-log ids whose count catches out-of-order commits

# Built once, run through the session's connection: building the statement and the ORM's
# execution path cost more than the index-only query itself.
#
# The window's rows are read as the newest WINDOW ids (ORDER BY id DESC LIMIT): rows with
# an id above MAX(id) - WINDOW are at most WINDOW rows, all among those, so the count is
# the same as with `WHERE id > MAX(id) - WINDOW` alone. But that form gave PostgreSQL's
# planner a range it cannot estimate (a third of the table); at 400,000 rows it started two
# parallel workers for 256 rows, 8 ms instead of 0.1 ms, on every anonymous page view.
_VERSION = text(
    f"SELECT MAX(id), COUNT(*) FROM (SELECT id FROM change_log ORDER BY id DESC LIMIT {WINDOW}) AS newest "
    f"WHERE id > (SELECT MAX(id) FROM change_log) - {WINDOW}"
)


def data_version(session: Session) -> tuple[Any, ...]:
    """Return a value that changes whenever logged data may have changed (cache keys).

    SQLite commits in id order; on PostgreSQL a transaction may take a smaller id and
    commit later, which the count of the last WINDOW ids catches.
    """
    return tuple(session.connection().execute(_VERSION).one())
