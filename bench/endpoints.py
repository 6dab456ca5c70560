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
from .run import _bench_accounts, _rotations, endpoint_paths, profile_endpoint, sign_in


def _paths(db: str) -> dict[str, list[str]]:
    """bench.run's rotations, the first 20 listings and ids; without the cached listing page
    (the page cache is off here, so it would be the rendered one again)."""
    out = {}
    for name, paths in endpoint_paths(_rotations(db)).items():
        if paths and name != "listing_page":
            out[name] = paths[:20] if name in ("listing_page_uncached", "api_detail") else paths
    return out


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

    _bench_accounts(args.db, args.index_dir)
    paths = _paths(args.db)
    names = [n for n in (args.only.split(",") if args.only else paths) if n]
    unknown = sorted({*names, *([args.profile] if args.profile else [])} - set(paths))
    if unknown:
        ap.error(f"unknown endpoint {', '.join(unknown)}; known: {', '.join(paths)}")
    if args.profile:
        report = profile_endpoint(args.db, args.index_dir, paths[args.profile], args.runs, args.out or None,
                                  budget=3600, signed_in=args.profile == "my_municipality")
        print(report)
        return {}

    from marktplatz.views.web import pagecache

    os.environ["MARKTPLATZ_RATELIMIT_ENABLED"] = "false"  # all requests come from one client
    app = dataset.make_app(args.db, args.index_dir)
    app.extensions[pagecache.EXTENSION].maxsize = 0
    anon = app.test_client()
    officer = app.test_client()
    sign_in(officer)
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


if __name__ == "__main__":
    main()
