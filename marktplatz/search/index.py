"""The index on disk: generations, atomic swap, rebuild and the change-log follower.

Layout of INDEX_DIR::

    CURRENT            name of the live generation (replaced atomically with os.replace)
    worker.beat        touched by `marktplatz worker` after each round (its mtime says it runs)
    gen-<time>-<pid>/  a Whoosh index plus position.json (the applied change-log position)
                       and follow.lock (held while one process applies changes)

The database is the source of truth. Every change writes a change_log row in the same
transaction; the worker catches the index directory up from that table a few times a
second (web processes only read). Applying a change re-reads the entity from the database,
so applying a row twice is harmless and a crash at any point never loses an update for good.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload
from whoosh import index as windex
from whoosh.index import LockError
from whoosh.writing import SegmentWriter

from ..models import LeikaLeistung, Listing, Organisation, OzgLeistung
from ..permissions.visibility import PUBLIC, listing_labels
from . import ranking
from .analysis import WORD_RE, fold
from .schema import build_schema

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
POSITION = "position.json"
BATCH = 500
Progress = Callable[[int], None]


# --------------------------------------------------------------------------- documents


def listing_doc(listing: Listing) -> dict[str, Any]:
    """Return the index document of a listing."""
    from ..models.listing_fields import LISTING_FIELDS, Index

    org = listing.organisation
    nets = sorted({m.network_id for m in org.memberships})
    themen = sorted({o.themenfeld_id for o in listing.ozg_leistungen})
    codes = [str(o.id) for o in listing.ozg_leistungen] + [lk.key for lk in listing.leika_leistungen]
    if org.ags:
        codes.append(org.ags)
    catalogue = " ".join([o.name for o in listing.ozg_leistungen] + [lk.name for lk in listing.leika_leistungen])
    # The full text: the words of every field declared Index.TEXT, then the catalogue names,
    # the publisher and the tags.
    text = [spec.value(listing) for spec in LISTING_FIELDS if spec.index is Index.TEXT]
    body = " ".join(filter(None, [*text, catalogue, org.name, " ".join(listing.tags)]))
    labels = listing_labels(listing)
    spell = " ".join([listing.title, " ".join(listing.tags), listing.summary or "", org.short_name])
    reuse_count = sum(1 for r in listing.reuses if r.stage != "discontinued")
    reifegrad = f"{listing.reifegrad_model}:{listing.reifegrad}" if listing.reifegrad is not None else ""
    doc = {
        "uid": f"listing:{listing.id}",
        "doc_type": "listing",
        "obj_id": listing.id,
        "title": listing.title,
        "summary": listing.summary or "",
        "body": body,
        "title_ng": " ".join([listing.title, *listing.tags, *(o.name for o in listing.ozg_leistungen)]),
        "spell": spell,
        "spell_public": spell if PUBLIC in labels else "",
        "codes": ",".join(codes),
        "tags": ",".join(fold(t) for t in listing.tags),
        "org_exact": fold(org.short_name),
        "title_exact": exact_text(listing.title),
        "org_name": org.short_name,
        "status": listing.status,
        "visibility": listing.visibility,
        "labels": ",".join(sorted(labels)),
        "organisation_id": listing.organisation_id,
        "land": org.land_code or "",
        "kreis": org.kreis_key or "",
        "network": ",".join(str(n) for n in nets),
        "themenfeld": ",".join(str(t) for t in themen),
        "reifegrad": reifegrad,
        "published_ts": int((listing.published_at or listing.created_at).timestamp() * 1000),
        "reuse_count": reuse_count,
        "rank_prior": ranking.prior(listing),
    }
    for spec in LISTING_FIELDS:  # a facet is one term per value; a flag reads "ja" or "nein"
        if spec.index is Index.FACET:
            value = spec.value(listing)
            doc[spec.name] = ("ja" if value else "nein") if isinstance(value, bool) else (
                "" if value is None else str(value))
    return doc


def exact_text(text: str) -> str:
    """Return text as the exact-match fields hold it: folded words joined by single spaces."""
    return " ".join(WORD_RE.findall(fold(text or "")))


def org_doc(org: Organisation) -> dict[str, Any]:
    """Return the index document of an organisation (municipality, Kreis, IT provider)."""
    codes = [c for c in (org.ags, org.key, org.ars, org.postcode) if c]
    names = " ".join(dict.fromkeys([org.name, org.short_name]))
    return {
        "uid": f"org:{org.id}",
        "doc_type": "org",
        "obj_id": org.id,
        "title": org.short_name,
        "detail": " · ".join(filter(None, [org.kind_label, org.kreis, org.land])),
        "body": names if org.name != org.short_name else "",
        "title_ng": org.short_name,
        "codes": ",".join(codes),
        "org_exact": fold(org.short_name),
        "org_name": org.short_name,
        "land": org.land_code or "",
        "organisation_id": org.id,
    }


def ozg_doc(ozg: OzgLeistung) -> dict[str, Any]:
    """Return the index document of an OZG-Leistung: found by its own name and the names of
    its LeiKa-Leistungen, with the same German analysis as listings."""
    leika = ozg.leika
    names = " ".join([ozg.name] + [lk.name for lk in leika])
    return {
        "uid": f"ozg:{ozg.id}",
        "doc_type": "ozg",
        "obj_id": ozg.id,
        "title": ozg.name,
        # The LeiKa names are what people call the Leistung (each is also a document of its
        # own, whose short name ranks its OZG-Leistung: query.catalogue_ids).
        "summary": " · ".join(lk.name for lk in leika),
        "detail": f"OZG-ID {ozg.id} · {ozg.themenfeld.name} · {ozg.lebenslage.name}",
        "body": " ".join([ozg.themenfeld.name, ozg.lebenslage.name]),
        "title_ng": ozg.name,
        "title_exact": exact_text(ozg.name),
        "spell": names,
        "spell_public": names,
        "codes": ",".join([str(ozg.id)] + [lk.key for lk in leika]),
        "themenfeld": str(ozg.themenfeld_id),
    }


def leika_doc(leika: LeikaLeistung) -> dict[str, Any]:
    """Return the index document of a LeiKa-Leistung (found by its name and its OZG-Leistung's)."""
    ozg = leika.ozg
    return {
        "uid": f"leika:{leika.id}",
        "doc_type": "leika",
        "obj_id": leika.id,
        "title": leika.name,
        "detail": f"LeiKa {leika.key}" + (f" · OZG-ID {ozg.id} {ozg.name}" if ozg else ""),
        "body": ozg.name if ozg else "",
        "title_ng": leika.name,
        "title_exact": exact_text(leika.name),
        "codes": ",".join([leika.key] + ([str(ozg.id)] if ozg else [])),
        "parent": ozg.id if ozg else None,
        "themenfeld": str(ozg.themenfeld_id) if ozg else "",
    }


def _listing_query():
    return select(Listing).options(
        selectinload(Listing.ozg_leistungen),
        selectinload(Listing.leika_leistungen),
        selectinload(Listing.tag_rows),
        selectinload(Listing.reuses),
        selectinload(Listing.organisation).selectinload(Organisation.memberships),
    )


def iter_documents(session: Session) -> Iterator[dict[str, Any]]:
    """Yield every document of a full index build."""
    for ozg in session.scalars(
        select(OzgLeistung).options(
            selectinload(OzgLeistung.leika), selectinload(OzgLeistung.themenfeld),
            selectinload(OzgLeistung.lebenslage),
        )
    ):
        yield ozg_doc(ozg)
    for leika in session.scalars(select(LeikaLeistung).options(selectinload(LeikaLeistung.ozg))):
        yield leika_doc(leika)
    for org in session.scalars(select(Organisation).execution_options(yield_per=2000)):
        yield org_doc(org)
    ids = list(session.scalars(select(Listing.id).order_by(Listing.id)))
    for i in range(0, len(ids), BATCH):
        for listing in session.scalars(_listing_query().where(Listing.id.in_(ids[i : i + BATCH]))):
            yield listing_doc(listing)
        session.expunge_all()


def count_documents(session: Session) -> int:
    """Count the documents a full build will write (for the progress bar)."""
    from sqlalchemy import func

    return sum(
        session.scalar(select(func.count()).select_from(m)) or 0
        for m in (OzgLeistung, LeikaLeistung, Organisation, Listing)
    )


# --------------------------------------------------------------------------- storage


def current_generation(root: str) -> str | None:
    """Return the path of the live generation, or None if there is none."""
    try:
        with open(os.path.join(root, CURRENT), encoding="utf-8") as fh:
            name = fh.read().strip()
    except FileNotFoundError:
        return None
    return os.path.join(root, name) if name else None


def check(root: str) -> str | None:
    """Return why the index at root is unusable, or None when it is fine."""
    gen = current_generation(root)
    if gen is None:
        return "missing"
    if not os.path.isdir(gen):
        return "missing"
    try:
        ix = windex.open_dir(gen)
        if set(ix.schema.names()) != set(build_schema().names()):
            return "outdated: the schema changed"
        with ix.searcher() as s:
            s.doc_count()
        read_position(gen)
    except windex.EmptyIndexError:
        return "missing"
    except Exception as err:  # noqa: BLE001 - any failure to open means rebuild
        return f"corrupt: {err.__class__.__name__}"
    return None


def read_position(gen: str) -> dict[str, Any]:
    """Return the applied change-log position stored with a generation."""
    with open(os.path.join(gen, POSITION), encoding="utf-8") as fh:
        return json.load(fh)


def write_position(gen: str, pos: dict[str, Any]) -> None:
    """Store the applied change-log position atomically."""
    tmp = os.path.join(gen, POSITION + f".{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(pos, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, os.path.join(gen, POSITION))


@contextmanager
def _flock(path: str, blocking: bool) -> Iterator[bool]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- positions


def start_position(engine: Engine) -> dict[str, Any]:
    """Return a position such that replaying from it after a fresh read misses nothing."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            xmin = conn.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar()
            history = conn.execute(_HISTORY_TOP).scalar()
            return {"id": 0, "xmin": int(xmin), "history": int(history or 0)}
        last = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM change_log")).scalar()
        return {"id": int(last or 0)}


# Imported change-log rows carry txid 0 (services/backup.py: history_txid), below any xmin a
# position can hold, so the txid conditions below never select them. They are all committed
# together by the import, before any later write, so their id order is final: a position's
# "history" is the highest such id applied (a rebuild reads everything, so it starts at the top).
_HISTORY_TOP = text("SELECT COALESCE(MAX(id), 0) FROM change_log WHERE txid = 0")


# Transactions applied ahead of xmin that a position remembers. Beyond this (an old
# transaction has stayed open through thousands of writes) further writes wait for xmin.
EARLY_MAX = 2000


def pending_changes(engine: Engine, pos: dict[str, Any], limit: int = 5000) -> tuple[list[Any], dict[str, Any]]:
    """Return the change rows to apply after pos and the position after applying them.

    SQLite serialises writers, so id order is commit order. On PostgreSQL a transaction may
    take an id first and commit last; rows are consumed by transaction id instead: every row
    whose txid is below the snapshot's xmin belongs to a finished transaction and is visible
    now, so "all rows with txid < xmin are applied" is the invariant, and nothing is skipped.
    The id floor only saves scanning: it moves to the highest id seen at an earlier read once
    every transaction that could have taken a smaller id has finished (its xid bound < xmin).
    """
    cols = "id, entity_type, entity_id, op, organisation_id, listing_id"
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT {cols} FROM change_log WHERE id > :p ORDER BY id LIMIT :n"),
                {"p": pos.get("id", 0), "n": limit},
            ).all()
        new = dict(pos)
        if rows:
            new["id"] = rows[-1].id
        return list(rows), new
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        snap = conn.execute(
            text("SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint "
                 "FROM pg_current_snapshot() AS s")
        ).one()
        xmin, xmax = int(snap[0]), int(snap[1])
        floor = int(pos.get("id", 0))
        # Rows of transactions that committed although an older one (anywhere in the cluster)
        # still runs are applied early, so a long transaction elsewhere does not hide finished
        # writes from search. The position does not move past them; "early" remembers those
        # transactions (a commit makes all their rows visible at once), so they are neither
        # applied again early nor once xmin passes them.
        done = [int(t) for t in pos.get("early", [])]
        rows = conn.execute(
            text(f"SELECT {cols}, txid FROM change_log WHERE id > :p AND txid >= :w AND txid < :x "
                 f"AND NOT (txid = ANY(:a)) ORDER BY id"),
            {"p": floor, "w": int(pos.get("xmin", 0)), "x": xmin, "a": done},
        ).all()
        history = conn.execute(
            text(f"SELECT {cols}, txid FROM change_log WHERE txid = 0 AND id > :h ORDER BY id"),
            {"h": int(pos.get("history", 0))},
        ).all()
        if history:
            rows = list(history) + list(rows)
        applied = [t for t in done if t >= xmin]
        if len(applied) < EARLY_MAX:
            early = conn.execute(
                text(f"SELECT {cols}, txid FROM change_log WHERE id > :p AND txid >= :x "
                     f"AND NOT (txid = ANY(:a)) AND pg_xact_status(txid::text::xid8) = 'committed' "
                     f"ORDER BY id"),
                {"p": floor, "x": xmin, "a": applied},
            ).all()
            if early:
                applied = sorted(set(applied) | {int(r.txid) for r in early})
                rows = list(rows) + list(early)
        new = {"id": floor, "xmin": max(xmin, int(pos.get("xmin", 0))), "early": applied,
               "history": int(history[-1].id) if history else int(pos.get("history", 0))}
        cand = pos.get("cand")
        if cand and cand[1] <= xmin:
            new["id"] = max(floor, int(cand[0]))
            cand = None
        if cand is None:
            top = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM change_log")).scalar() or 0
            # Snapshot xmax is only latestCompletedXid + 1; a running transaction may hold a
            # larger xid. Taking an xid here bounds every xid assigned so far.
            bound = conn.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar()
            cand = [int(top), int(bound)]
        new["cand"] = cand
        conn.rollback()
    del xmax
    return list(rows), new


def has_applied(root: str, mark: dict[str, Any]) -> bool:
    """Return whether the live generation has applied the change-log row of mark.

    mark is {"id": ...} on SQLite (ids commit in order) and {"txid": ...} on PostgreSQL
    (see pending_changes: every row of a transaction below xmin, or in "early", is applied).
    A missing or unreadable position counts as not applied.
    """
    gen = current_generation(root)
    if gen is None:
        return False
    try:
        pos = read_position(gen)
    except (OSError, ValueError):
        return False
    if mark.get("txid") is not None and "xmin" in pos:
        txid = int(mark["txid"])
        return txid < int(pos["xmin"]) or txid in pos.get("early", [])
    return int(pos.get("id", 0)) >= int(mark.get("id", 0))


def unapplied(engine: Engine, pos: dict[str, Any]) -> tuple[int, float | None]:
    """Return how many committed change-log rows pos has not applied and the oldest one's age (s)."""
    from datetime import datetime

    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            count, oldest = conn.execute(
                text("SELECT COUNT(*), MIN(created_at) FROM change_log WHERE (id > :p AND txid >= :x "
                     "AND NOT (txid = ANY(:a))) OR (txid = 0 AND id > :h)"),
                {"p": int(pos.get("id", 0)), "x": int(pos.get("xmin", 0)), "a": [int(t) for t in pos.get("early", [])],
                 "h": int(pos.get("history", 0))},
            ).one()
        else:
            count, oldest = conn.execute(
                text("SELECT COUNT(*), MIN(created_at) FROM change_log WHERE id > :p"), {"p": int(pos.get("id", 0))}
            ).one()
    if not count or oldest is None:
        return 0, None
    if isinstance(oldest, str):  # SQLite returns the stored text
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return int(count), max(0.0, (datetime.now(UTC) - oldest).total_seconds())


BEAT = "worker.beat"


def beat(root: str) -> None:
    """Mark the index worker alive (touch root/worker.beat)."""
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, BEAT)
    try:
        os.utime(path)
    except FileNotFoundError:
        with open(path, "w", encoding="utf-8"):
            pass


def worker_seen(root: str) -> float | None:
    """Return seconds since the index worker last marked itself alive (None: never)."""
    try:
        return max(0.0, time.time() - os.stat(os.path.join(root, BEAT)).st_mtime)
    except OSError:
        return None


# --------------------------------------------------------------------------- applying


def _targets(rows: Iterable[Any], session: Session) -> tuple[set[int], set[int], set[int]]:
    listings: set[int] = set()
    orgs: set[int] = set()
    for r in rows:
        if r.entity_type == "listing":
            listings.add(r.entity_id)
        elif r.entity_type in ("reuse", "status_update") and r.listing_id:
            listings.add(r.listing_id)
        elif r.entity_type == "organisation":
            orgs.add(r.entity_id)
    org_listings: set[int] = set()
    if orgs:
        org_listings = set(session.scalars(select(Listing.id).where(Listing.organisation_id.in_(orgs))))
    return listings | org_listings, orgs, set()


def apply_rows(writer: Any, session: Session, rows: list[Any], pause: Callable[[], None] | None = None) -> int:
    """Re-index every entity the change rows name; return how many documents changed.

    pause, if given, is called before each listing document (tests write concurrently there).
    """
    listing_ids, org_ids, _ = _targets(rows, session)
    n = 0
    found: set[int] = set()
    ids = sorted(listing_ids)
    for i in range(0, len(ids), BATCH):
        for listing in session.scalars(_listing_query().where(Listing.id.in_(ids[i : i + BATCH]))).all():
            if pause is not None:
                pause()
            writer.update_document(**listing_doc(listing))
            found.add(listing.id)
            n += 1
    for gone in listing_ids - found:
        writer.delete_by_term("uid", f"listing:{gone}")
        n += 1
    for org in session.scalars(select(Organisation).where(Organisation.id.in_(sorted(org_ids)))):
        writer.update_document(**org_doc(org))
        n += 1
    return n


@dataclass
class CatchUp:
    """What one catch-up did."""

    applied_rows: int = 0
    skipped_busy: bool = False


def catch_up(root: str, engine: Engine, session_factory: Callable[[], Session],
             pause: Callable[[], None] | None = None, limit: int = 5000) -> CatchUp:
    """Apply pending change-log rows to the live generation; skip quietly if another process is at it.

    Applies what was committed when it started, not what arrives meanwhile: under a steady
    stream of writes a catch-up must end, so the worker's next round (a fraction of a second
    later) takes the rest. pause is handed to apply_rows (called before each listing document).
    """
    gen = current_generation(root)
    result = CatchUp()
    if gen is None:
        return result
    with _flock(os.path.join(gen, "follow.lock"), blocking=False) as got:
        if not got:
            result.skipped_busy = True
            return result
        try:
            pos = read_position(gen)
        except (FileNotFoundError, ValueError):
            return result
        while True:
            rows, new = pending_changes(engine, pos, limit)
            if not rows:
                if new != pos:
                    write_position(gen, new)
                break
            ix = windex.open_dir(gen)
            try:
                writer = SegmentWriter(ix, timeout=5.0, delay=0.05)
            except LockError:
                result.skipped_busy = True
                break
            session = session_factory()
            try:
                apply_rows(writer, session, rows, pause)
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
            finally:
                session.close()
            write_position(gen, new)
            result.applied_rows += len(rows)
            pos = new
            # On PostgreSQL one read returns every committed row; on SQLite a full batch
            # means more rows may have been committed before this catch-up started.
            if engine.dialect.name == "postgresql" or len(rows) < limit:
                break
    return result


# --------------------------------------------------------------------------- rebuild

PARALLEL_FROM = 5000  # documents; smaller builds are faster in one process


def writer_options(documents: int = PARALLEL_FROM) -> dict[str, Any]:
    """Return Whoosh writer settings for a full build of this many documents.

    Large builds analyse in one process per core (up to 4), each writing its own segment
    (multisegment: no final merge); the query engine works per segment anyway.
    """
    procs = min(4, os.cpu_count() or 1)
    if documents < PARALLEL_FROM or procs < 2:
        return {"limitmb": 256}
    return {"procs": procs, "limitmb": 256, "multisegment": True}



def rebuild(root: str, engine: Engine, session_factory: Callable[[], Session],
            progress: Progress | None = None, keep: int = 2, only_if_unusable: bool = False,
            one_process: bool = False) -> str:
    """Build a fresh generation beside the live one and swap it in atomically.

    one_process: analyse in this process even for a large build (a profiler sees the work).
    """
    os.makedirs(root, exist_ok=True)
    with _flock(os.path.join(root, "rebuild.lock"), blocking=True):
        if only_if_unusable and check(root) is None:
            # Another worker rebuilt it while this one waited for the lock.
            return current_generation(root) or ""
        name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{threading.get_ident() % 10000}"
        gen = os.path.join(root, name)
        os.makedirs(gen)
        pos = start_position(engine)  # taken before reading, so later changes replay
        ix = windex.create_in(gen, build_schema())
        session = session_factory()
        writer = ix.writer(**writer_options(0 if one_process else count_documents(session)))
        try:
            for doc in iter_documents(session):
                writer.add_document(**doc)
                if progress:
                    progress(1)
            writer.commit()
        except BaseException:
            writer.cancel()
            shutil.rmtree(gen, ignore_errors=True)
            raise
        finally:
            session.close()
        write_position(gen, pos)
        tmp = os.path.join(root, CURRENT + f".{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(name)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, os.path.join(root, CURRENT))
        _prune(root, name, keep)
    log.info("search index rebuilt in %s", gen)
    return gen


def _prune(root: str, live: str, keep: int) -> None:
    gens = sorted(d for d in os.listdir(root) if d.startswith("gen-") and d != live)
    for old in gens[: max(0, len(gens) - (keep - 1))]:
        shutil.rmtree(os.path.join(root, old), ignore_errors=True)
