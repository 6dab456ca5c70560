"""Generate a benchmark marketplace from the real vocabulary, fast, with SQLAlchemy Core.

Municipalities are the 10,981 Gemeinden of GV100AD (loaded by the reference loader); titles
and texts combine the 557 OZG-Leistungen and the LeiKa-Leistungen mapped to them. Listings
are mostly published and public; some are members-only in networks. Every listing and
every reuse gets a change-log row, so the change feed holds (listings + reuses) entries.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text

TAGS = [
    "ozg", "efa", "einer-für-alle", "formular", "epayment", "servicekonto", "bundid", "xoev",
    "xta", "open-source", "fit-connect", "e-akte", "dms", "terminvergabe", "chatbot",
    "geodaten", "wfs", "ratsinformation", "oparl", "bürgerportal", "barrierefrei", "app",
    "schnittstelle", "rest-api", "low-code", "ki", "onlinezugang", "postfach", "signatur",
    "scan", "workflow", "statistik", "dashboard", "cloud", "rechenzentrum", "sicherheit",
    "datenschutz", "interkommunal", "landkreis", "pilot",
]
PLATFORMS = [
    "Civento", "Form-Solutions", "OZG-Hub", "service-bw", "Amt24", "Dataport OSI",
    "Formcycle", "Komm.ONE Serviceportal", "BayernPortal", "Eigenentwicklung",
]
TECHNOLOGIES = [
    "Python, Django", "Java, Spring Boot", "PHP, Symfony", "TypeScript, React", "Vue.js",
    "PostgreSQL", "Kotlin", "Go", ".NET", "Drupal", "TYPO3", "Camunda",
]
LICENCES = ["EUPL-1.2", "MIT", "AGPL-3.0-only", "Apache-2.0", "GPL-3.0-or-later"]
COMPONENT_WORDS = [
    "Fachverfahren", "Formularmodul", "Schnittstelle", "Antragsassistent", "Bezahlmodul",
    "Terminbuchung", "Dokumentenablage", "Prozessmodell", "Online-Portal", "Fachanwendung",
]
PROJECT_WORDS = [
    "Digitalisierung", "Einführung", "Umstellung auf Online-Antrag:", "Modernisierung",
    "Ende-zu-Ende-Digitalisierung", "Pilotprojekt",
]
NETWORKS = [
    ("andi-bw", "ANDI – Arbeitsgemeinschaft Digitalisierung Baden-Württemberg", "08"),
    ("digital-nrw", "Kommunale Digitalisierung NRW", "05"),
    ("bayern-digital", "Digitale Kommunen Bayern", "09"),
    ("nds-verbund", "IT-Verbund Niedersachsen", "03"),
    ("sachsen-kommunal", "Sachsen kommunal digital", "14"),
]
REUSE_STAGES = ["interested", "evaluating", "pilot", "production", "production", "discontinued"]
PHASES = ["idea", "planned", "in_progress", "live", "stopped"]
CHUNK = 5000
RESULTS_WORK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "work")
# Benchmark databases on PostgreSQL: mp_bench_base (migrated + reference data, the template)
# and mp_bench_<size>. The test suite's databases (test, mp_test_*, mp_template_*) are never touched.
PG_PREFIX = "mp_bench_"


def _slug(text_: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})
    out = []
    for ch in text_.translate(table).lower():
        out.append(ch if ch.isascii() and ch.isalnum() else "-")
    return "-".join(p for p in "".join(out).split("-") if p)[:150]


def db_url(db: str) -> str:
    """Return the SQLAlchemy URL of db: a URL as given, a path as a SQLite file URL."""
    return db if "://" in db else "sqlite:///" + os.path.abspath(db)


def make_app(db_path: str, index_dir: str):
    """Create a Marktplatz app bound to the given database (SQLite path or URL) and index."""
    from marktplatz import create_app

    return create_app(
        {
            "DATABASE_URL": db_url(db_path),
            "INDEX_DIR": os.path.abspath(index_dir),
            "TESTING": False,
        }
    )


def base_database(path: str) -> float:
    """Create a migrated database holding the reference data; return seconds (0 if cached)."""
    if os.path.exists(path):
        return 0.0
    from marktplatz.cli.db import upgrade_database
    from marktplatz.core.db import get_session
    from marktplatz.services.reference import load_reference

    start = time.perf_counter()
    tmp = path + ".tmp"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(tmp + suffix):
            os.remove(tmp + suffix)
    app = make_app(tmp, os.path.join(os.path.dirname(path), "index-base"))
    with app.app_context():
        upgrade_database()
        load_reference(get_session())
        get_session().commit()
        get_session().close()
        from marktplatz.core.db import get_engine

        with get_engine().begin() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        get_engine().dispose()
    os.replace(tmp, path)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(tmp + suffix):
            os.remove(tmp + suffix)
    return time.perf_counter() - start


def _vocabulary(conn: Any) -> dict[str, Any]:
    from marktplatz.models import Lebenslage, LeikaLeistung, Organisation, OzgLeistung, Themenfeld

    ozg = conn.execute(
        select(OzgLeistung.id, OzgLeistung.name, Lebenslage.name, Themenfeld.name)
        .join(Lebenslage, Lebenslage.id == OzgLeistung.lebenslage_id)
        .join(Themenfeld, Themenfeld.id == OzgLeistung.themenfeld_id)
        .order_by(OzgLeistung.id)
    ).all()
    leika_by_ozg: dict[int, list[tuple[int, str, str]]] = {}
    for lid, name, ozg_id, basis in conn.execute(
        select(LeikaLeistung.id, LeikaLeistung.name, LeikaLeistung.ozg_id, LeikaLeistung.legal_basis)
    ):
        leika_by_ozg.setdefault(ozg_id, []).append((lid, name, basis))
    orgs = conn.execute(
        select(Organisation.id, Organisation.short_name, Organisation.land_code, Organisation.name)
        .where(Organisation.ags.is_not(None))
        .order_by(Organisation.id)
    ).all()
    return {"ozg": ozg, "leika": leika_by_ozg, "orgs": orgs}


def _chunks(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[start : start + CHUNK])


def _listing_row(rng: random.Random, lid: int, org: Any, ozg: Any, leika: list[Any], now: datetime) -> tuple[dict[str, Any], list[int]]:
    """Return one listing row and the LeiKa ids it references."""
    ozg_id, ozg_name, lage, feld = ozg
    picked = rng.sample(leika, min(len(leika), rng.choice([0, 1, 1, 2]))) if leika else []
    leika_name = picked[0][1] if picked else ozg_name
    kind = rng.choices(["dienst", "komponente", "projekt"], [2, 1, 1])[0]
    if kind == "dienst":
        title = rng.choice([f"{leika_name} online", f"Online-Antrag {leika_name}", f"{ozg_name} – digitaler Antrag"])
    elif kind == "komponente":
        title = f"{rng.choice(COMPONENT_WORDS)} {ozg_name}"
    else:
        title = f"{rng.choice(PROJECT_WORDS)} {leika_name}"
    if rng.random() < 0.5:
        title = f"{title} – {org[1]}"
    title = title[:200]
    others = ", ".join(name for _id, name, _b in rng.sample(leika, min(3, len(leika)))) if leika else ozg_name
    basis = next((b for _i, _n, b in picked if b), "")
    description = (
        f"{org[3]} stellt die Leistung „{ozg_name}“ aus dem Themenfeld {feld} "
        f"(Lebenslage {lage}) digital bereit. Umfasst: {others}. "
        + (f"Rechtsgrundlage: {basis}. " if basis else "")
        + rng.choice([
            "Bürgerinnen und Bürger stellen den Antrag rund um die Uhr, die Sachbearbeitung erhält ihn medienbruchfrei.",
            "Die Lösung wurde gemeinsam mit Nachbarkommunen entwickelt und steht zur Nachnutzung bereit.",
            "Anbindung an Servicekonto, E-Payment und das Fachverfahren ist umgesetzt.",
            "Das Projekt läuft im Rahmen der OZG-Umsetzung nach dem Einer-für-Alle-Prinzip.",
        ])
    )
    status = rng.choices(["published", "draft", "archived"], [96, 2, 2])[0]
    published = now - timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60))
    row = {
        "id": lid,
        "kind": kind,
        "organisation_id": org[0],
        "title": title,
        "slug": f"{_slug(title)}-{lid}",
        "summary": f"{ozg_name} in {org[1]}: {leika_name}."[:300],
        "description": description,
        "status": status,
        "visibility": "public",
        "phase": rng.choice(PHASES) if kind == "projekt" else None,
        "reifegrad": rng.randint(0, 7) if kind == "dienst" else None,
        "reifegrad_model": "2.0" if kind == "dienst" else None,
        "licence": rng.choice(LICENCES) if kind == "komponente" else None,
        "repository_url": f"https://code.example/{_slug(org[1])}/{lid}" if kind == "komponente" else None,
        "website_url": None,
        "contact_name": None,
        "contact_email": None,
        "reuse_offered": (offered := rng.random() < 0.3),
        # An offer names its terms (the listing rules require it; a PATCH revalidates).
        "reuse_terms": "Kostenfrei nach Absprache (Benchmark-Daten)." if offered else "",
        "cost_model": rng.choice(["free", "cost_sharing", "license_fee", "on_request", None]),
        "platform": rng.choice(PLATFORMS) if kind == "dienst" else None,
        "technologies": rng.choice(TECHNOLOGIES) if kind == "komponente" else None,
        "maintenance": rng.choice(["active", "maintained", None]) if kind == "komponente" else None,
        "looking_for_partners": rng.random() < 0.2,
        "partners": "",
        "external_id": None,
        "duplicate_of_id": None,
        "duplicate_override_reason": None,
        "review_comment": None,
        "version": 1,
        "created_by_id": None,
        "created_at": published - timedelta(days=1),
        "updated_at": published,
        "published_at": None if status == "draft" else published,
        "submitted_at": None if status == "draft" else published - timedelta(hours=5),
        "archived_at": published + timedelta(days=30) if status == "archived" else None,
    }
    return row, [p[0] for p in picked]


def populate(db_path: str, n_listings: int, seed: int = 7, reuses_per_listing: float = 3.0) -> dict[str, Any]:
    """Fill a copy of the base database with n_listings listings; return counts and timing."""
    from marktplatz.core.db import get_engine
    from marktplatz.models import (
        ChangeLog,
        Listing,
        ListingTag,
        Network,
        NetworkMembership,
        Reuse,
        listing_leika,
        listing_ozg,
    )

    rng = random.Random(seed)
    start = time.perf_counter()
    postgres = db_path.startswith("postgresql")
    unused = os.path.join(RESULTS_WORK if postgres else os.path.dirname(db_path), "index-unused")
    app = make_app(db_path, unused)
    with app.app_context():
        engine = get_engine()
        with engine.begin() as conn:
            if not postgres:
                conn.execute(text("PRAGMA foreign_keys=OFF"))
            voc = _vocabulary(conn)
            orgs, ozgs, leika = voc["orgs"], voc["ozg"], voc["leika"]
            now = datetime.now(UTC).replace(tzinfo=None)

            # Networks: all municipalities of five Länder.
            members_of: dict[int, int] = {}
            for i, (slug, name, land) in enumerate(NETWORKS, start=1):
                conn.execute(insert(Network.__table__), [{"id": i, "slug": slug, "name": name, "description": "", "created_at": now}])
                rows = [
                    {"network_id": i, "organisation_id": o[0], "joined_at": now}
                    for o in orgs if o[2] == land
                ]
                for r in rows:
                    members_of[r["organisation_id"]] = i
                _chunks(conn, NetworkMembership.__table__, rows)

            listings, ozg_rows, leika_rows, tag_rows = [], [], [], []
            for lid in range(1, n_listings + 1):
                org = orgs[(lid * 7919) % len(orgs)] if lid <= len(orgs) else rng.choice(orgs)
                ozg = rng.choice(ozgs)
                row, leika_ids = _listing_row(rng, lid, org, ozg, leika.get(ozg[0], []), now)
                if org[0] in members_of and rng.random() < 0.15:
                    row["visibility"] = "network"
                listings.append(row)
                ozg_rows.append({"listing_id": lid, "ozg_id": ozg[0]})
                if rng.random() < 0.2:
                    extra = rng.choice(ozgs)[0]
                    if extra != ozg[0]:
                        ozg_rows.append({"listing_id": lid, "ozg_id": extra})
                leika_rows.extend({"listing_id": lid, "leika_id": x} for x in leika_ids)
                tag_rows.extend({"listing_id": lid, "tag": t} for t in rng.sample(TAGS, rng.randint(1, 3)))
            _chunks(conn, Listing.__table__, listings)
            _chunks(conn, listing_ozg, ozg_rows)
            _chunks(conn, listing_leika, leika_rows)
            _chunks(conn, ListingTag.__table__, tag_rows)

            reuses: list[dict[str, Any]] = []
            rid = 0
            for row in listings:
                if row["status"] == "draft":
                    continue
                k = min(rng.randint(0, 6), 6)
                chosen = {row["organisation_id"]}
                for _ in range(k):
                    o = rng.choice(orgs)[0]
                    if o in chosen:
                        continue
                    chosen.add(o)
                    rid += 1
                    when = row["published_at"] + timedelta(days=rng.randint(1, 200))
                    reuses.append({
                        "id": rid, "listing_id": row["id"], "organisation_id": o,
                        "stage": rng.choice(REUSE_STAGES), "reason": "", "note": "",
                        "contact_name": None, "contact_email": None, "created_by_id": None,
                        "created_at": when, "updated_at": when,
                    })
            _chunks(conn, Reuse.__table__, reuses)

            # Change log in time order: one row per listing and per reuse.
            events = [(r["created_at"], "listing", r["id"], "created", r["organisation_id"], r["id"]) for r in listings]
            events += [(r["created_at"], "reuse", r["id"], "created", r["organisation_id"], r["listing_id"]) for r in reuses]
            events.sort()
            _chunks(conn, ChangeLog.__table__, [
                {"entity_type": e[1], "entity_id": e[2], "op": e[3], "organisation_id": e[4],
                 # PostgreSQL: history rows carry txid 0, as `marktplatz import` writes them
                 # (services/backup.py: history_txid); the feed reads txid < horizon.
                 "listing_id": e[5], "txid": 0 if postgres else None, "created_at": e[0]}
                for e in events
            ])
            counts = {
                "listings": n_listings,
                "published_public": sum(1 for r in listings if r["status"] == "published" and r["visibility"] == "public"),
                "members_only": sum(1 for r in listings if r["visibility"] == "network"),
                "reuses": len(reuses),
                "reuses_per_listing": round(len(reuses) / n_listings, 2),
                "change_log": conn.execute(select(func.count()).select_from(ChangeLog.__table__)).scalar_one(),
                "municipalities_owning": len({r["organisation_id"] for r in listings}),
            }
        if postgres:
            from marktplatz.services.backup import reset_sequences

            with engine.begin() as conn:
                reset_sequences(conn)  # the rows above carry explicit ids
            # Planner statistics: without them PostgreSQL plans the generated tables as empty
            # (seconds per page). Run here, not left to `marktplatz import`.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        else:
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        engine.dispose()
    counts["seconds"] = round(time.perf_counter() - start, 2)
    return counts


def build(work_dir: str, n_listings: int) -> tuple[str, dict[str, Any]]:
    """Return the path of a populated database for n_listings (cached by size) and its stats."""
    os.makedirs(work_dir, exist_ok=True)
    base = os.path.join(work_dir, "base.db")
    base_seconds = base_database(base)
    path = os.path.join(work_dir, f"listings-{n_listings}.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    shutil.copyfile(base, path)
    stats = populate(path, n_listings)
    stats["reference_load_seconds"] = round(base_seconds, 2)
    stats["db_bytes"] = os.path.getsize(path)
    return path, stats


# ---------------------------------------------------------------- PostgreSQL


def _pg_admin(server_url: str):
    """Return an autocommit engine on the maintenance database of server_url's server."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT",
                         connect_args={"connect_timeout": 5})


def pg_url(server_url: str, name: str) -> str:
    """Return the URL of database name on the server of server_url."""
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _guard(name: str) -> None:
    if not name.startswith(PG_PREFIX) or name.startswith(("test", "mp_test_")):
        raise ValueError(f"refusing to drop or create {name!r}: benchmark databases are {PG_PREFIX}*")


def _recreate(admin: Any, name: str, template: str | None = None) -> None:
    _guard(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))


def _migrations_head() -> str:
    """Return the Alembic head revision of this checkout (to tell whether a template is current)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg = Config(os.path.join(root, "alembic.ini"))
    cfg.set_main_option("script_location", os.path.join(root, "migrations"))
    return ScriptDirectory.from_config(cfg).get_current_head() or ""


def pg_base_database(server_url: str) -> float:
    """Create mp_bench_base (migrated, reference data) unless it is at the current head; return seconds."""
    from sqlalchemy import create_engine

    name = PG_PREFIX + "base"
    admin = _pg_admin(server_url)
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists:
            probe = create_engine(pg_url(server_url, name))
            try:
                with probe.connect() as conn:
                    have = conn.scalar(text("SELECT version_num FROM alembic_version"))
                    loaded = conn.scalar(text("SELECT count(*) FROM organisation WHERE ags IS NOT NULL"))
            except Exception:  # noqa: BLE001 - a half-built template: build it again
                have, loaded = None, 0
            finally:
                probe.dispose()
            if have == _migrations_head() and loaded:
                return 0.0
        start = time.perf_counter()
        _recreate(admin, name)
        from marktplatz.cli.db import upgrade_database
        from marktplatz.core.db import get_engine, get_session
        from marktplatz.services.reference import load_reference

        app = make_app(pg_url(server_url, name), os.path.join(RESULTS_WORK, "index-base-pg"))
        with app.app_context():
            upgrade_database()
            load_reference(get_session())
            get_session().commit()
            get_session().close()
            get_engine().dispose()
        return time.perf_counter() - start
    finally:
        admin.dispose()


def build_postgres(server_url: str, n_listings: int) -> tuple[str, dict[str, Any]]:
    """Return the URL of a freshly generated mp_bench_<n> on PostgreSQL and its stats.

    The same generator and seed as the SQLite file, so both backends hold identical rows:
    mp_bench_base (migrations + reference data, kept while its revision is current) is
    copied as a template, then the listings are generated into the copy, the id sequences
    moved past them and ANALYZE run.
    """
    base_seconds = pg_base_database(server_url)
    name = f"{PG_PREFIX}{n_listings}"
    admin = _pg_admin(server_url)
    try:
        _recreate(admin, name, template=PG_PREFIX + "base")
    finally:
        admin.dispose()
    url = pg_url(server_url, name)
    stats = populate(url, n_listings)
    stats["reference_load_seconds"] = round(base_seconds, 2)
    stats["db_bytes"] = query(url, "SELECT pg_database_size(current_database())")[0][0]
    return url, stats


def query(db: str, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    """Run one read-only statement against db (SQLite path or URL); return all rows."""
    from sqlalchemy import create_engine

    engine = create_engine(db_url(db))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params or {}).all())
    finally:
        engine.dispose()
