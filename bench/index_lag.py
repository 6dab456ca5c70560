"""Index lag under load: from a committed write to the search index showing it.

gunicorn (gunicorn.conf.py, 2 workers) and `marktplatz worker` run as in production. Reader
threads load the search, browse, listing and API pages; writer threads each rename a public
listing through the API (PATCH, token of its municipality) and, once the write is
acknowledged (committed), poll an anonymous `GET /api/v1/listings?q=<new word>` every
10 ms until the listing is found. Anonymous searches are answered by the index only (no
read-your-writes fallback), so the time until the hit is the index lag.

    python -m bench.index_lag                      # 10,000 listings, 60 s
    python -m bench.index_lag --listings 2000 --seconds 20
    python -m bench.index_lag --listings 2000 --seconds 20 --postgres   # mp_bench_2000 on PostgreSQL
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from . import dataset
from . import httpload as bh

POLL = 0.01  # seconds between two looks for the written word
GIVE_UP = 30.0  # seconds after which a write counts as not shown


def pct(values: list[float], p: float) -> float:
    """Return the p-th percentile (nearest rank) of values."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def _writers_setup(db_path: str, index_dir: str, writers: int) -> list[tuple[str, list[int]]]:
    """Return, per writer, a write token of one of the municipalities with the most public
    listings and up to 20 of those listings (no two writers share a listing)."""
    from sqlalchemy import select

    from marktplatz.core.db import get_session
    from marktplatz.models import Organisation, User
    from marktplatz.services import accounts, tokens

    orgs = [r[0] for r in dataset.query(
        db_path, "SELECT organisation_id FROM listing WHERE status='published' AND visibility='public' "
                 "GROUP BY organisation_id ORDER BY COUNT(*) DESC, organisation_id LIMIT :n", {"n": writers})]
    ids = {o: [r[0] for r in dataset.query(
        db_path, "SELECT id FROM listing WHERE status='published' AND visibility='public' AND organisation_id = :o "
                 # valid as they stand (datasets before 2026-12-03 offered reuse without terms)
                 "AND (NOT reuse_offered OR reuse_terms <> '') ORDER BY id LIMIT 20", {"o": o})] for o in orgs}
    app = dataset.make_app(db_path, index_dir)
    out = []
    with app.app_context():
        session = get_session()
        admin = session.scalar(select(User).where(User.email == "bench-admin@marktplatz.example"))
        if admin is None:
            admin = accounts.create_user(session, "bench-admin@marktplatz.example", "Benchmark", "x" * 20, "admin")
        for o in orgs:
            _t, secret = tokens.create_token(session, admin, session.get(Organisation, o), "Index lag",
                                             ["read", "write"])
            out.append((secret, ids[o]))
        session.commit()  # this setup is the edge of its unit of work
        session.close()
        from marktplatz.core.db import get_engine

        get_engine().dispose()  # no idle connection left open (PostgreSQL: DROP DATABASE later)
    return out


def _request(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw[:1] in (b"{", b"[") else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw) if raw[:1] == b"{" else None
        except ValueError:
            return err.code, None


def _wait_for_worker(base: str, timeout: float = 600) -> dict[str, Any]:
    """Wait until the worker has run and the index has caught up (it may build the index first)."""
    deadline = time.monotonic() + timeout
    body: Any = None
    while time.monotonic() < deadline:
        _status, body = _request(base + "/healthz")
        index = (body or {}).get("index") or {}
        if index.get("worker_seen_seconds") is not None and index.get("lag_rows") == 0:
            return body
        time.sleep(0.5)
    raise RuntimeError(f"the worker did not catch up: {body}")


def lag_figures(lags: list[float]) -> dict[str, float]:
    """Return p50/p90/p99/max of lags in seconds (empty when nothing was shown)."""
    if not lags:
        return {}
    return {"p50_s": round(pct(lags, 50), 3), "p90_s": round(pct(lags, 90), 3),
            "p99_s": round(pct(lags, 99), 3), "max_s": round(max(lags), 3)}


def write_and_watch(write_base: str, read_base: str, token: str, mine: list[int], tag: str, stop: threading.Event,
                    lags: list[float], missed: list[str], lock: threading.Lock) -> None:
    """Until stop: rename one of mine through write_base's API (PATCH), then poll an anonymous
    search on read_base every POLL s for the new word; append the seconds from the
    acknowledged write to the hit to lags, or the word (or the failed write) to missed."""
    n = 0
    rng = random.Random(tag)
    while not stop.is_set():
        n += 1
        # A word no other listing has, nor anything within the typo tolerance (two edits) or
        # sharing its 4-grams: "tag1" and "tag12" would both match "tag1", and the API lists
        # the matches by id, so the written listing could fall off the polled page.
        word = tag + "".join(rng.choice(string.ascii_lowercase) for _ in range(10))
        lid = mine[n % len(mine)]
        status, body = _request(f"{write_base}/api/v1/listings/{lid}", "PATCH", {"title": f"Hundesteuer {word}"}, token)
        if status != 200:
            with lock:
                missed.append(f"write {status}: {str(body)[:300]}")
            time.sleep(0.5)
            continue
        acked = time.monotonic()
        while time.monotonic() - acked < GIVE_UP:
            _status, body = _request(f"{read_base}/api/v1/listings?q={word}&limit=50")
            if any(item.get("id") == lid for item in (body or {}).get("items", [])):
                with lock:
                    lags.append(time.monotonic() - acked)
                break
            time.sleep(POLL)
        else:
            with lock:
                missed.append(word)


def measure(db_path: str, index_dir: str, work: str, seconds: float = 60, readers: int = 8,
            writers: int = 2) -> dict[str, Any]:
    """Run the load for `seconds` and return the lag figures (seconds) and the load reached."""
    from .run import QUERIES, env_for

    setup = _writers_setup(db_path, index_dir, writers)
    env = env_for(db_path, index_dir)
    log_path = os.path.join(work, "index-lag.log")
    slugs = [r[0] for r in dataset.query(
        db_path, "SELECT slug FROM listing WHERE status='published' AND visibility='public' ORDER BY id LIMIT 200")]
    pages = ([f"/eintraege?q={urllib.parse.quote_plus(q)}" for q in QUERIES] + [f"/eintraege/{s}" for s in slugs[:50]]
             + ["/eintraege", "/api/v1/listings", "/api/v1/listings?q=Hundesteuer"])
    with open(log_path, "ab") as log, bh.gunicorn("marktplatz.wsgi:app", env, log_path) as (base, _master), \
            bh.marktplatz_worker(env, log):
        _wait_for_worker(base)
        stop = threading.Event()
        lags: list[float] = []
        missed: list[str] = []
        reads = [0]
        errors: list[int] = []
        lock = threading.Lock()

        def read(seed: int) -> None:
            rng = random.Random(seed)
            while not stop.is_set():
                status, _body = _request(base + rng.choice(pages))
                with lock:
                    reads[0] += 1
                    if status != 200:
                        errors.append(status)

        threads = [threading.Thread(target=read, args=(i,)) for i in range(readers)]
        threads += [threading.Thread(target=write_and_watch, args=(base, base, token, mine, f"zqlag{k}x", stop,
                                                                   lags, missed, lock))
                    for k, (token, mine) in enumerate(setup)]
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join(GIVE_UP + 30)
        elapsed = time.monotonic() - started
        load_after = os.getloadavg()[0]
    out: dict[str, Any] = {"seconds": round(elapsed, 1), "readers": readers, "writers": writers,
                           "writes_shown": len(lags), "not_shown": len(missed), "reads_per_s": round(reads[0] / elapsed, 1),
                           "read_errors": len(errors), "loadavg_1min": [round(load_before, 1), round(load_after, 1)]}
    out.update(lag_figures(lags))
    return out


def main() -> int:
    """Build (or reuse) a dataset, measure, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--postgres", action="store_true",
                        help="generate mp_bench_<listings> on the PostgreSQL bench.run finds instead of SQLite")
    args = parser.parse_args()
    from .run import RESULTS, postgres_server

    work = os.path.join(RESULTS, "work")
    if args.postgres:
        server, how = postgres_server()
        if server is None:
            parser.error(how)
        db_path, _stats = dataset.build_postgres(server, args.listings)
    else:
        db_path, _stats = dataset.build(work, args.listings)
    index_dir = os.path.join(work, f"index-lag-{'pg-' if args.postgres else ''}{args.listings}")
    # dataset.build made a new database: an index of an earlier one would hold positions of
    # another change log. The worker builds a fresh one before the load starts.
    shutil.rmtree(index_dir, ignore_errors=True)
    result = measure(db_path, index_dir, work, args.seconds, args.readers, args.writers)
    result["listings"] = args.listings
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
