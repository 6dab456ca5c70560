"""Server time per benchmark endpoint, in-process: quick before/after figures for one fix.

`bench/run.py` measures throughput under gunicorn and wrk; this script answers the
narrower question "how many milliseconds of one core does a request of this endpoint
cost", on a database and index that `bench.run` (or `bench.dataset`) built, with the same
rotations (Freiburg's officer, the top OZG-Leistungen, the feed cursors). The page cache is
off, so every HTML page is rendered.

    python -m bench.endpoints DB INDEX_DIR [--runs 15] [--only browse_page,api_list]
        [--profile browse_page --out profile.txt]

DB is a SQLite path or a database URL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from . import dataset
from .run import BENCH_OFFICER, QUERIES, _bench_accounts, _rotations


def endpoint_paths(db: str) -> dict[str, list[str]]:
    """Return the paths each endpoint rotates over, as bench.run picks them."""
    picks = _rotations(db)
    top_ozg = picks["ozg"][0] if picks["ozg"] else 10160
    feed = "/api/v1/changes?limit=500"
    return {
        "start_page": ["/"],
        "browse_page": ["/eintraege", "/eintraege?seite=2", "/eintraege?seite=50"],
        "browse_filtered": ["/eintraege?art=dienst&land=08", f"/eintraege?art=komponente&ozg={top_ozg}",
                            "/eintraege?art=projekt&land=09"],
        "search_page": [f"/eintraege?q={q.replace(' ', '+')}" for q in QUERIES],
        "listing_page_uncached": [f"/eintraege/{s}" for s in picks["slugs"][:20]],
        "municipality_page": [f"/kommunen/{k}" for k in picks["kommunen"]],
        "ozg_page": [f"/ozg/{z}" for z in picks["ozg"]],
        "my_municipality": ["/meine-kommune"],
        "api_list": ["/api/v1/listings"],
        "api_detail": [f"/api/v1/listings/{i}" for i in picks["ids"][:20]],
        "api_changes_start": [feed],
        "api_changes_middle": [f"{feed}&after={picks['feed']['middle']}"],
        "api_changes_end": [f"{feed}&after={picks['feed']['end']}"],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Print the minimum, median and p90 server milliseconds per endpoint.

    On a shared VM whose speed changes by half from minute to minute, compare the minimum
    of two versions measured one after the other, several times.
    """
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db")
    ap.add_argument("index_dir")
    ap.add_argument("--runs", type=int, default=15, help="requests per endpoint after one warm-up round")
    ap.add_argument("--only", default="", help="comma-separated endpoint names")
    ap.add_argument("--profile", default="", help="profile this endpoint with pyinstrument instead")
    ap.add_argument("--out", default="", help="file for the profile (default: stdout)")
    args = ap.parse_args(argv)

    from marktplatz.views.web import pagecache

    _bench_accounts(args.db, args.index_dir)
    paths = endpoint_paths(args.db)
    os.environ["MARKTPLATZ_RATELIMIT_ENABLED"] = "false"  # all requests come from one client
    app = dataset.make_app(args.db, args.index_dir)
    app.extensions[pagecache.EXTENSION].maxsize = 0
    anon = app.test_client()
    officer = app.test_client()
    email, password, _ags = BENCH_OFFICER
    login = officer.get("/anmelden")
    token = _csrf(login.get_data(as_text=True))
    officer.post("/anmelden", data={"email": email, "password": password, "csrf_token": token})

    names = [n for n in (args.only.split(",") if args.only else paths) if n]
    if args.profile:
        return _profile(anon, officer, args.profile, paths[args.profile], args.runs, args.out)
    out: dict[str, Any] = {}
    print(f"{'endpoint':28s} {'min ms':>8s} {'median ms':>10s} {'p90 ms':>8s} {'bytes':>8s}")
    for name in names:
        client = officer if name == "my_municipality" else anon
        for p in paths[name]:  # warm-up: each path once
            _get(client, p)
        times: list[float] = []
        size = 0
        for i in range(args.runs):
            p = paths[name][i % len(paths[name])]
            t = time.perf_counter()
            size = len(_get(client, p))
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        med, p90 = statistics.median(times), times[int(0.9 * (len(times) - 1))]
        out[name] = {"min_ms": round(times[0], 2), "median_ms": round(med, 2), "p90_ms": round(p90, 2)}
        print(f"{name:28s} {times[0]:8.1f} {med:10.1f} {p90:8.1f} {size:8d}")
    return out


def _get(client: Any, path: str) -> bytes:
    r = client.get(path)
    if r.status_code != 200:
        raise SystemExit(f"{path}: HTTP {r.status_code}")
    return r.get_data()


def _csrf(html: str) -> str:
    import re

    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    return m.group(1) if m else ""


def _profile(anon: Any, officer: Any, name: str, paths: list[str], runs: int, out: str) -> dict[str, Any]:
    from pyinstrument import Profiler

    client = officer if name == "my_municipality" else anon
    for p in paths:
        _get(client, p)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for i in range(runs):
        _get(client, paths[i % len(paths)])
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        print(text)
    return {}


if __name__ == "__main__":
    main()
