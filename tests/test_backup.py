"""Backup and restore: `marktplatz export` / `marktplatz import` keep every row of every table."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from marktplatz import create_app
from marktplatz.models import (
    ApiToken,
    AuditEvent,
    Base,
    ChangeLog,
    Notification,
    ReuseStageChange,
    Webhook,
    WebhookDelivery,
)
from marktplatz.services import backup

from .conftest import IN_CI, PG_URL, _create_pg_database, _demo_copy, _drop_pg_database, _shared_dir


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Return every row of every table, ordered, with timestamps normalised to UTC."""

    def norm(value: Any) -> Any:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        if isinstance(value, (dict, list)):
            return json.dumps(value, sort_keys=True)
        return value

    out = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(select(table).order_by(*order))
            out[table.name] = [tuple(norm(v) for v in row) for row in rows]
    return out


def empty_database(url: str, tmp: str) -> Engine:
    """Migrate url to head (no data) and return an engine on it."""
    app = create_app({"DATABASE_URL": url, "TESTING": True, "INDEX_DIR": os.path.join(tmp, "idx")})
    with app.app_context():
        from marktplatz.cli.db import upgrade_database

        upgrade_database()
    app.extensions["sqlalchemy_engine"].dispose()
    return create_engine(url)


def add_operational_rows(session) -> None:
    """Add rows the demo does not create: token hashes, webhooks and deliveries, notifications read."""
    from marktplatz.models import Organisation, User

    freiburg = session.scalar(select(Organisation).where(Organisation.ags == "08311000"))
    user = session.scalar(select(User).where(User.email == "digital@freiburg.example"))
    token = ApiToken(organisation_id=freiburg.id, created_by_id=user.id, name="Fachverfahren",
                     prefix="mp_abc", token_hash="f" * 64, scopes="read write")
    hook = Webhook(organisation_id=freiburg.id, url="https://hooks.example.org/x", secret="s3cr3t",
                   created_by_id=user.id)
    session.add_all([token, hook])
    session.flush()
    session.add(WebhookDelivery(webhook_id=hook.id, event="listing.updated", payload='{"id": 1}',
                                status="failed", attempts=3, last_status_code=500,
                                last_error="Server Error"))
    session.commit()


@pytest.fixture(scope="module")
def source_url(templates, tmp_path_factory) -> Iterator[str]:
    """Build one SQLite database with reference data, the demo, tokens and webhooks (read-only)."""
    tmp = tmp_path_factory.mktemp("backup-src")
    url, _name, index = _demo_copy("sqlite", _shared_dir(tmp_path_factory), templates, tmp)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "INDEX_DIR": index})
    with app.app_context():
        from marktplatz.core.db import get_session

        session = get_session()
        add_operational_rows(session)
        session.close()
    app.extensions["sqlalchemy_engine"].dispose()
    yield url


@pytest.fixture
def demo_source(source_url) -> Iterator[Engine]:
    """Return an engine on the demo source database."""
    engine = create_engine(source_url)
    yield engine
    engine.dispose()


def roundtrip(source: Engine, target_url: str, tmp_path, name: str) -> tuple[dict, str]:
    """Export source to a file, import it into a fresh database at target_url; return counts."""
    path = str(tmp_path / f"{name}.json.gz")
    with backup.open_dump(path, "w") as out:
        exported = backup.export_dump(source, out)
    target = empty_database(target_url, str(tmp_path))
    try:
        with backup.open_dump(path, "r") as inp:
            imported = backup.import_dump(target, inp)
    finally:
        target.dispose()
    assert imported == exported
    return exported, path


def test_demo_dump_has_every_table_and_the_history(demo_source, tmp_path):
    """The dump lists every table, with the audit trail, reuse history and notifications."""
    path = str(tmp_path / "dump.json")
    with open(path, "w", encoding="utf-8") as out:
        counts = backup.export_dump(demo_source, out)
    with open(path, encoding="utf-8") as inp:
        doc = json.load(inp)  # the streamed file is one valid JSON document
    assert doc["format"] == "marktplatz-dump" and doc["version"] == 1
    assert doc["alembic_revision"]
    names = [t["name"] for t in doc["tables"]]
    assert names == [t.name for t in Base.metadata.sorted_tables]
    with demo_source.connect() as conn:
        for table in (AuditEvent, ReuseStageChange, Notification, ApiToken, Webhook, WebhookDelivery):
            n = conn.execute(select(func.count()).select_from(table)).scalar()
            assert n > 0 and counts[table.__tablename__] == n, table.__tablename__
    by_name = {t["name"]: t for t in doc["tables"]}
    token = dict(zip(by_name["api_token"]["columns"], by_name["api_token"]["rows"][0], strict=True))
    assert token["token_hash"] == "f" * 64


def test_sqlite_to_sqlite_restores_identical_content(demo_source, tmp_path):
    """Import of a dump into an empty SQLite database yields exactly the same rows."""
    target_url = "sqlite:///" + str(tmp_path / "restored.db")
    roundtrip(demo_source, target_url, tmp_path, "a")
    target = create_engine(target_url)
    try:
        assert snapshot(target) == snapshot(demo_source)
        with target.connect() as conn:  # the import refreshed the planner's statistics
            assert conn.execute(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'listing'")).scalar() > 0
    finally:
        target.dispose()


@pytest.mark.skipif(not PG_URL and not IN_CI, reason="needs MARKTPLATZ_TEST_DATABASE_URL")
def test_sqlite_to_postgresql_and_back(demo_source, tmp_path):
    """SQLite -> PostgreSQL -> SQLite keeps every row; PostgreSQL sequences continue after max(id)."""
    original = snapshot(demo_source)
    pg_url, pg_name = _create_pg_database()
    pg = None
    try:
        counts, _ = roundtrip(demo_source, pg_url, tmp_path, "to-pg")
        pg = create_engine(pg_url)
        # Imported changes are history on PostgreSQL (txid 0, see backup.history_txid); the
        # change feed and the search follower read them so (tests/test_feed_migration.py).
        txid = [c.name for c in ChangeLog.__table__.columns].index("txid")
        as_history = [(*row[:txid], 0, *row[txid + 1:]) for row in original["change_log"]]
        assert snapshot(pg) == {**original, "change_log": as_history}
        with pg.connect() as conn:  # ANALYZEd: without statistics reltuples is -1 (never analysed)
            assert conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'listing'")).scalar() > 0
        # New rows get fresh ids instead of colliding with imported ones.
        with pg.begin() as conn:
            top = conn.execute(text("SELECT max(id) FROM audit_event")).scalar()
            new_id = conn.execute(
                text("INSERT INTO audit_event (created_at, action, object_type, comment, details) "
                     "VALUES (now(), 'test', 'x', '', '{}') RETURNING id")
            ).scalar()
            assert new_id == top + 1
            conn.execute(text("DELETE FROM audit_event WHERE id = :i"), {"i": new_id})
        back_url = "sqlite:///" + str(tmp_path / "back.db")
        roundtrip(pg, back_url, tmp_path, "from-pg")
        back = create_engine(back_url)
        try:
            assert snapshot(back) == original  # and on SQLite txid is NULL again
        finally:
            back.dispose()
        print(f"round trip SQLite -> PostgreSQL -> SQLite: {sum(counts.values())} rows, "
              f"{len(counts)} tables identical")
    finally:
        if pg is not None:
            pg.dispose()
        _drop_pg_database(pg_name)


def test_import_refuses_non_empty_database(demo_source, tmp_path):
    """Importing into a database that already holds data is refused and changes nothing."""
    path = str(tmp_path / "dump.json")
    with backup.open_dump(path, "w") as out:
        backup.export_dump(demo_source, out)
    before = snapshot(demo_source)
    with backup.open_dump(path, "r") as inp, pytest.raises(backup.BackupError, match="nicht leer"):
        backup.import_dump(demo_source, inp)
    assert snapshot(demo_source) == before


def test_import_refuses_unmigrated_database_and_foreign_files(demo_source, tmp_path):
    """A database without schema and a file that is not a dump get clear messages."""
    path = str(tmp_path / "dump.json")
    with backup.open_dump(path, "w") as out:
        backup.export_dump(demo_source, out)
    bare = create_engine("sqlite:///" + str(tmp_path / "bare.db"))
    try:
        with backup.open_dump(path, "r") as inp, pytest.raises(backup.BackupError, match="db upgrade"):
            backup.import_dump(bare, inp)
    finally:
        bare.dispose()
    other = tmp_path / "other.json"
    other.write_text('{"hello": "world"}\n', encoding="utf-8")
    target = empty_database("sqlite:///" + str(tmp_path / "t.db"), str(tmp_path))
    try:
        with open(other, encoding="utf-8") as inp, pytest.raises(backup.BackupError, match="kein Marktplatz-Export"):
            backup.import_dump(target, inp)
    finally:
        target.dispose()


def test_cli_export_and_import(demo_source, source_url, tmp_path):
    """`marktplatz export FILE.gz` writes gzip; `marktplatz import` restores and refuses twice."""
    path = str(tmp_path / "cli.json.gz")
    source_app = create_app({"DATABASE_URL": source_url, "TESTING": True,
                             "INDEX_DIR": str(tmp_path / "idx1")})
    with source_app.app_context():
        result = source_app.test_cli_runner().invoke(args=["export", path])
    source_app.extensions["sqlalchemy_engine"].dispose()
    assert result.exit_code == 0, result.output
    assert "Export geschrieben" in result.output
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        assert json.load(fh)["format"] == "marktplatz-dump"

    target_url = "sqlite:///" + str(tmp_path / "cli-target.db")
    empty_database(target_url, str(tmp_path)).dispose()
    target_app = create_app({"DATABASE_URL": target_url, "TESTING": True,
                             "INDEX_DIR": str(tmp_path / "idx2")})
    target_runner = target_app.test_cli_runner()
    with target_app.app_context():  # the command runs against the app of the current context
        result = target_runner.invoke(args=["import", path])
        assert result.exit_code == 0, result.output
        assert "Import abgeschlossen" in result.output and "ANALYZE" in result.output
        again = target_runner.invoke(args=["import", path])
    assert again.exit_code == 1
    assert "nicht leer" in again.output
    target_app.extensions["sqlalchemy_engine"].dispose()
    target = create_engine(target_url)
    try:
        assert snapshot(target) == snapshot(demo_source)
    finally:
        target.dispose()
