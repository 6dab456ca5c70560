"""Export every table to a streamed JSON dump and restore it into an empty database.

The dump is generic over ``Base.metadata.sorted_tables``: a table added later is exported
and imported without touching this module. Layout (valid JSON, one row per line so it can
be written and read as a stream without holding a table in memory)::

    {"format":"marktplatz-dump","version":1,"alembic_revision":"0001",...,"tables":[
    {"name":"land","columns":["code","short","name"],"rows":[
    ["01","SH","Schleswig-Holstein"],
    ...
    ]},
    ...
    ]}

Timestamps are written as ISO 8601 in UTC. Import requires an empty, migrated database at
the same Alembic revision; on PostgreSQL the id sequences are moved past the imported ids.

Imported change-log rows get the transaction id of history (:func:`history_txid`): the
writing transactions of the source are not transactions of the target, and a NULL or a
foreign transaction id would hide the rows from the change feed (``txid < horizon``) and
from the search follower on PostgreSQL.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import IO, Any

from sqlalchemy import Date, DateTime, Table, func, inspect, select, text, update
from sqlalchemy.engine import Connection, Engine

from ..models import Base, ChangeLog

log = logging.getLogger(__name__)

FORMAT = "marktplatz-dump"
FORMAT_VERSION = 1
BATCH = 1000

Progress = Callable[[str, int], None]


class BackupError(Exception):
    """The dump cannot be written or restored; the message says why (German, for the CLI)."""


def _noop(_label: str, _n: int) -> None:
    return None


def open_dump(path: str, mode: str) -> IO[str]:
    """Open a dump file for text reading or writing, gzip-compressed when it ends in .gz."""
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, mode + "b"), encoding="utf-8", newline="\n")
    return open(path, mode, encoding="utf-8", newline="\n")


def alembic_revision(conn: Connection) -> str | None:
    """Return the Alembic revision of the database, or None if it is not migrated."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _order(table: Table) -> list[Any]:
    return list(table.primary_key.columns) or list(table.columns)


def _rows(conn: Connection, table: Table) -> Iterator[Any]:
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(
        select(table).order_by(*_order(table))
    )
    yield from result


def export_dump(engine: Engine, out: IO[str], progress: Progress = _noop) -> dict[str, int]:
    """Write every table of the database to out as a JSON dump; return row counts per table."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        # One repeatable snapshot: on PostgreSQL a serialisable read-only transaction.
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
            )
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "alembic_revision": alembic_revision(conn),
            "created_at": datetime.now(UTC).isoformat(),
            "source_dialect": conn.dialect.name,
        }
        out.write(json.dumps(header, ensure_ascii=False)[:-1] + ',"tables":[\n')
        tables = Base.metadata.sorted_tables
        for t_index, table in enumerate(tables):
            columns = [c.name for c in table.columns]
            head = {"name": table.name, "columns": columns}
            out.write(json.dumps(head, ensure_ascii=False)[:-1] + ',"rows":[\n')
            n = 0
            for row in _rows(conn, table):
                if n:
                    out.write(",\n")
                out.write(json.dumps([_encode(v) for v in row], ensure_ascii=False))
                n += 1
            out.write("\n" if n else "")
            out.write("]}" + ("," if t_index < len(tables) - 1 else "") + "\n")
            counts[table.name] = n
            progress(table.name, n)
        out.write("]}\n")
    log.info("exported %d rows from %d tables", sum(counts.values()), len(counts))
    return counts


def _read_stream(inp: IO[str]) -> Iterator[tuple[str, Any]]:
    """Yield ("header", dict), ("table", dict) and ("row", list) events from a dump."""
    first = inp.readline()
    if not first.rstrip().endswith('"tables":['):
        raise BackupError("Die Datei ist kein Marktplatz-Export (unbekanntes Format).")
    try:
        yield "header", json.loads(first.rstrip() + "]}")
    except json.JSONDecodeError as err:
        raise BackupError("Die Datei ist kein Marktplatz-Export (Kopfzeile unlesbar).") from err
    finished = False
    for lineno, raw in enumerate(inp, start=2):
        line = raw.strip()
        if not line:
            continue
        try:
            if line.startswith("["):
                yield "row", json.loads(line.rstrip(","))
            elif line.startswith("{"):
                yield "table", json.loads(line + "]}")
            elif line in ("]},", "]}"):
                if finished:
                    raise BackupError(f"Zeile {lineno}: Daten nach dem Ende des Exports.")
                yield "end_table", None
            else:
                raise BackupError(f"Zeile {lineno}: unerwarteter Inhalt.")
        except json.JSONDecodeError as err:
            raise BackupError(f"Zeile {lineno}: kein gültiges JSON ({err.msg}).") from err


def non_empty_tables(conn: Connection) -> list[str]:
    """Return the names of the tables that hold at least one row."""
    found = []
    for table in Base.metadata.sorted_tables:
        if conn.execute(select(func.count()).select_from(table)).scalar():
            found.append(table.name)
    return found


class _Decoder:
    """Turn JSON values back into Python values for one table's columns."""

    def __init__(self, table: Table, columns: list[str]) -> None:
        unknown = [c for c in columns if c not in table.columns]
        if unknown:
            raise BackupError(
                f"Tabelle {table.name}: unbekannte Spalten {', '.join(unknown)} "
                "(passt der Export zur Datenbankversion?)."
            )
        self.columns = columns
        self.datetime_idx = []
        self.date_idx = []
        for i, name in enumerate(columns):
            col_type = table.columns[name].type
            col_type = getattr(col_type, "impl", col_type)  # look through TypeDecorators
            if isinstance(col_type, DateTime):
                self.datetime_idx.append(i)
            elif isinstance(col_type, Date):
                self.date_idx.append(i)

    def __call__(self, row: list[Any]) -> dict[str, Any]:
        values = list(row)
        for i in self.datetime_idx:
            if values[i] is not None:
                values[i] = datetime.fromisoformat(values[i])
        for i in self.date_idx:
            if values[i] is not None:
                values[i] = date.fromisoformat(values[i])
        return dict(zip(self.columns, values, strict=True))


def history_txid(dialect: str) -> int | None:
    """Return the change-log txid of an imported (finished, earlier) change on dialect.

    On PostgreSQL 0, below every real transaction id: imported rows come first in the
    feed's (txid, id) order, in their id order, and a cursor taken on SQLite, (0, id),
    resumes at the same change. SQLite orders by id alone and writes no txid.
    """
    return 0 if dialect == "postgresql" else None


def _self_refs(table: Table) -> list[str]:
    """Return columns of table with a foreign key to table itself (inserted in a second pass)."""
    return [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]


def import_dump(engine: Engine, inp: IO[str], progress: Progress = _noop) -> dict[str, int]:
    """Restore a dump into an empty database at the same revision; return rows per table."""
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        stream = _read_stream(inp)
        _kind, header = next(stream)
        if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
            raise BackupError(
                f"Nicht unterstütztes Exportformat {header.get('format')!r} "
                f"Version {header.get('version')!r}."
            )
        revision = alembic_revision(conn)
        if revision is None:
            raise BackupError(
                "Die Zieldatenbank ist nicht eingerichtet. Bitte zuerst 'marktplatz db upgrade' ausführen."
            )
        if header.get("alembic_revision") != revision:
            raise BackupError(
                f"Der Export hat Datenbankversion {header.get('alembic_revision')}, die Zieldatenbank "
                f"{revision}. Bitte Zieldatenbank und Anwendung auf denselben Stand bringen."
            )
        filled = non_empty_tables(conn)
        if filled:
            raise BackupError(
                "Die Zieldatenbank ist nicht leer (Tabellen mit Inhalt: "
                + ", ".join(filled[:8]) + (" ..." if len(filled) > 8 else "")
                + "). Ein Import ist nur in eine leere, frisch eingerichtete Datenbank möglich."
            )
        table: Table | None = None
        decode: _Decoder | None = None
        batch: list[dict[str, Any]] = []
        deferred: list[dict[str, Any]] = []
        self_refs: list[str] = []
        fixed: dict[str, Any] = {}  # columns whose imported value is replaced, per table

        def flush() -> None:
            if batch and table is not None:
                conn.execute(table.insert(), batch)
                batch.clear()

        for kind, value in stream:
            if kind == "table":
                name = value["name"]
                if name not in tables:
                    raise BackupError(f"Der Export enthält die unbekannte Tabelle {name!r}.")
                table = tables[name]
                decode = _Decoder(table, value["columns"])
                self_refs = _self_refs(table)
                fixed = {"txid": history_txid(conn.dialect.name)} if name == ChangeLog.__tablename__ else {}
                counts[name] = 0
            elif kind == "row":
                if table is None or decode is None:
                    raise BackupError("Zeile außerhalb einer Tabelle.")
                row = decode(value)
                if fixed:
                    row.update(fixed)
                if self_refs and any(row.get(c) is not None for c in self_refs):
                    deferred.append(row)
                    row = {**row, **{c: None for c in self_refs}}
                batch.append(row)
                counts[table.name] += 1
                if len(batch) >= BATCH:
                    flush()
            elif kind == "end_table" and table is not None:
                flush()
                _apply_self_refs(conn, table, self_refs, deferred)
                deferred.clear()
                progress(table.name, counts[table.name])
                table, decode = None, None
        missing = [name for name in tables if name not in counts]
        if missing:
            log.warning("dump has no data for tables %s (left empty)", ", ".join(missing))
        if conn.dialect.name == "postgresql":
            reset_sequences(conn)
    log.info("imported %d rows into %d tables", sum(counts.values()), len(counts))
    analyze(engine)
    return counts


def analyze(engine: Engine) -> None:
    """Refresh the query planner's statistics after a bulk load.

    A freshly restored PostgreSQL database has none (autovacuum gets there minutes later):
    until then the planner guesses, and at 100,000 listings the start page took 3.4 s and
    browsing 6.4 s instead of well under a second. SQLite's planner uses sqlite_stat1 the
    same way.
    """
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    log.info("planner statistics refreshed (ANALYZE)")


def _apply_self_refs(conn: Connection, table: Table, cols: list[str], rows: list[dict[str, Any]]) -> None:
    pk = list(table.primary_key.columns)
    for row in rows:
        stmt = update(table).where(*(c == row[c.name] for c in pk))
        conn.execute(stmt.values({c: row[c] for c in cols}))


def reset_sequences(conn: Connection) -> None:
    """Move every PostgreSQL id sequence past the largest id in its table."""
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1:
            continue
        col = pk[0]
        seq = conn.execute(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": col.name}
        ).scalar()
        if not seq:
            continue
        top = conn.execute(select(func.max(col))).scalar()
        if top is None:
            conn.execute(text("SELECT setval(:s, 1, false)"), {"s": seq})
        else:
            conn.execute(text("SELECT setval(:s, :v, true)"), {"s": seq, "v": int(top)})
