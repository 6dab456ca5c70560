"""Benchmark the sync API over HTTP against gunicorn.

Upserts N listings (default 10,000) in batches of 500, re-sends them (all unchanged), then
pulls the change feed (topping the change log up to --changes rows, default 100,000) and
reports throughput and the latency of the first and last feed pages.

    .venv/bin/python bench/api_bench.py                       # temporary SQLite database
    .venv/bin/python bench/api_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from marktplatz_client import MarktplatzClient
from sqlalchemy import func, insert, select  # noqa: E402

from marktplatz import create_app
from tests.live_server import gunicorn  # noqa: E402


def prepare(url: str, tmp: Path) -> str:
    """Migrate, load reference data, create an officer and a write token; return the token."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INDEX_DIR": str(tmp / "idx")})
    with app.app_context():
        from marktplatz.cli.db import upgrade_database
        from marktplatz.core.db import get_engine, get_session
        from marktplatz.models import Organisation, User
        from marktplatz.services import accounts, tokens
        from marktplatz.services.reference import load_reference, reference_loaded

        upgrade_database()
        session = get_session()
        if not reference_loaded(session):
            load_reference(session)
        org = session.scalar(select(Organisation).where(Organisation.ags == "08311000"))
        user = session.scalar(select(User).where(User.email == "bench@example.org")) or accounts.create_user(
            session, "bench@example.org", "Bench", "Lasttest-Schluessel-42", "officer", org)
        secret = tokens.create_token(session, user, org, f"bench {time.time()}", ["read", "write"])[1]
        session.commit()
        session.close()
        get_engine().dispose()
    return secret


def top_up_changes(url: str, tmp: Path, total: int) -> int:
    """Insert synthetic public change-log rows until the log holds total rows; return count."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INDEX_DIR": str(tmp / "idx")})
    with app.app_context():
        from marktplatz.core.db import get_engine
        from marktplatz.models import ChangeLog, utcnow

        engine = get_engine()
        with engine.begin() as conn:
            have = conn.scalar(select(func.count()).select_from(ChangeLog))
            missing = max(0, total - have)
            now = utcnow()
            rows = [{"entity_type": "organisation", "entity_id": 1 + i % 11000, "op": "updated",
                     "organisation_id": 1 + i % 11000, "listing_id": None, "created_at": now} for i in range(missing)]
            for start in range(0, len(rows), 5000):
                conn.execute(insert(ChangeLog.__table__), rows[start:start + 5000])
            count = conn.scalar(select(func.count()).select_from(ChangeLog))
        engine.dispose()
    return count


def item(i: int) -> dict:
    """Return one synthetic listing."""
    return {
        "external_id": f"bench-{i}", "kind": "dienst", "title": f"Online-Dienst Nummer {i}",
        "summary": "Ein Online-Dienst für den Benchmark der Sync-Schnittstelle.",
        "tags": ["Benchmark"], "ozg_ids": [10160], "phase": "live",
    }


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mp-bench-"))
    url = args.database_url or "sqlite:///" + str(tmp / "bench.db")
    print(f"database: {url.split('@')[-1]}")
    token = prepare(url, tmp)
    env = {"MARKTPLATZ_API_RATELIMIT_PER_TOKEN": "100000/minute", "MARKTPLATZ_API_RATELIMIT_PER_IP": "100000/minute"}
    with gunicorn(url, tmp, workers=args.workers, extra_env=env, production_config=True,
                  ready_path="/api/v1/openapi.json", ratelimit=True) as server:
        client = MarktplatzClient(server.url, token=token, timeout=300)
        items = [item(i) for i in range(args.listings)]
        for label in ("upsert (create)", "upsert (unchanged)"):
            lat = []
            t0 = time.perf_counter()
            summary: dict[str, int] = {}
            for start in range(0, len(items), 500):
                t = time.perf_counter()
                res = client.request("POST", "sync/listings", json={"items": items[start:start + 500]}).json()
                lat.append(time.perf_counter() - t)
                for k, v in res["summary"].items():
                    summary[k] = summary.get(k, 0) + v
            dt = time.perf_counter() - t0
            print(f"{label}: {len(items)} listings in {dt:.1f}s = {len(items) / dt:.0f} listings/s; "
                  f"batch of 500 median {statistics.median(lat) * 1000:.0f} ms; {summary}")
        count = top_up_changes(url, tmp, args.changes)
        t0 = time.perf_counter()
        lat, n, after = [], 0, None
        while True:
            t = time.perf_counter()
            page = client.changes_page(after, args.page)
            lat.append(time.perf_counter() - t)
            if not page["items"]:
                break
            n += len(page["items"])
            after = page["next_cursor"]
        dt = time.perf_counter() - t0
        first, last = statistics.mean(lat[:5]), statistics.mean(lat[-6:-1])
        print(f"change feed: {n} of {count} changes in {dt:.1f}s = {n / dt:.0f} changes/s, "
              f"{len(lat) - 1} pages of {args.page}")
        print(f"feed page latency: first 5 pages {first * 1000:.0f} ms, last 5 pages {last * 1000:.0f} ms "
              f"(ratio {last / first:.2f})")


if __name__ == "__main__":
    main()
