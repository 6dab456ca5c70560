"""Run every benchmark at each dataset size; write JSON, Markdown and plots to bench/results/.

    python -m bench.run                       # 10k, 30k, 100k listings (make bench)
    python -m bench.run --quick               # 2k, 5k listings, short runs (make bench-quick)
    python -m bench.run --sizes 10000 --duration 5

Search and the REST API are probed, not assumed: when ``marktplatz.search.query`` or the
``/api/v1/...`` routes exist they are measured, otherwise reported as "not available".
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from . import dataset, fts5, index_lag, pgfts
from . import httpload as bh

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results")
BIN = os.path.dirname(sys.executable)

# A fixed mix of German queries an officer would type: single words, compounds, parts of
# compounds, umlauts with and without folding, typos, municipality names, two-word queries.
QUERIES = [
    "Hundesteuer", "hundesteur", "Steuer", "Gewerbeanmeldung", "Wohngeld", "Elterngeld",
    "Baugenehmigung", "Führungszeugnis", "Fuehrungszeugnis", "Müll", "Abfallgebühr",
    "Kita Platz", "Personalausweis", "Meldebescheinigung", "Parkausweis Anwohner",
    "Fischereischein", "Freiburg", "Sondernutzung Straße", "Eheschließung", "Open Source Formular",
]

BACKENDS = ("sqlite", "postgresql")
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# The officer "Meine Kommune" is measured for (Freiburg im Breisgau), signed in through the form.
BENCH_OFFICER = ("bench-officer@marktplatz.example", "Lasttest-Schluessel-42", "08311000")

# HTML pages rendered on every request (the issue 17 target: >= 0.10 of the hello ceiling).
HTML_PAGES = ("start_page", "browse_page", "browse_filtered", "search_page", "listing_page_uncached",
              "municipality_page", "ozg_page", "my_municipality")
API_PAGES = ("api_list", "api_detail")
FEED_PAGES = ("api_changes_start", "api_changes_middle", "api_changes_end")
ENDPOINT_ORDER = ("hello_ceiling",) + HTML_PAGES[:4] + ("listing_page",) + HTML_PAGES[4:] + API_PAGES + FEED_PAGES
LABELS = {
    "hello_ceiling": "hello ceiling", "start_page": "start page `/`",
    "browse_page": "browse, no filter (pages 1, 2, 50)", "browse_filtered": "browse, two filters",
    "search_page": "search page (20 queries)", "listing_page": "listing page, anonymous page cache",
    "listing_page_uncached": "listing page, rendered", "municipality_page": "municipality `/kommunen/<ags>`",
    "ozg_page": "`/ozg/<id>`", "my_municipality": "Meine Kommune (signed in)", "api_list": "API list",
    "api_detail": "API detail", "api_changes_start": "change feed, 500 at start",
    "api_changes_middle": "change feed, 500 in the middle", "api_changes_end": "change feed, 500 at the end",
}
# issue 17, "What must be true", item 2.
TARGETS = {
    "html_ratio": 0.10,
    "api_ratio": 0.15,
    "feed_ratio": 0.15,
    "growth_p50": 1.5,
    "index_build_per_second": 1500.0,
    "sync_indexing_per_second": 500.0,
    "search_p95_over_fts5": 2.0,
    "worker_rss_mb": 250.0,
    "first_response_s": 3.0,
    "upsert_per_second": 500.0,
}


def machine() -> dict[str, Any]:
    """Describe the machine the figures were taken on."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            mem_gb = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": mem_gb,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
        if bh.wrk_available() else None,
    }


def pct(values: list[float], p: float) -> float:
    """Return the p-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def latency(samples: list[float]) -> dict[str, float]:
    """Summarise seconds as p50/p95/p99 milliseconds."""
    ms = [s * 1000 for s in samples]
    return {"p50_ms": round(pct(ms, 50), 2), "p95_ms": round(pct(ms, 95), 2), "p99_ms": round(pct(ms, 99), 2), "n": len(ms)}


# ---------------------------------------------------------------- probes


def search_available() -> bool:
    """Tell whether the search package has landed."""
    try:
        return importlib.util.find_spec("marktplatz.search.query") is not None
    except ModuleNotFoundError:
        return False


def cli_has(group: str, env: dict[str, str]) -> bool:
    """Tell whether `marktplatz <group>` exists."""
    res = subprocess.run([os.path.join(BIN, "marktplatz"), group, "--help"], capture_output=True, env=env, cwd=ROOT)
    return res.returncode == 0


def routes(app: Any) -> set[str]:
    """Return the URL rules of the app."""
    return {r.rule for r in app.url_map.iter_rules()}


def _search_call(fn: Any, session: Any, user: Any, q: str) -> Any:
    """Call search_listings with whatever of (session, user, query) its signature names."""
    kwargs: dict[str, Any] = {}
    positional: list[Any] = []
    for name, param in inspect.signature(fn).parameters.items():
        value: Any = inspect.Parameter.empty
        if name in ("session", "db", "sess"):
            value = session
        elif name in ("user", "viewer", "current_user", "actor"):
            value = user
        elif name in ("q", "query", "text", "terms", "query_text", "search"):
            value = q
        if value is inspect.Parameter.empty:
            if param.default is inspect.Parameter.empty and param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
                raise TypeError(f"search_listings needs {name!r}, which the benchmark cannot supply")
            continue
        if param.kind == param.POSITIONAL_ONLY:
            positional.append(value)
        else:
            kwargs[name] = value
    return fn(*positional, **kwargs)


def env_for(db_path: str, index_dir: str) -> dict[str, str]:
    """Return the environment that points the app at the benchmark database (path or URL) and index."""
    env = dict(os.environ)
    env.update({
        "MARKTPLATZ_DATABASE_URL": dataset.db_url(db_path),
        "MARKTPLATZ_INDEX_DIR": os.path.abspath(index_dir),
        "MARKTPLATZ_SECRET_KEY": "bench-" + "x" * 40,
        "MARKTPLATZ_ENV": "production",
        "MARKTPLATZ_BASE_URL": "http://127.0.0.1",
        # One client IP generates all load: per-IP rate limits would measure the limiter.
        "MARKTPLATZ_RATELIMIT_ENABLED": "false",
    })
    return env


def dir_bytes(path: str) -> int:
    """Return the total size of the files below path."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return total


# ---------------------------------------------------------------- benchmarks


def bench_index(env: dict[str, str], index_dir: str, rebuild: bool = True) -> dict[str, Any]:
    """Build the search index from empty, then (unless rebuild is False) rebuild it, via
    `marktplatz search rebuild`."""
    if not search_available() or not cli_has("search", env):
        return {"available": False, "note": "search package or `marktplatz search` not present"}
    shutil.rmtree(index_dir, ignore_errors=True)
    cmd = [os.path.join(BIN, "marktplatz"), "search", "rebuild"]
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    build = time.perf_counter() - start
    if res.returncode != 0:
        return {"available": True, "ok": False, "error": (res.stderr or res.stdout)[-800:]}
    size = dir_bytes(index_dir)
    rebuilt: float | None = None
    if rebuild:
        start = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        rebuilt = round(time.perf_counter() - start, 2)
    n_listings = int(dataset.query(env["MARKTPLATZ_DATABASE_URL"], "SELECT count(*) FROM listing")[0][0])
    return {
        "available": True,
        "ok": res.returncode == 0,
        "build_seconds": round(build, 2),
        "rebuild_seconds": rebuilt,  # None: skipped (quick runs)
        "index_bytes": size,
        # All listings are indexed (drafts too, for their authors); the build also indexes
        # the 10,981 municipalities and 557 OZG-Leistungen, which the rate does not count.
        "listings": n_listings,
        "build_listings_per_second": round(n_listings / build, 1) if build else None,
    }


def bench_search(db_path: str, index_dir: str, rounds: int) -> dict[str, Any]:
    """Time search_listings in-process for the query mix (anonymous viewer)."""
    if not search_available():
        return {"available": False, "note": "marktplatz.search.query not present"}
    # The package-level entry point is what the pages and the API call (it finds the index
    # directory and catches up with the change log itself).
    query_mod = importlib.import_module("marktplatz.search")
    fn = getattr(query_mod, "search_listings", None)
    if fn is None:
        return {"available": False, "note": "marktplatz.search has no search_listings"}
    from flask_login import AnonymousUserMixin

    from marktplatz.core.db import get_session

    app = dataset.make_app(db_path, index_dir)
    samples: list[float] = []
    per_query: dict[str, float] = {}
    with app.test_request_context("/"):
        session = get_session()
        user = AnonymousUserMixin()
        try:
            for q in QUERIES:  # warm-up: open the index, fill caches
                _search_call(fn, session, user, q)
        except TypeError as err:
            return {"available": False, "note": str(err)}
        for q in QUERIES:
            mine = []
            for _ in range(rounds):
                start = time.perf_counter()
                _search_call(fn, session, user, q)
                mine.append(time.perf_counter() - start)
            samples += mine
            per_query[q] = round(statistics.median(mine) * 1000, 2)
    return {"available": True, **latency(samples), "median_ms_per_query": per_query}


def bench_fts5(db_path: str, work: str, rounds: int) -> dict[str, Any]:
    """Build the FTS5 reference index and time the same query mix."""
    path = os.path.join(work, os.path.basename(db_path).replace(".db", "-fts5.db"))
    built = fts5.build(db_path, path)
    searcher = fts5.Searcher(path)
    return _time_reference(built, searcher, rounds)


def bench_pg_fts(url: str, rounds: int) -> dict[str, Any]:
    """Build the PostgreSQL full-text reference (german tsvector, GIN) and time the same query mix."""
    built = pgfts.build(url)
    return _time_reference(built, pgfts.Searcher(url), rounds)


def _time_reference(built: dict[str, Any], searcher: Any, rounds: int) -> dict[str, Any]:
    """Time a reference searcher over the query mix (warm-up, then rounds per query)."""
    hits = {}
    for q in QUERIES:
        hits[q] = searcher.search(q)[0]
    samples = []
    for q in QUERIES:
        for _ in range(rounds):
            start = time.perf_counter()
            searcher.search(q)
            samples.append(time.perf_counter() - start)
    searcher.close()
    return {**built, **latency(samples), "hits": hits}



def _bench_accounts(db: str, index_dir: str) -> str:
    """Create the benchmark admin, a read/write API token of Freiburg and the signed-in officer.

    Returns the token secret. The officer (BENCH_OFFICER, Freiburg) signs in through the
    login form for "Meine Kommune"; created once per database.
    """
    from sqlalchemy import select

    from marktplatz.core.db import get_engine, get_session
    from marktplatz.models import Organisation, User
    from marktplatz.services import accounts, tokens

    email, password, ags = BENCH_OFFICER
    app = dataset.make_app(db, index_dir)
    with app.app_context():
        session = get_session()
        org = session.scalar(select(Organisation).where(Organisation.ags == ags))
        admin = session.scalar(select(User).where(User.email == "bench-admin@marktplatz.example"))
        if admin is None:
            admin = accounts.create_user(session, "bench-admin@marktplatz.example", "Benchmark",
                                         secrets.token_urlsafe(16), "admin")
        if session.scalar(select(User).where(User.email == email)) is None:
            accounts.create_user(session, email, "Lasttest Freiburg", password, "officer", org)
        _token, secret = tokens.create_token(session, admin, org, "Benchmark", ["read", "write"])
        session.commit()
        session.close()
        get_engine().dispose()
    return secret


def _rotations(db: str) -> dict[str, Any]:
    """Pick the paths the endpoints rotate over, the same way on both backends."""
    from marktplatz.views.api import cursor

    public = "status = 'published' AND visibility = 'public'"
    rows = dataset.query(db, f"SELECT id, slug FROM listing WHERE {public} ORDER BY id LIMIT 200")
    owners = [r[0] for r in dataset.query(
        db, "SELECT o.key FROM organisation o JOIN listing l ON l.organisation_id = o.id "
            f"WHERE l.{public.replace(' AND ', ' AND l.')} GROUP BY o.key ORDER BY count(*) DESC, o.key")]
    rng = random.Random(17)
    # Freiburg (a big city, the 4-6 s page), the ten owning most listings, nine at random.
    kommunen = list(dict.fromkeys(["08311000", *owners[:10], *rng.sample(owners[10:], min(9, len(owners[10:])))]))
    ozg = [r[0] for r in dataset.query(
        db, "SELECT ozg_id FROM listing_ozg GROUP BY ozg_id ORDER BY count(*) DESC, ozg_id LIMIT 20")]
    total = int(dataset.query(db, "SELECT count(*) FROM change_log")[0][0])

    def feed_cursor(offset: int) -> str:
        txid, cid = dataset.query(db, "SELECT coalesce(txid, 0), id FROM change_log ORDER BY coalesce(txid, 0), id "
                                      "LIMIT 1 OFFSET :o", {"o": max(0, offset)})[0]
        return cursor.encode(int(txid), int(cid))

    # The last cursor sits 600 rows before the end: some rows are members-only (left out for
    # an anonymous reader), so the last page still carries about 500 items.
    feed = {"start": None, "middle": feed_cursor(total // 2), "end": feed_cursor(total - 600)}
    return {"slugs": [r[1] for r in rows], "ids": [r[0] for r in rows], "kommunen": kommunen, "ozg": ozg,
            "feed": feed, "change_log_rows": total}


def endpoint_paths(picks: dict[str, Any], search: bool = True, api: bool = True,
                   feed: bool = True) -> dict[str, list[str] | None]:
    """Return the paths each HTTP endpoint rotates over (None: the checkout has no such endpoint)."""
    top_ozg = picks["ozg"][0] if picks["ozg"] else 10160
    changes = "/api/v1/changes?limit=500"
    return {
        "start_page": ["/"],
        "browse_page": ["/eintraege", "/eintraege?seite=2", "/eintraege?seite=50"],
        # Two filters each: kind plus a Land, or kind plus an OZG-Leistung.
        "browse_filtered": ["/eintraege?art=dienst&land=08", f"/eintraege?art=komponente&ozg={top_ozg}",
                            "/eintraege?art=projekt&land=09"],
        "search_page": [f"/eintraege?q={q.replace(' ', '+')}" for q in QUERIES] if search else None,
        "listing_page": [f"/eintraege/{s}" for s in picks["slugs"]],
        "listing_page_uncached": [f"/eintraege/{s}" for s in picks["slugs"]],
        "municipality_page": [f"/kommunen/{k}" for k in picks["kommunen"]],
        "ozg_page": [f"/ozg/{z}" for z in picks["ozg"]],
        "my_municipality": ["/meine-kommune"],
        "api_list": ["/api/v1/listings"] if api else None,
        "api_detail": [f"/api/v1/listings/{i}" for i in picks["ids"]] if api else None,
        "api_changes_start": [changes] if feed else None,
        "api_changes_middle": [f"{changes}&after={picks['feed']['middle']}"] if feed else None,
        "api_changes_end": [f"{changes}&after={picks['feed']['end']}"] if feed else None,
    }


def sign_in(client: Any) -> None:
    """Sign a Flask test client in as BENCH_OFFICER (Freiburg) through the login form."""
    email, password, _ags = BENCH_OFFICER
    form = client.get("/anmelden").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
    client.post("/anmelden", data={"email": email, "password": password, "csrf_token": token.group(1) if token else ""})


def bench_http(db: str, index_dir: str, work: str, seconds: int, feed_seconds: float, sync_batches: int,
               fresh_servers: bool = True) -> dict[str, Any]:
    """Measure pages and API endpoints under gunicorn with wrk; RSS per worker afterwards.

    Every HTML page except the `listing_page` runs with the anonymous page cache off
    (MARKTPLATZ_PAGE_CACHE_ENTRIES=0): the targets are for rendered pages. With
    fresh_servers (make bench) each endpoint gets a gunicorn of its own; without (quick
    runs, to fit 5 minutes) one gunicorn per setting serves the endpoints one after another.
    """
    if not bh.wrk_available():
        return {"available": False, "note": "wrk not installed (apt-get install -y wrk)"}
    env = env_for(db, index_dir)
    app = dataset.make_app(db, index_dir)
    rules = routes(app)
    token = _bench_accounts(db, index_dir)
    picks = _rotations(db)
    has_api = any(r.startswith("/api/v1/listings") for r in rules)
    has_feed = any(r.startswith("/api/v1/changes") for r in rules)
    # /suche only redirects to the browse page, which carries the full-text search.
    endpoints = endpoint_paths(picks, search=search_available() or "/suche" in rules, api=has_api, feed=has_feed)
    log = os.path.join(work, "gunicorn.log")
    out: dict[str, Any] = {"connections": 16, "seconds": seconds, "endpoints": {}, "rotations": {
        "kommunen": picks["kommunen"], "ozg": picks["ozg"], "change_log_rows": picks["change_log_rows"]}}
    warm = 1 if seconds <= 5 else 2  # seconds of warm-up load per server (quick runs: 1)

    with bh.gunicorn("bench.hello_app:app", env, log) as (base, _pid):
        bh.wrk(base, ["/"], warm, 16, work)  # warm-up
        out["endpoints"]["hello_ceiling"] = bh.wrk(base, ["/"], seconds, 16, work)
    ceiling = out["endpoints"]["hello_ceiling"]["rps"] or 1.0

    # A fresh gunicorn per endpoint: requests a slow endpoint left queued (wrk times out
    # after 10 s, the server still works them off) must not eat into the next figure.
    rss: list[list[float]] = []
    starts: list[float] = []
    with contextlib.ExitStack() as shared:  # servers kept across endpoints when not fresh_servers
        servers: dict[str, tuple[str, int]] = {}
        stacks: dict[str, contextlib.ExitStack] = {}
        for name, paths in endpoints.items():
            if not paths:
                out["endpoints"][name] = {"available": False}
                continue
            key = "cache" if name == "listing_page" else "nocache"
            server_env = env if key == "cache" else {**env, "MARKTPLATZ_PAGE_CACHE_ENTRIES": "0"}
            timing: dict[str, Any] = {}
            with contextlib.ExitStack() as own:
                if fresh_servers or key not in servers:
                    if fresh_servers:
                        stack = own
                    else:
                        stack = stacks[key] = shared.enter_context(contextlib.ExitStack())
                    servers[key] = stack.enter_context(bh.gunicorn("marktplatz.wsgi:app", server_env, log, timing))
                    starts.append(timing["first_response_s"])
                base, master = servers[key]
                headers = None
                try:
                    if name == "my_municipality":
                        headers = {"Cookie": bh.login_cookie(base, BENCH_OFFICER[0], BENCH_OFFICER[1])}
                    check = bh.check_page(base, paths[0], headers)
                except Exception as err:  # noqa: BLE001 - report, keep the other figures
                    out["endpoints"][name] = {"available": True, "ok": False, "error": repr(err)[:300]}
                    continue
                if check != 200:  # e.g. a redirect to the login form: not the page we mean to measure
                    out["endpoints"][name] = {"available": True, "ok": False, "error": f"first GET answered {check}"}
                    continue
                items = None
                if name.startswith("api_changes"):
                    items = len(bh._items(bh.get_json(base + paths[0])[1]))
                warmed = bh.wrk(base, paths, warm, 16, work, headers)  # warm-up: imports, templates, caches
                if name == "listing_page":
                    # The cached figure is meant to be all hits: each worker must have rendered
                    # each of the 200 pages once, so warm up until every path was asked ~6 times.
                    done, deadline = warmed["requests"], time.perf_counter() + 20
                    while done < 6 * len(paths) and time.perf_counter() < deadline:
                        done += bh.wrk(base, paths, 1, 16, work, headers)["requests"]
                res = bh.wrk(base, paths, seconds, 16, work, headers)
                res["ratio_to_ceiling"] = round(res["rps"] / ceiling, 3)
                res["available"] = True
                res["fresh_server"] = fresh_servers
                if timing:
                    res["first_response_s"] = timing["first_response_s"]
                if items is not None:
                    res["items_per_page"] = items
                res["worker_rss_mb"] = [round(bh.rss_mb(p), 1) for p in bh.worker_pids(master)]
                rss.append(res["worker_rss_mb"])
                out["endpoints"][name] = res
                if not fresh_servers and (res["p99_ms"] is None or res["p99_ms"] > 1000 or res.get("timeouts")):
                    # A slow endpoint leaves requests queued in a shared server: the next
                    # endpoint gets a new one instead of working them off.
                    stacks.pop(key).close()
                    servers.pop(key)
    out["fresh_servers"] = fresh_servers
    out["first_response"] = {"servers": len(starts), "p50_s": round(statistics.median(starts), 3) if starts else None,
                             "max_s": round(max(starts), 3) if starts else None}
    # Change feed walk and bulk sync on one server with `marktplatz worker` beside it, as in
    # production: the worker follows the change log into the index while the sync writes.
    with open(log, "ab") as logf, bh.gunicorn("marktplatz.wsgi:app", env, log) as (base, master), \
            bh.marktplatz_worker(env, logf) as worker:
        index_lag._wait_for_worker(base)
        if has_feed:
            out["change_feed"] = bh.change_feed(base, "/api/v1/changes", feed_seconds)
            # Measured after each phase, so a peak can be told apart: feed or bulk sync.
            out["change_feed"]["worker_rss_mb"] = [round(bh.rss_mb(p), 1) for p in bh.worker_pids(master)]
        else:
            out["change_feed"] = {"available": False}
        if "/api/v1/sync/listings" in rules:
            poller = bh.HealthPoller(base)
            try:
                t0 = time.perf_counter() - poller.started
                out["sync"] = bh.sync_upsert(base, "/api/v1/sync/listings", token, sync_batches)
                t1 = time.perf_counter() - poller.started
                if out["sync"].get("ok"):
                    caught = poller.wait_caught_up(t1, 300)
                    n = out["sync"]["batches"] * out["sync"]["batch_size"]
                    out["sync"]["indexing"] = {
                        "listings": n,
                        "seconds_to_searchable": round(caught - t0, 2) if caught is not None else None,
                        "listings_per_second": round(n / (caught - t0), 1) if caught is not None else None,
                        "lag_after_last_batch_s": round(caught - t1, 2) if caught is not None else None,
                    }
            except Exception as err:  # noqa: BLE001 - report, keep the other figures
                out["sync"] = {"available": True, "ok": False, "error": repr(err)[:500]}
            finally:
                poller.stop()
        else:
            out["sync"] = {"available": False}
        out["index_worker_rss_mb"] = round(bh.rss_mb(worker.pid), 1)
        rss.append([round(bh.rss_mb(p), 1) for p in bh.worker_pids(master)])
        out["sync"]["worker_rss_mb"] = rss[-1]
        out["master_rss_mb"] = round(bh.rss_mb(master), 1)
    # Per worker, the largest RSS seen after any of the loads above.
    out["worker_rss_mb"] = [max(r[i] for r in rss if len(r) > i) for i in range(max(len(r) for r in rss))]
    return out


def profile_endpoint(db: str, index_dir: str, path: str | list[str], requests: int, out_file: str | None,
                     budget: float = 15.0, signed_in: bool = False) -> str:
    """Profile up to `requests` GETs of path (or rotating over paths; at most budget seconds)
    with pyinstrument; write the report to out_file and return its path, or return the report.

    signed_in: as BENCH_OFFICER (Freiburg), logged in through the form ("Meine Kommune").
    """
    paths = [path] if isinstance(path, str) else path
    try:
        from pyinstrument import Profiler
    except ImportError:
        return "pyinstrument not installed"
    from marktplatz.views.web import pagecache

    os.environ["MARKTPLATZ_RATELIMIT_ENABLED"] = "false"  # every request comes from one client
    app = dataset.make_app(db, index_dir)
    app.extensions[pagecache.EXTENSION].maxsize = 0  # profile the rendering, not the page cache
    client = app.test_client()
    if signed_in:
        sign_in(client)
    for p in paths:  # warm-up: each path once
        client.get(p)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    deadline = time.perf_counter() + budget
    for i in range(requests):
        client.get(paths[i % len(paths)])
        if time.perf_counter() > deadline:
            break
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    if out_file is None:
        return text
    with open(out_file, "w", encoding="utf-8") as fh:
        fh.write(text)
    return os.path.relpath(out_file, ROOT)


def profile_search(db: str, index_dir: str, out_file: str, rounds: int = 3) -> str:
    """Profile search_listings over QUERIES (warm, as bench_search times it); write the report."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return "pyinstrument not installed"
    from flask_login import AnonymousUserMixin

    from marktplatz import search

    app = dataset.make_app(db, index_dir)
    with app.test_request_context("/"):
        user = AnonymousUserMixin()
        for q in QUERIES:
            search.search_listings(user, q)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(rounds):
            for q in QUERIES:
                search.search_listings(user, q)
        profiler.stop()
    with open(out_file, "w", encoding="utf-8") as fh:
        fh.write(profiler.output_text(unicode=False, color=False, show_all=False))
    return os.path.relpath(out_file, ROOT)


def profile_index_build(db: str, out_file: str) -> str:
    """Profile one `search rebuild` of db in a single process (Whoosh's parallel build hides its
    work in child processes); write the report."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return "pyinstrument not installed"
    from marktplatz.search import index as search_index

    with tempfile.TemporaryDirectory() as tmp:
        app = dataset.make_app(db, tmp)
        with app.app_context():
            sessions = app.extensions["sqlalchemy_sessionmaker"]
            engine = app.extensions["sqlalchemy_engine"]
            profiler = Profiler(interval=0.001)
            profiler.start()
            try:
                search_index.rebuild(os.path.join(tmp, "index"), engine, sessions, one_process=True)
            finally:
                profiler.stop()
    with open(out_file, "w", encoding="utf-8") as fh:
        fh.write(profiler.output_text(unicode=False, color=False, show_all=False))
    return os.path.relpath(out_file, ROOT)


# ---------------------------------------------------------------- backends


def postgres_server() -> tuple[str | None, str]:
    """Return (server URL, how it was found) of the PostgreSQL to benchmark, or (None, why not).

    MARKTPLATZ_BENCH_DATABASE_URL names the server (its database part is only used to
    connect; the benchmark creates mp_bench_<size> beside it). Without it, a server
    answering on 127.0.0.1:5432 with trust auth, as `.ci/run` uses it, is taken.
    """
    url = os.environ.get("MARKTPLATZ_BENCH_DATABASE_URL")
    if url:
        return url, "MARKTPLATZ_BENCH_DATABASE_URL"
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2):
            return PG_DEFAULT, "local server on 127.0.0.1:5432"
    except Exception as err:  # noqa: BLE001 - no server: SQLite only
        return None, f"no PostgreSQL on 127.0.0.1:5432 ({type(err).__name__})"


def server_version(url: str) -> str:
    """Return the PostgreSQL server version."""
    return str(dataset.query(dataset.pg_url(url, "postgres"), "SHOW server_version")[0][0])


# ---------------------------------------------------------------- targets and reports


def _cell(d: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _largest(results: dict[str, Any], backend: str) -> tuple[int | None, dict[str, Any]]:
    b = results["by_backend"].get(backend) or {}
    sizes = b.get("sizes") or []
    if not sizes:
        return None, {}
    return sizes[-1], b["by_size"][str(sizes[-1])]


def growth(results: dict[str, Any], backend: str) -> dict[str, Any]:
    """Per endpoint, p50 at the largest size / p50 at the smallest size of backend (None: one size)."""
    b = results["by_backend"].get(backend) or {}
    sizes = b.get("sizes") or []
    if len(sizes) < 2:
        return {}
    lo = b["by_size"][str(sizes[0])]["http"].get("endpoints", {})
    hi = b["by_size"][str(sizes[-1])]["http"].get("endpoints", {})
    out = {}
    for name in ENDPOINT_ORDER:
        if name == "hello_ceiling":
            continue
        a, z = lo.get(name, {}), hi.get(name, {})
        if a.get("p50_ms") and z.get("p50_ms") and a.get("available", True) and z.get("available", True):
            out[name] = round(z["p50_ms"] / a["p50_ms"], 2)
    return out


def targets_for(results: dict[str, Any], backend: str) -> list[dict[str, Any]]:
    """Mark every issue 17 target met, NOT met or n/a for backend, at its largest size."""
    size, r = _largest(results, backend)
    rows: list[dict[str, Any]] = []

    def add(key: str, measured: Any, ok: bool | None, note: str = "") -> None:
        rows.append({"key": key, "measured": measured, "status": "n/a" if ok is None else ("met" if ok else "NOT met"),
                     "note": note})

    if size is None:
        return rows
    eps = _cell(r, "http", "endpoints") or {}

    def ratios(names: tuple[str, ...], want: float, key: str) -> None:
        got = {n: eps[n]["ratio_to_ceiling"] for n in names if eps.get(n, {}).get("ratio_to_ceiling") is not None}
        failed = [n for n in names if eps.get(n, {}).get("available") and eps[n].get("ok") is False]
        if not got:
            add(key, "—", None, "; ".join(f"{n} failed" for n in failed) or "not measured")
            return
        worst = min(got, key=got.get)
        add(key, f"{got[worst]:.2f} ({worst})", got[worst] >= want and not failed,
            "; ".join(f"{n}: {eps[n].get('error')}" for n in failed))

    ratios(HTML_PAGES, TARGETS["html_ratio"], "html")
    ratios(API_PAGES, TARGETS["api_ratio"], "api")
    ratios(FEED_PAGES, TARGETS["feed_ratio"], "feed")
    g = growth(results, backend)
    sizes = results["by_backend"][backend]["sizes"]
    if g:
        worst = max(g, key=g.get)
        note = "" if (sizes[0], sizes[-1]) == (10000, 100000) else f"{sizes[0]:,} → {sizes[-1]:,}"
        add("growth", f"{g[worst]:.2f} ({worst})", g[worst] <= TARGETS["growth_p50"], note)
    else:
        add("growth", "—", None, "one size only")
    ix = r.get("index") or {}
    rate = ix.get("build_listings_per_second")
    add("index_build", f"{rate:,.0f}/s" if rate else "—", rate >= TARGETS["index_build_per_second"] if rate else None)
    idx = _cell(r, "http", "sync", "indexing") or {}
    rate = idx.get("listings_per_second")
    add("sync_indexing", f"{rate:,.0f}/s" if rate else "—",
        rate >= TARGETS["sync_indexing_per_second"] if rate else None,
        "" if rate else ("index did not catch up within 300 s" if idx else "not measured"))
    p95 = _cell(r, "search", "p95_ms")
    f5 = _cell(results, "by_backend", "sqlite", "by_size", str(size), "fts5", "p95_ms")
    pg = _cell(results, "by_backend", "postgresql", "by_size", str(size), "pg_fts", "p95_ms")
    if p95 is None:
        add("search", "—", None, "search not measured")
    else:
        parts, oks = [f"{p95} ms"], []
        if f5:
            parts.append(f"FTS5 {f5} ms (×{p95 / f5:.1f})")
            oks.append(p95 <= TARGETS["search_p95_over_fts5"] * f5)
        if pg:
            parts.append(f"PG FTS {pg} ms")
            oks.append(p95 <= pg)
        missing = [n for n, v in (("FTS5", f5), ("PostgreSQL FTS", pg)) if not v]
        add("search", "; ".join(parts), all(oks) if oks else None,
            f"{' and '.join(missing)} not measured at this size" if missing else "")
    web = _cell(r, "http", "worker_rss_mb") or []
    iw = _cell(r, "http", "index_worker_rss_mb")
    if web:
        top = max(web + ([iw] if iw else []))
        add("rss", f"{top} MB (web {max(web)}, index worker {iw if iw else '—'})", top <= TARGETS["worker_rss_mb"])
    else:
        add("rss", "—", None)
    fr = _cell(r, "http", "first_response") or {}
    if fr.get("p50_s") is not None:
        add("first_request", f"{fr['p50_s']} s (max {fr['max_s']} s, {fr['servers']} starts)",
            fr["p50_s"] <= TARGETS["first_response_s"], "median of the fresh servers of this size")
    else:
        add("first_request", "—", None)
    sy = _cell(r, "http", "sync") or {}
    if sy.get("ok"):
        add("bulk_sync", f"{sy['listings_per_second']:,.0f}/s", sy["listings_per_second"] >= TARGETS["upsert_per_second"])
    else:
        add("bulk_sync", "—", None, str(sy.get("error") or sy.get("status") or "not available")[:120])
    return rows


TARGET_ROWS = {
    "html": ("every HTML page, rendered (start, browse ± two filters, search, listing, municipality, "
             "`/ozg/<id>`, Meine Kommune); worst shown", "≥ 0.10 of ceiling"),
    "api": ("API list and detail; worst shown", "≥ 0.15 of ceiling"),
    "feed": ("API change feed page (500 items), start / middle / end; worst shown", "≥ 0.15 of ceiling"),
    "growth": ("growth p50@100k / p50@10k per endpoint; worst shown", "≤ 1.5"),
    "index_build": ("index build", "≥ 1,500 listings/s"),
    "sync_indexing": ("indexing during a bulk sync (sync start → index caught up)", "≥ 500 listings/s"),
    "search": ("search p95", "≤ 2 × FTS5 p95 and ≤ PostgreSQL FTS p95"),
    "rss": ("worker RSS, incl. after bulk sync", "≤ 250 MB"),
    "first_request": ("a fresh gunicorn answers its first request", "≤ 3 s"),
    "bulk_sync": ("bulk sync", "≥ 500 listings/s"),
}


def legacy_targets(results: dict[str, Any], backend: str) -> list[dict[str, Any]]:
    """The earlier targets (issues before 17), for comparison with older runs."""
    size, r = _largest(results, backend)
    if size is None:
        return []
    eps = _cell(r, "http", "endpoints") or {}
    rows = []

    def add(name: str, wanted: str, value: Any, ok: bool | None) -> None:
        rows.append({"target": name, "wanted": wanted, "measured": value,
                     "status": "n/a" if ok is None else ("met" if ok else "NOT met")})

    s = r.get("search") or {}
    add("search p95", "≤ 50 ms", f"{s['p95_ms']} ms" if s.get("available") else "—",
        s["p95_ms"] <= 50 if s.get("available") else None)
    for name, want in (("search_page", 100), ("listing_page", 300), ("listing_page_uncached", 300)):
        e = eps.get(name, {})
        add(LABELS[name], f"≥ {want} req/s", f"{e['rps']:.0f} req/s" if e.get("rps") else "—",
            e["rps"] >= want if e.get("rps") else None)
    cf = _cell(r, "http", "change_feed") or {}
    add("change feed last/first page", "≤ 1.5", cf.get("last_over_first", "—"),
        cf["last_over_first"] <= 1.5 if cf.get("last_over_first") else None)
    lag = r.get("index_lag") or {}
    add("index lag p99 under load", "≤ 2 s", f"{lag['p99_s']} s" if lag.get("p99_s") is not None else "—",
        lag["p99_s"] <= 2 and not lag.get("not_shown") if lag.get("p99_s") is not None else None)
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.1f}" if v >= 100 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def columns(results: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the (backend, size) columns of the tables, backend by backend."""
    return [(b, str(s)) for b in results["backends"] for s in results["by_backend"][b]["sizes"]]


def markdown(results: dict[str, Any]) -> str:
    """Render the results as Markdown tables: a column per backend × size."""
    cols = columns(results)
    bb = results["by_backend"]
    head = ("| | " + " | ".join(f"{NAMES[b]} {int(s):,}" for b, s in cols) + " |\n|---|"
            + "---|" * len(cols) + "\n")

    def row(label: str, getter) -> str:
        vals = []
        for b, s in cols:
            try:
                vals.append(_fmt(getter(bb[b]["by_size"][s])))
            except (KeyError, TypeError, ZeroDivisionError):
                vals.append("—")
        return f"| {label} | " + " | ".join(vals) + " |\n"

    def avail(d: dict[str, Any], key: str) -> Any:
        return d[key] if d.get("available", True) else "n/a"

    md = [f"Generated {results['generated']} with `{results['command']}`. Backends: "
          + ", ".join(f"{NAMES[b]} ({', '.join(f'{s:,}' for s in bb[b]['sizes'])} listings)" for b in results["backends"])
          + (f"; PostgreSQL {results['postgres'].get('version')}" if results["postgres"].get("url") else
             f"; PostgreSQL not measured: {results['postgres'].get('how')}") + ".\n\n"]
    md.append("### Dataset\n\n" + head)
    md.append(row("reuses", lambda d: d["dataset"]["reuses"]))
    md.append(row("change-log rows", lambda d: d["dataset"]["change_log"]))
    md.append(row("members-only listings", lambda d: d["dataset"]["members_only"]))
    md.append(row("municipalities with listings", lambda d: d["dataset"]["municipalities_owning"]))
    md.append(row("generation (s)", lambda d: d["dataset"]["seconds"]))
    md.append(row("database size (MB)", lambda d: d["dataset"]["db_bytes"] / 1e6))
    md.append("\n### Search index\n\n" + head)
    md.append(row("Whoosh build (s)", lambda d: avail(d["index"], "build_seconds")))
    md.append(row("Whoosh build (listings/s)", lambda d: avail(d["index"], "build_listings_per_second")))
    md.append(row("Whoosh full rebuild (s)", lambda d: avail(d["index"], "rebuild_seconds")))
    md.append(row("Whoosh index (MB)", lambda d: d["index"]["index_bytes"] / 1e6 if d["index"].get("available") else "n/a"))
    md.append(row("FTS5 build (s)", lambda d: d["fts5"]["build_seconds"]))
    md.append(row("FTS5 index (MB)", lambda d: d["fts5"]["bytes"] / 1e6))
    md.append(row("PostgreSQL FTS build (s)", lambda d: d["pg_fts"]["build_seconds"]))
    md.append(row("PostgreSQL FTS table + GIN (MB)", lambda d: d["pg_fts"]["bytes"] / 1e6))
    md.append(f"\n### Search latency, query mix of {len(QUERIES)} German queries (ms)\n\n"
              "FTS5 runs on the SQLite file, PostgreSQL FTS in the PostgreSQL database; both hold the same rows.\n\n" + head)
    for p in ("p50", "p95", "p99"):
        md.append(row(f"Whoosh {p}", lambda d, p=p: avail(d["search"], f"{p}_ms")))
    for p in ("p50", "p95", "p99"):
        md.append(row(f"FTS5 {p}", lambda d, p=p: d["fts5"][f"{p}_ms"]))
    for p in ("p50", "p95", "p99"):
        md.append(row(f"PostgreSQL FTS {p}", lambda d, p=p: d["pg_fts"][f"{p}_ms"]))
    md.append("\n### HTTP under gunicorn (2 workers × 4 threads, gthread), wrk 16 connections\n\n")
    md.append("req/s (ratio to the hello ceiling of the same backend and size) · p50 / p99 latency in ms. "
              "Every page but \"listing page, anonymous page cache\" runs with the page cache off.\n\n" + head)
    for name in ENDPOINT_ORDER:
        def cell(d: dict[str, Any], name: str = name) -> str:
            e = d["http"]["endpoints"][name]
            if not e.get("available", True):
                return "n/a"
            if e.get("ok") is False:
                return f"failed: {e.get('error', '')[:60]}"
            ratio = f" ({e['ratio_to_ceiling']:.2f})" if "ratio_to_ceiling" in e else ""
            bad = f", {e['non_2xx']} non-2xx" if e.get("non_2xx") else ""
            items = f", {e['items_per_page']} items" if "items_per_page" in e else ""
            if e.get("p50_ms") is None:
                return f"{e['rps']:,.0f}{ratio} · {e.get('note', 'no latency')}"
            return f"{e['rps']:,.0f}{ratio} · {e['p50_ms']} / {e['p99_ms']}{bad}{items}"
        md.append(row(LABELS[name], cell))
    md.append(row("first response of a fresh gunicorn (s), median / max",
                  lambda d: f"{d['http']['first_response']['p50_s']} / {d['http']['first_response']['max_s']}"))
    md.append(row("sync upsert (listings/s)", lambda d: d["http"]["sync"]["listings_per_second"] if d["http"]["sync"].get("ok") else "n/a"))
    md.append(row("indexing during the sync (listings/s)",
                  lambda d: d["http"]["sync"]["indexing"]["listings_per_second"]))
    md.append(row("index caught up after the last batch (s)",
                  lambda d: d["http"]["sync"]["indexing"]["lag_after_last_batch_s"]))
    md.append(row("change feed pull (changes/s)", lambda d: d["http"]["change_feed"]["changes_per_second"] if d["http"]["change_feed"].get("available") else "n/a"))
    md.append(row("change feed first page (ms)", lambda d: d["http"]["change_feed"]["first_page_ms"] if d["http"]["change_feed"].get("available") else "n/a"))
    md.append(row("change feed last page (ms)", lambda d: d["http"]["change_feed"]["last_page_ms"] if d["http"]["change_feed"].get("available") else "n/a"))
    md.append(row("load average before listing page", lambda d: d["http"]["endpoints"]["listing_page"].get("loadavg_before")))
    md.append(row("worker RSS after load (MB)", lambda d: " / ".join(str(x) for x in d["http"]["worker_rss_mb"])))
    md.append(row("worker RSS after change feed (MB)",
                  lambda d: " / ".join(str(x) for x in d["http"]["change_feed"].get("worker_rss_mb", []))))
    md.append(row("worker RSS after bulk sync (MB)",
                  lambda d: " / ".join(str(x) for x in d["http"]["sync"].get("worker_rss_mb", []))))
    md.append(row("`marktplatz worker` RSS after bulk sync (MB)", lambda d: d["http"]["index_worker_rss_mb"]))
    md.append("\n### Index lag under load (write acknowledged → found by an anonymous search), worker running\n\n"
              + head)
    for p in ("p50", "p90", "p99", "max"):
        md.append(row(f"lag {p} (s)", lambda d, p=p: d.get("index_lag", {}).get(f"{p}_s", "n/a")))
    md.append(row("writes measured / not shown in 30 s",
                  lambda d: f"{d['index_lag']['writes_shown']} / {d['index_lag']['not_shown']}" if "index_lag" in d else "n/a"))
    md.append(row("reader requests/s meanwhile", lambda d: d.get("index_lag", {}).get("reads_per_s", "n/a")))
    gro = {b: growth(results, b) for b in results["backends"]}
    if any(gro.values()):
        bs = [b for b in results["backends"] if gro[b]]
        md.append("\n### Growth: p50 at the largest size / p50 at the smallest size (target ≤ 1.5)\n\n| endpoint | "
                  + " | ".join(f"{NAMES[b]} {bb[b]['sizes'][0]:,} → {bb[b]['sizes'][-1]:,}" for b in bs)
                  + " |\n|---|" + "---|" * len(bs) + "\n")
        for name in ENDPOINT_ORDER[1:]:
            md.append(f"| {LABELS[name]} | " + " | ".join(_fmt(gro[b].get(name)) for b in bs) + " |\n")
    md.append("\n### Targets (issue 17), each backend at its largest size measured\n\n")
    sizes = {b: bb[b]["sizes"][-1] for b in results["backends"] if bb[b]["sizes"]}
    if any(s != 100000 for s in sizes.values()):
        md.append("The targets are stated for 100,000 listings; a status below is for the size named in the "
                  "column head, not a verdict on 100,000.\n\n")
    md.append("| figure | target | " + " | ".join(f"{NAMES[b]} {s:,}" for b, s in sizes.items())
              + " |\n|---|---|" + "---|" * len(sizes) + "\n")
    tg = results["targets"]
    for key, (label, wanted) in TARGET_ROWS.items():
        cells = []
        for b in sizes:
            t = next((t for t in tg.get(b, []) if t["key"] == key), None)
            if t is None:
                cells.append("—")
                continue
            note = f" ({t['note']})" if t.get("note") else ""
            cells.append(f"{t['measured']} **{t['status']}**{note}")
        md.append(f"| {label} | {wanted} | " + " | ".join(cells) + " |\n")
    for b in sizes:
        met = sum(1 for t in tg.get(b, []) if t["status"] == "met")
        md.append(f"\n{NAMES[b]}: {met} of {len(tg.get(b, []))} targets met.")
    md.append("\n\n### Earlier targets, for comparison with older runs\n\n| target | wanted | "
              + " | ".join(f"{NAMES[b]} {s:,}" for b, s in sizes.items()) + " |\n|---|---|" + "---|" * len(sizes) + "\n")
    legacy = {b: legacy_targets(results, b) for b in sizes}
    first = next(iter(legacy.values()), [])
    for i, t in enumerate(first):
        md.append(f"| {t['target']} | {t['wanted']} | "
                  + " | ".join(f"{legacy[b][i]['measured']} **{legacy[b][i]['status']}**" for b in sizes) + " |\n")
    if results.get("profiles"):
        md.append("\n### Profiles\n\n")
        for name, path in results["profiles"].items():
            md.append(f"- {name}: `{path}`\n")
    return "".join(md)


def update_benchmarks_md(results: dict[str, Any], tag: str) -> None:
    """Replace the generated block for tag in BENCHMARKS.md (between its marker comments)."""
    path = os.path.join(ROOT, "BENCHMARKS.md")
    start, end = f"<!-- results:{tag}:start -->", f"<!-- results:{tag}:end -->"
    try:
        with open(path, encoding="utf-8") as fh:
            doc = fh.read()
    except FileNotFoundError:
        return
    if start not in doc or end not in doc:
        return
    m = results["machine"]
    block = (
        f"Machine: {m['nproc']} cores, {m['cpu']}, {m['ram_gb']} GB RAM, Python {m['python']}, "
        f"SQLite {m['sqlite']}, {m['wrk'] or 'no wrk'}. Search package present: "
        f"{'yes' if results['search_available'] else 'no'}.\n\n" + markdown(results)
    )
    before, rest = doc.split(start, 1)
    after = rest.split(end, 1)[1]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(before + start + "\n" + block + "\n" + end + after)


REBUILD = True  # --no-rebuild: build the index once per size, without the second full rebuild


def measure_size(backend: str, n: int, work: str, pg: str | None, seconds: int, rounds: int, feed_seconds: float,
                 sync_batches: int, quick: bool = False, lag: bool = True,
                 rebuild: bool = True) -> tuple[str, str, dict[str, Any]]:
    """Generate the dataset of n listings on backend and take every figure; return (db, index dir, figures)."""
    print(f"== {NAMES[backend]}, {n} listings", flush=True)
    began = time.perf_counter()
    if backend == "sqlite":
        db, stats = dataset.build(work, n)
    else:
        db, stats = dataset.build_postgres(pg, n)
    print(f"   dataset: {stats}", flush=True)
    index_dir = os.path.join(work, f"index-{n}" if backend == "sqlite" else f"index-pg-{n}")
    r: dict[str, Any] = {"dataset": stats, "phase_seconds": {}}
    clock = [began]

    def phase(name: str) -> None:
        now = time.perf_counter()
        r["phase_seconds"][name] = round(now - clock[0], 1)
        clock[0] = now

    phase("dataset")
    r["index"] = bench_index(env_for(db, index_dir), index_dir, rebuild=rebuild and not quick)
    phase("index")
    print(f"   index: {r['index']}", flush=True)
    r["search"] = bench_search(db, index_dir, rounds)
    phase("search")
    print(f"   search: { {k: v for k, v in r['search'].items() if k != 'median_ms_per_query'} }", flush=True)
    if backend == "sqlite":
        r["fts5"] = bench_fts5(db, work, rounds)
        print(f"   fts5: { {k: v for k, v in r['fts5'].items() if k != 'hits'} }", flush=True)
    else:
        r["pg_fts"] = bench_pg_fts(db, rounds)
        print(f"   postgresql fts: { {k: v for k, v in r['pg_fts'].items() if k != 'hits'} }", flush=True)
    phase("reference")
    r["http"] = bench_http(db, index_dir, work, seconds, feed_seconds, sync_batches, fresh_servers=not quick)
    phase("http")
    summary = {k: v.get("rps") for k, v in r["http"].get("endpoints", {}).items()}
    print(f"   http req/s: {summary} rss: {r['http'].get('worker_rss_mb')}", flush=True)
    # Index lag: gunicorn + `marktplatz worker`, readers and API writers (bench/index_lag.py).
    # Quick runs measure it once: at the last backend's largest size (the 5-minute budget).
    if lag:
        r["index_lag"] = index_lag.measure(db, index_dir, work, seconds=max(10 if seconds <= 5 else 20, 4 * seconds))
    phase("index_lag")
    print(f"   index lag: {r.get('index_lag', 'skipped')}", flush=True)
    print(f"   seconds per phase: {r['phase_seconds']}", flush=True)
    return db, index_dir, r


def run(sizes: list[int], pg_sizes: list[int], backends: list[str], seconds: int, rounds: int, feed_seconds: float,
        sync_batches: int, tag: str, profile: bool) -> dict[str, Any]:
    """Run every benchmark for each backend and size and write the result files."""
    work = os.path.join(RESULTS, "work")
    os.makedirs(work, exist_ok=True)
    pg, how = postgres_server() if "postgresql" in backends else (None, "not requested")
    if pg is None:
        backends = [b for b in backends if b != "postgresql"]
    if not backends:
        raise SystemExit(f"no backend to measure (PostgreSQL: {how})")
    print(f"backends: {backends}; PostgreSQL: {how}", flush=True)
    results: dict[str, Any] = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
        "machine": machine(),
        "queries": QUERIES,
        "sizes": sizes,
        "backends": backends,
        "postgres": {"url": pg.split("@")[-1] if pg else None, "how": how,
                     "version": server_version(pg) if pg else None},
        "by_backend": {b: {"sizes": sizes if b == "sqlite" else pg_sizes, "by_size": {}} for b in backends},
        "search_available": search_available(),
    }
    last: dict[str, tuple[str, str]] = {}
    # Size by size, both backends at each size, so the two see the machine at about the same moment.
    for n in sorted(set(sizes) | set(pg_sizes if pg else [])):
        for b in backends:
            if n not in results["by_backend"][b]["sizes"]:
                continue
            # Quick runs skip the second, full rebuild and share gunicorns between endpoints:
            # make bench-quick must stay under 5 minutes.
            quick = tag == "quick"
            db, index_dir, r = measure_size(b, n, work, pg, seconds, rounds, feed_seconds, sync_batches,
                                            quick=quick, lag=not quick or (b == backends[-1] and n == results[
                                                "by_backend"][b]["sizes"][-1]),
                                            rebuild=REBUILD)
            results["by_backend"][b]["by_size"][str(n)] = r
            last[b] = (db, index_dir)
            if profile and tag != "quick" and b == backends[0] and n == results["by_backend"][b]["sizes"][0]:
                # The build rate is the same at every size: profiled once, at the smallest.
                results.setdefault("profiles", {})[f"{b} index_build ({n:,} listings)"] = profile_index_build(
                    db, os.path.join(RESULTS, f"profile-{tag}-{b}-index_build.txt"))
    results["targets"] = {b: targets_for(results, b) for b in backends}
    if profile:
        results.setdefault("profiles", {})
        for b, (db, index_dir) in last.items():
            if tag == "quick" and b != backends[0]:
                continue  # quick runs profile the first backend only (the 5-minute budget)
            r = _largest(results, b)[1]
            first_id, slug = dataset.query(db, "SELECT id, slug FROM listing WHERE status='published' "
                                               "AND visibility='public' ORDER BY id LIMIT 1")[0]
            pages = {"listing_page": f"/eintraege/{slug}", "start_page": "/", "browse_page": "/eintraege"}
            ozg = (r.get("http", {}).get("rotations") or {}).get("ozg")
            if tag != "quick":  # quick runs: the four pages profiled before issue 17 only
                # make bench: every endpoint a target row measures.
                pages["municipality_page"] = "/kommunen/08311000"
                if ozg:
                    pages["ozg_page"] = f"/ozg/{ozg[0]}"
                    pages["browse_filtered"] = f"/eintraege?art=komponente&ozg={ozg[0]}"
                pages["my_municipality"] = "/meine-kommune"
                pages["api_list"] = "/api/v1/listings"
                pages["api_detail"] = f"/api/v1/listings/{first_id}"
                pages["api_changes_start"] = "/api/v1/changes?limit=500"
            if r["http"].get("endpoints", {}).get("search_page", {}).get("available"):
                pages["search_page"] = "/eintraege?q=Hundesteuer"
            for name, path in pages.items():
                out_file = os.path.join(RESULTS, f"profile-{tag}-{b}-{name}.txt")
                # Quick runs profile for a few seconds per page: make bench-quick must stay under 5 min.
                budget = 2.0 if tag == "quick" else 15.0
                results["profiles"][f"{b} {name}"] = profile_endpoint(
                    db, index_dir, path, 200, out_file, budget, signed_in=name == "my_municipality")
            if tag != "quick":
                out_file = os.path.join(RESULTS, f"profile-{tag}-{b}-search_queries.txt")
                results["profiles"][f"{b} search_queries"] = profile_search(db, index_dir, out_file)
    with open(os.path.join(RESULTS, f"results-{tag}.json"), "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2, ensure_ascii=False)
    with open(os.path.join(RESULTS, f"results-{tag}.md"), "w", encoding="utf-8") as fh:
        fh.write(markdown(results))
    update_benchmarks_md(results, tag)
    try:
        from . import plots

        plots.plot(results, os.path.join(RESULTS, tag))
    except ImportError as err:
        print(f"plots skipped: {err} (pip install -e '.[bench]')", flush=True)
    return results


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x]


def main() -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 and 5,000 listings, short runs")
    parser.add_argument("--sizes", type=_ints, help="listings per dataset, e.g. 1000,2000")
    parser.add_argument("--pg-sizes", type=_ints, help="sizes for PostgreSQL (default: --sizes; quick: the largest)")
    parser.add_argument("--backends", type=lambda s: [b for b in s.split(",") if b], default=list(BACKENDS),
                        help="sqlite,postgresql (PostgreSQL only when a server answers)")
    parser.add_argument("--duration", type=int, help="seconds of wrk load per endpoint")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--feed-seconds", type=float, help="at most this long walking the whole change feed")
    parser.add_argument("--no-rebuild", action="store_true", help="skip the second, full index rebuild")
    args = parser.parse_args()
    if args.quick:
        sizes, seconds, rounds, feed, batches, tag = [2000, 5000], 2, 3, 8.0, 2, "quick"
    else:
        sizes, seconds, rounds, feed, batches, tag = [10000, 30000, 100000], 15, 10, 180.0, 10, "full"
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    sizes = args.sizes or sizes
    # Quick runs: PostgreSQL at the largest quick size only, so make bench-quick stays under 5 min.
    pg_sizes = args.pg_sizes or (sizes[-1:] if args.quick and not args.sizes else sizes)
    seconds = args.duration or seconds
    feed = args.feed_seconds or feed
    global REBUILD
    REBUILD = not args.no_rebuild
    start = time.perf_counter()
    results = run(sizes, pg_sizes, args.backends, seconds, rounds, feed, batches, tag, profile=not args.no_profile)
    print(markdown(results))
    print(f"done in {time.perf_counter() - start:.0f} s; results in {os.path.relpath(RESULTS, os.getcwd())}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
