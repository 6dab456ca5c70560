"""Run every benchmark at each dataset size; write JSON, Markdown and plots to bench/results/.

    python -m bench.run                       # 10k, 30k, 100k listings (make bench)
    python -m bench.run --quick               # 2k, 5k listings, short runs (make bench-quick)
    python -m bench.run --sizes 10000 --duration 5

Search and the REST API are probed, not assumed: when ``marktplatz.search.query`` or the
``/api/v1/...`` routes exist they are measured, otherwise reported as "not available".
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import math
import os
import platform
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from . import dataset, fts5, index_lag
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

TARGETS = {
    "search_p95_ms_at_100k": 50.0,
    "search_page_rps": 100.0,
    "listing_page_rps": 300.0,
    "upsert_per_second": 500.0,
    "feed_last_over_first": 1.5,
    "worker_rss_mb": 250.0,
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
    """Return the environment that points the app at the benchmark database and index."""
    env = dict(os.environ)
    env.update({
        "MARKTPLATZ_DATABASE_URL": "sqlite:///" + os.path.abspath(db_path),
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


def bench_index(env: dict[str, str], index_dir: str) -> dict[str, Any]:
    """Build the search index from empty, then rebuild it, via `marktplatz search rebuild`."""
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
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    rebuild = time.perf_counter() - start
    return {
        "available": True,
        "ok": res.returncode == 0,
        "build_seconds": round(build, 2),
        "rebuild_seconds": round(rebuild, 2),
        "index_bytes": size,
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


def _api_token(db_path: str, index_dir: str) -> str:
    """Create a read/write API token for Freiburg through the token service."""
    from sqlalchemy import select

    from marktplatz.core.db import get_session
    from marktplatz.models import Organisation, User
    from marktplatz.services import accounts, tokens

    app = dataset.make_app(db_path, index_dir)
    with app.app_context():
        session = get_session()
        org = session.scalar(select(Organisation).where(Organisation.ags == "08311000"))
        admin = session.scalar(select(User).where(User.email == "bench-admin@marktplatz.example"))
        if admin is None:
            admin = accounts.create_user(session, "bench-admin@marktplatz.example", "Benchmark",
                                         secrets.token_urlsafe(16), "admin")
        _token, secret = tokens.create_token(session, admin, org, "Benchmark", ["read", "write"])
        return secret


def bench_http(db_path: str, index_dir: str, work: str, seconds: int, feed_seconds: float, sync_batches: int) -> dict[str, Any]:
    """Measure pages and API endpoints under gunicorn with wrk; RSS per worker afterwards."""
    if not bh.wrk_available():
        return {"available": False, "note": "wrk not installed (apt-get install -y wrk)"}
    env = env_for(db_path, index_dir)
    app = dataset.make_app(db_path, index_dir)
    rules = routes(app)
    with sqlite3.connect(db_path) as con:
        slugs = [r[0] for r in con.execute(
            "SELECT slug FROM listing WHERE status='published' AND visibility='public' ORDER BY id LIMIT 200"
        )]
    has_search = search_available()
    endpoints: dict[str, list[str] | None] = {
        "start_page": ["/"],
        "browse_page": ["/eintraege", "/eintraege?seite=2", "/eintraege?seite=50"],
        "search_page": None,
        "listing_page": [f"/eintraege/{s}" for s in slugs],
        # The same pages rendered every time (signed-in viewers, or data changing all the time).
        "listing_page_uncached": [f"/eintraege/{s}" for s in slugs],
        "api_list": ["/api/v1/listings"] if any(r.startswith("/api/v1/listings") for r in rules) else None,
        "api_changes": ["/api/v1/changes"] if any(r.startswith("/api/v1/changes") for r in rules) else None,
    }
    # /suche only redirects to the browse page, which carries the full-text search.
    if has_search or "/suche" in rules:
        endpoints["search_page"] = [f"/eintraege?q={q.replace(' ', '+')}" for q in QUERIES]
    log = os.path.join(work, "gunicorn.log")
    out: dict[str, Any] = {"connections": 16, "seconds": seconds, "endpoints": {}}
    warm = 1 if seconds <= 5 else 2  # seconds of warm-up load per server (quick runs: 1)

    with bh.gunicorn("bench.hello_app:app", env, log) as (base, _pid):
        bh.wrk(base, ["/"], warm, 16, work)  # warm-up
        out["endpoints"]["hello_ceiling"] = bh.wrk(base, ["/"], seconds, 16, work)
    ceiling = out["endpoints"]["hello_ceiling"]["rps"] or 1.0

    # A fresh gunicorn per endpoint: requests a slow endpoint left queued (wrk times out
    # after 10 s, the server still works them off) must not eat into the next figure.
    rss: list[list[float]] = []
    for name, paths in endpoints.items():
        if not paths:
            out["endpoints"][name] = {"available": False}
            continue
        server_env = {**env, "MARKTPLATZ_PAGE_CACHE_ENTRIES": "0"} if name.endswith("_uncached") else env
        with bh.gunicorn("marktplatz.wsgi:app", server_env, log) as (base, master):
            bh.wrk(base, paths, warm, 16, work)  # warm-up: imports, templates, SQLite page cache
            res = bh.wrk(base, paths, seconds, 16, work)
            res["ratio_to_ceiling"] = round(res["rps"] / ceiling, 3)
            res["available"] = True
            res["worker_rss_mb"] = [round(bh.rss_mb(p), 1) for p in bh.worker_pids(master)]
            rss.append(res["worker_rss_mb"])
            out["endpoints"][name] = res
    with bh.gunicorn("marktplatz.wsgi:app", env, log) as (base, master):
        if endpoints["api_changes"]:
            out["change_feed"] = bh.change_feed(base, "/api/v1/changes", feed_seconds)
            # Measured after each phase, so a peak can be told apart: feed or bulk sync.
            out["change_feed"]["worker_rss_mb"] = [round(bh.rss_mb(p), 1) for p in bh.worker_pids(master)]
        else:
            out["change_feed"] = {"available": False}
        if "/api/v1/sync/listings" in rules:
            try:
                token = _api_token(db_path, index_dir)
                out["sync"] = bh.sync_upsert(base, "/api/v1/sync/listings", token, sync_batches)
            except Exception as err:  # noqa: BLE001 - report, keep the other figures
                out["sync"] = {"available": True, "ok": False, "error": repr(err)[:500]}
        else:
            out["sync"] = {"available": False}
        rss.append([round(bh.rss_mb(p), 1) for p in bh.worker_pids(master)])
        out["sync"]["worker_rss_mb"] = rss[-1]
        out["master_rss_mb"] = round(bh.rss_mb(master), 1)
    # Per worker, the largest RSS seen after any of the loads above.
    out["worker_rss_mb"] = [max(r[i] for r in rss if len(r) > i) for i in range(max(len(r) for r in rss))]
    return out


def profile_endpoint(db_path: str, index_dir: str, path: str, requests: int, out_file: str, budget: float = 15.0) -> str:
    """Profile up to `requests` GETs of path (at most budget seconds) with pyinstrument; write the report."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return "pyinstrument not installed"
    from marktplatz.views.web import pagecache

    app = dataset.make_app(db_path, index_dir)
    app.extensions[pagecache.EXTENSION].maxsize = 0  # profile the rendering, not the page cache
    client = app.test_client()
    client.get(path)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    deadline = time.perf_counter() + budget
    for _ in range(requests):
        client.get(path)
        if time.perf_counter() > deadline:
            break
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    with open(out_file, "w", encoding="utf-8") as fh:
        fh.write(text)
    return os.path.relpath(out_file, ROOT)


# ---------------------------------------------------------------- targets and reports


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Mark every target met, not met or not available (largest size measured)."""
    sizes = results["sizes"]
    largest = sizes[-1]
    r = results["by_size"][str(largest)]
    rows = []

    def add(name: str, target: str, value: Any, ok: bool | None, note: str = "") -> None:
        rows.append({"target": name, "wanted": target, "measured": value,
                     "status": "n/a" if ok is None else ("met" if ok else "NOT met"), "note": note})

    s = results["by_size"].get("100000", {}).get("search", {})
    if s.get("available"):
        add("Suche p95 bei 100.000", "<= 50 ms", f"{s['p95_ms']} ms", s["p95_ms"] <= 50)
    elif "100000" not in results["by_size"] and r["search"].get("available"):
        add("Suche p95 bei 100.000", "<= 50 ms", f"{r['search']['p95_ms']} ms bei {largest}", None, "100k nicht gemessen")
    else:
        add("Suche p95 bei 100.000", "<= 50 ms", "—", None, "Suche noch nicht vorhanden")
    h = r.get("http", {})
    eps = h.get("endpoints", {})
    sp = eps.get("search_page", {})
    add("Suchseite", ">= 100 req/s", f"{sp['rps']:.0f} req/s" if sp.get("available") else "—",
        sp["rps"] >= 100 if sp.get("available") else None, "" if sp.get("available") else "Suche noch nicht vorhanden")
    lp = eps.get("listing_page", {})
    add("Eintragsseite (anonym, Seitenspeicher)", ">= 300 req/s", f"{lp['rps']:.0f} req/s" if lp.get("available") else "—",
        lp["rps"] >= 300 if lp.get("available") else None)
    lu = eps.get("listing_page_uncached", {})
    if lu.get("available"):
        add("Eintragsseite (jedes Mal gerendert)", ">= 300 req/s", f"{lu['rps']:.0f} req/s", lu["rps"] >= 300,
            "angemeldete Leser; anonyme bei ständig wechselnden Daten")
    sy = h.get("sync", {})
    ok = sy.get("available") and sy.get("ok")
    add("Bulk-Sync", ">= 500 Einträge/s", f"{sy['listings_per_second']}/s" if ok else "—",
        sy["listings_per_second"] >= 500 if ok else None,
        "" if ok else ("API noch nicht vorhanden" if not sy.get("available") else f"Fehler: {sy.get('status', sy.get('error'))}"))
    cf = h.get("change_feed", {})
    add("Änderungsfeed letzte/erste Seite", "<= 1.5", cf.get("last_over_first", "—") if cf.get("available") else "—",
        cf["last_over_first"] <= 1.5 if cf.get("available") else None, "" if cf.get("available") else "API noch nicht vorhanden")
    lag = r.get("index_lag") or {}
    add("Index-Verzug p99 unter Last", "<= 2 s", f"{lag['p99_s']} s" if lag.get("p99_s") is not None else "—",
        lag["p99_s"] <= 2 and not lag.get("not_shown") if lag.get("p99_s") is not None else None,
        "Schreiben bis Treffer, Worker läuft")
    rss = h.get("worker_rss_mb") or []
    add("RSS je Worker", "<= 250 MB", f"{max(rss)} MB" if rss else "—", max(rss) <= 250 if rss else None)
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.1f}" if v >= 100 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def markdown(results: dict[str, Any]) -> str:
    """Render the results as Markdown tables."""
    sizes = [str(s) for s in results["sizes"]]
    by = results["by_size"]
    head = "| | " + " | ".join(f"{int(s):,} Einträge" for s in sizes) + " |\n|---|" + "---|" * len(sizes) + "\n"

    def row(label: str, getter) -> str:
        vals = []
        for s in sizes:
            try:
                vals.append(_fmt(getter(by[s])))
            except (KeyError, TypeError):
                vals.append("—")
        return f"| {label} | " + " | ".join(vals) + " |\n"

    def avail(d: dict[str, Any], key: str) -> Any:
        return d[key] if d.get("available", True) else "n/a"

    md = [f"Generated {results['generated']} with `{results['command']}`.\n\n"]
    md.append("### Dataset\n\n" + head)
    md.append(row("reuses", lambda d: d["dataset"]["reuses"]))
    md.append(row("change-log rows", lambda d: d["dataset"]["change_log"]))
    md.append(row("members-only listings", lambda d: d["dataset"]["members_only"]))
    md.append(row("municipalities with listings", lambda d: d["dataset"]["municipalities_owning"]))
    md.append(row("generation (s)", lambda d: d["dataset"]["seconds"]))
    md.append(row("SQLite file (MB)", lambda d: d["dataset"]["db_bytes"] / 1e6))
    md.append("\n### Search index\n\n" + head)
    md.append(row("Whoosh build (s)", lambda d: avail(d["index"], "build_seconds")))
    md.append(row("Whoosh full rebuild (s)", lambda d: avail(d["index"], "rebuild_seconds")))
    md.append(row("Whoosh index (MB)", lambda d: d["index"]["index_bytes"] / 1e6 if d["index"].get("available") else "n/a"))
    md.append(row("FTS5 build (s)", lambda d: d["fts5"]["build_seconds"]))
    md.append(row("FTS5 index (MB)", lambda d: d["fts5"]["bytes"] / 1e6))
    md.append(f"\n### Search latency, query mix of {len(QUERIES)} German queries (ms)\n\n" + head)
    for p in ("p50", "p95", "p99"):
        md.append(row(f"Whoosh {p}", lambda d, p=p: avail(d["search"], f"{p}_ms")))
    for p in ("p50", "p95", "p99"):
        md.append(row(f"FTS5 {p}", lambda d, p=p: d["fts5"][f"{p}_ms"]))
    md.append(row("Whoosh p95 / FTS5 p95", lambda d: round(d["search"]["p95_ms"] / d["fts5"]["p95_ms"], 1) if d["search"].get("available") else "n/a"))
    md.append("\n### HTTP under gunicorn (2 workers × 4 threads, gthread), wrk 16 connections\n\n")
    md.append("req/s (ratio to the bare Flask ceiling) · p50 / p99 latency in ms\n\n" + head)
    names = ["hello_ceiling", "start_page", "browse_page", "search_page", "listing_page", "listing_page_uncached",
             "api_list", "api_changes"]
    for name in names:
        def cell(d: dict[str, Any], name: str = name) -> str:
            e = d["http"]["endpoints"][name]
            if not e.get("available", True):
                return "n/a"
            ratio = f" ({e['ratio_to_ceiling']:.2f})" if "ratio_to_ceiling" in e else ""
            bad = f", {e['non_2xx']} non-2xx" if e.get("non_2xx") else ""
            return f"{e['rps']:,.0f}{ratio} · {e['p50_ms']} / {e['p99_ms']}{bad}"
        md.append(row(name.replace("_", " "), cell))
    md.append(row("sync upsert (listings/s)", lambda d: d["http"]["sync"]["listings_per_second"] if d["http"]["sync"].get("ok") else "n/a"))
    md.append(row("change feed pull (changes/s)", lambda d: d["http"]["change_feed"]["changes_per_second"] if d["http"]["change_feed"].get("available") else "n/a"))
    md.append(row("change feed first page (ms)", lambda d: d["http"]["change_feed"]["first_page_ms"] if d["http"]["change_feed"].get("available") else "n/a"))
    md.append(row("change feed last page (ms)", lambda d: d["http"]["change_feed"]["last_page_ms"] if d["http"]["change_feed"].get("available") else "n/a"))
    md.append(row("load average before listing page", lambda d: d["http"]["endpoints"]["listing_page"].get("loadavg_before")))
    md.append(row("worker RSS after load (MB)", lambda d: " / ".join(str(x) for x in d["http"]["worker_rss_mb"])))
    md.append(row("worker RSS after change feed (MB)",
                  lambda d: " / ".join(str(x) for x in d["http"]["change_feed"].get("worker_rss_mb", []))))
    md.append(row("worker RSS after bulk sync (MB)",
                  lambda d: " / ".join(str(x) for x in d["http"]["sync"].get("worker_rss_mb", []))))
    md.append("\n### Index lag under load (write acknowledged → found by an anonymous search), worker running\n\n"
              + head)
    for p in ("p50", "p90", "p99", "max"):
        md.append(row(f"lag {p} (s)", lambda d, p=p: d.get("index_lag", {}).get(f"{p}_s", "n/a")))
    md.append(row("writes measured / not shown in 30 s",
                  lambda d: f"{d['index_lag']['writes_shown']} / {d['index_lag']['not_shown']}" if "index_lag" in d else "n/a"))
    md.append(row("reader requests/s meanwhile", lambda d: d.get("index_lag", {}).get("reads_per_s", "n/a")))
    md.append("\n### Targets (largest size measured)\n\n| target | wanted | measured | status | note |\n|---|---|---|---|---|\n")
    for t in results["targets"]:
        md.append(f"| {t['target']} | {t['wanted']} | {t['measured']} | **{t['status']}** | {t['note']} |\n")
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


def run(sizes: list[int], seconds: int, rounds: int, feed_seconds: float, sync_batches: int, tag: str, profile: bool) -> dict[str, Any]:
    """Run every benchmark for each size and write the result files."""
    work = os.path.join(RESULTS, "work")
    os.makedirs(work, exist_ok=True)
    results: dict[str, Any] = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
        "machine": machine(),
        "queries": QUERIES,
        "sizes": sizes,
        "by_size": {},
        "search_available": search_available(),
    }
    for n in sizes:
        print(f"== {n} listings", flush=True)
        db_path, stats = dataset.build(work, n)
        print(f"   dataset: {stats}", flush=True)
        index_dir = os.path.join(work, f"index-{n}")
        r: dict[str, Any] = {"dataset": stats}
        r["index"] = bench_index(env_for(db_path, index_dir), index_dir)
        print(f"   index: {r['index']}", flush=True)
        r["search"] = bench_search(db_path, index_dir, rounds)
        print(f"   search: { {k: v for k, v in r['search'].items() if k != 'median_ms_per_query'} }", flush=True)
        r["fts5"] = bench_fts5(db_path, work, rounds)
        print(f"   fts5: { {k: v for k, v in r['fts5'].items() if k != 'hits'} }", flush=True)
        r["http"] = bench_http(db_path, index_dir, work, seconds, feed_seconds, sync_batches)
        summary = {k: v.get("rps") for k, v in r["http"].get("endpoints", {}).items()}
        print(f"   http req/s: {summary} rss: {r['http'].get('worker_rss_mb')}", flush=True)
        # Index lag: gunicorn + `marktplatz worker`, readers and API writers (bench/index_lag.py).
        r["index_lag"] = index_lag.measure(db_path, index_dir, work, seconds=max(20, 4 * seconds))
        print(f"   index lag: {r['index_lag']}", flush=True)
        results["by_size"][str(n)] = r
    results["targets"] = targets(results)
    if profile:
        results["profiles"] = {}
        db_path = os.path.join(work, f"listings-{sizes[-1]}.db")
        index_dir = os.path.join(work, f"index-{sizes[-1]}")
        r = results["by_size"][str(sizes[-1])]
        with sqlite3.connect(db_path) as con:
            slug = con.execute("SELECT slug FROM listing WHERE status='published' AND visibility='public' LIMIT 1").fetchone()[0]
        pages = {"listing_page": f"/eintraege/{slug}", "start_page": "/", "browse_page": "/eintraege"}
        if r["http"]["endpoints"].get("search_page", {}).get("available"):
            pages["search_page"] = "/eintraege?q=Hundesteuer"
        for name, path in pages.items():
            out_file = os.path.join(RESULTS, f"profile-{tag}-{name}.txt")
            # Quick runs profile for a few seconds per page: make bench-quick must stay under 5 min.
            budget = 4.0 if tag == "quick" else 15.0
            results["profiles"][name] = profile_endpoint(db_path, index_dir, path, 200, out_file, budget)
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


def main() -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 and 5,000 listings, short runs")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--duration", type=int, help="seconds of wrk load per endpoint")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    if args.quick:
        sizes, seconds, rounds, feed, batches, tag = [2000, 5000], 4, 3, 30.0, 2, "quick"
    else:
        sizes, seconds, rounds, feed, batches, tag = [10000, 30000, 100000], 15, 10, 180.0, 10, "full"
    sizes = args.sizes or sizes
    seconds = args.duration or seconds
    start = time.perf_counter()
    results = run(sizes, seconds, rounds, feed, batches, tag, profile=not args.no_profile)
    print(markdown(results))
    print(f"done in {time.perf_counter() - start:.0f} s; results in {os.path.relpath(RESULTS, os.getcwd())}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
