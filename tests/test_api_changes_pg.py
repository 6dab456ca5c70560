"""Change feed on PostgreSQL: transactions that commit out of order never lose a change."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from marktplatz.models import Listing, utcnow
from tests import factories as f
from tests.conftest import PG_URL


@pytest.fixture(params=["postgresql"] if PG_URL else [])
def backend(request):
    """Run these tests on PostgreSQL only (CI always configures it)."""
    return request.param


def _listing(org_id: int, name: str) -> Listing:
    return Listing(kind="dienst", organisation_id=org_id, title=name, slug=name, summary="Kurzbeschreibung hier",
                   status="published", visibility="public", published_at=utcnow())


def _read_all(client, after=None):
    url = "/api/v1/changes?limit=2" + (f"&after={after}" if after else "")
    items = []
    while True:
        page = client.get(url).json
        items += page["items"]
        if not page["items"]:
            return items, page["next_cursor"]
        url = page["links"]["next"]


def test_out_of_order_commit_is_held_back_not_skipped(app, client, session):
    """A change of an earlier transaction that commits later still reaches a reader that moved on."""
    org_id = f.org(session, f.FREIBURG).id
    session.commit()
    make = app.extensions["sqlalchemy_sessionmaker"]
    a, b = make(), make()
    try:
        a.execute(text("SELECT pg_current_xact_id()"))  # A gets the older transaction id
        b.add(_listing(org_id, "b-listing"))
        b.commit()  # B's change-log row has the smaller id but the newer txid, and commits first
        seen, cursor = _read_all(client)
        assert seen == [], "B must be held back while the older transaction A is still running"
        a.add(_listing(org_id, "a-listing"))
        a.flush()
        seen, cursor2 = _read_all(client, cursor)
        assert seen == []
        a.commit()
        seen, _ = _read_all(client, cursor2)
        slugs = {c["entity_id"]: c for c in seen}
        assert len(seen) == 2 and len(slugs) == 2
        ids = [c["id"] for c in seen]
        assert ids[0] > ids[1], "A's row (higher id, older txid) comes first in feed order"
        assert _read_all(client, seen[-1]["cursor"])[0] == []
    finally:
        a.close()
        b.close()


def test_a_transaction_in_another_database_does_not_hold_the_feed_back(app, client, session):
    """Only transactions of this database can still write its change log; a long one elsewhere
    on the same server (CI runs other test databases there) must not stall the feed."""
    import psycopg

    org_id = f.org(session, f.FREIBURG).id
    session.commit()
    _seen, cursor = _read_all(client)
    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as elsewhere:  # the server's own test database, not the app's
        assert elsewhere.execute("SELECT current_database()").fetchone()[0] != session.scalar(
            text("SELECT current_database()"))
        elsewhere.execute("SELECT pg_current_xact_id()")  # an open transaction with an id, left running
        make = app.extensions["sqlalchemy_sessionmaker"]
        writer = make()
        try:
            writer.add(_listing(org_id, "nach-fremder-transaktion"))
            writer.commit()
        finally:
            writer.close()
        seen, _ = _read_all(client, cursor)
        assert [c["entity_type"] for c in seen] == ["listing"]
        elsewhere.rollback()


def test_short_transactions_elsewhere_never_hide_a_committed_change(app, session):
    """Transactions of another database that end while the horizon is read must not count as
    this database's: with the other database's ids read after the snapshot, one that ended in
    between held the feed below changes long committed (CI: an empty first page, about one
    read in 40 under such churn). Each committed change is below the horizon right after."""
    import threading
    import time

    import psycopg

    from marktplatz.services.changes import horizon

    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    stop = threading.Event()

    def churn() -> None:  # short write transactions in the server's own test database
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TEMP TABLE churn (x int)")
            while not stop.is_set():
                with conn.transaction():
                    conn.execute("INSERT INTO churn VALUES (1)")
                    time.sleep(0.002)  # long enough to be in the snapshot, short enough to end in between

    threads = [threading.Thread(target=churn, daemon=True) for _ in range(6)]
    for t in threads:
        t.start()
    held_back = 0
    try:
        for _ in range(400):
            mine = int(session.scalar(text("SELECT pg_current_xact_id()::text::bigint")))
            session.commit()
            held_back += horizon(session) <= mine
            session.rollback()  # a new transaction and snapshot for the next round
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert held_back == 0
