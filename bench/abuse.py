"""Hostile search queries: each shape's worst time against a normal search.

Not a test. Run:  .venv/bin/python bench/abuse.py                 (the demo marketplace)
                  .venv/bin/python bench/abuse.py --listings 20000 (bench/dataset.py data)

Builds (once, cached in --work) a SQLite marketplace with the reference data and either the
demo content or N generated listings, builds its search index, then sends every hostile
query shape to the browse page (/eintraege?q=), the autocomplete (/suche/vorschlaege?q=)
and the API list (/api/v1/listings?q=) through the Flask test client, rate limiting off.
Prints, per endpoint, a normal search's median and each shape's worst time and ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any
from urllib.parse import quote

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
BIN = os.path.dirname(sys.executable)

from bench import dataset  # noqa: E402

NORMAL = ["Hundesteuer", "Wohnsitz anmelden", "Baugenehmigung online", "Freiburg", "Kita"]
SHAPES: dict[str, list[str]] = {
    "1-char + digit word": ["a 0", "0", "a", "1 2 3", "x 9", "e 0 1"],
    "digit prefixes": ["08", "081", "0831", "083115", "9910", "1016"],
    "wildcards": ["*", "a*", "*a*", "?", "s*e*r", "0*", "**********"],
    "OR lists": [" OR ".join("abcdefghijklmnopqrstuvwxyz"), " ".join(f"w{i}" for i in range(60)),
                 " | ".join(str(i) for i in range(40))],
    "nested parentheses": ["(" * 40 + "a" + ")" * 40, "((a OR b) AND (c OR (d AND (e OR f))))" * 4],
    "200-char words": ["x" * 200, "hundesteuer" * 18, "0" * 200, "ab" * 100 + " c"],
    "RTL text": ["مرحبا بالعالم", "שלום עולם", "\u202eevil\u202c test"],
    "emoji": ["🐕🐕🐕", "🐕 a", "👩‍👩‍👧‍👦" * 20],
    "long fuzzy words": ["Hundesteuerbescheidantragsformular", "Baugenehmigungsverfahrensbeschleunigung xyz"],
}
ENDPOINTS = {
    "browse": "/eintraege?q={}",
    "suggest": "/suche/vorschlaege?q={}",
    "api": "/api/v1/listings?q={}",
}


def _env(db: str, index: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MARKTPLATZ_DATABASE_URL": "sqlite:///" + os.path.abspath(db),
                "MARKTPLATZ_INDEX_DIR": os.path.abspath(index), "MARKTPLATZ_SECRET_KEY": "bench-" + "x" * 40})
    return env


def demo_database(work: str) -> str:
    """Return a database with the reference data and the demo content (cached)."""
    path = os.path.join(work, "demo.db")
    if os.path.exists(path):
        return path
    tmp = path + ".tmp"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(tmp + suffix):
            os.remove(tmp + suffix)
    env = _env(tmp, os.path.join(work, "demo-index"))  # setup builds the index too
    subprocess.run([os.path.join(BIN, "marktplatz"), "data", "setup"], check=True, env=env, cwd=ROOT)
    os.replace(tmp, path)
    return path


def ensure_index(db: str, index: str) -> None:
    """Build the search index of db at index unless it is there."""
    if os.path.isdir(index) and os.listdir(index):
        return
    shutil.rmtree(index, ignore_errors=True)
    subprocess.run([os.path.join(BIN, "marktplatz"), "search", "rebuild"], check=True, env=_env(db, index),
                   cwd=ROOT, stdout=subprocess.DEVNULL)


def timed(client: Any, url: str) -> tuple[float, int]:
    """Return the seconds and status of one GET."""
    start = time.perf_counter()
    resp = client.get(url)
    return time.perf_counter() - start, resp.status_code


def run(db: str, index: str, rounds: int) -> dict[str, Any]:
    """Time the normal and hostile queries on every endpoint; return the figures."""
    from marktplatz import create_app

    app = create_app({"DATABASE_URL": "sqlite:///" + os.path.abspath(db), "INDEX_DIR": os.path.abspath(index),
                      "SECRET_KEY": "bench-" + "x" * 40, "RATELIMIT_ENABLED": False, "PAGE_CACHE_ENTRIES": 0})
    client = app.test_client()
    out: dict[str, Any] = {}
    for name, pattern in ENDPOINTS.items():
        timed(client, pattern.format(quote("Schule")))  # warm-up: open the index and the database
        normal = []
        for q in NORMAL:
            normal += [timed(client, pattern.format(quote(q)))[0] for _ in range(rounds)]
        base = statistics.median(normal)
        rows = {}
        for shape, queries in SHAPES.items():
            worst, worst_q, codes = 0.0, "", set()
            for q in queries:
                for _ in range(rounds):
                    # The first call of a query is the expensive one (later calls hit the
                    # per-segment bitmap cache): the worst time is that cold call.
                    seconds, code = timed(client, pattern.format(quote(q)))
                    codes.add(code)
                    if seconds > worst:
                        worst, worst_q = seconds, q
            rows[shape] = {"worst_ms": round(worst * 1000, 1), "ratio": round(worst / base, 1),
                           "query": worst_q[:40], "status": sorted(codes)}
        out[name] = {"normal_median_ms": round(base * 1000, 1), "shapes": rows}
    return out


def markdown(figures: dict[str, Any], label: str) -> str:
    """Return the figures as a Markdown table."""
    names = list(ENDPOINTS)
    lines = [f"Data: {label}.\n",
             "| Shape | " + " | ".join(f"{n} worst ms (× normal)" for n in names) + " |",
             "|---|" + "---|" * len(names),
             "| normal search (median) | " + " | ".join(f"{figures[n]['normal_median_ms']}" for n in names) + " |"]
    for shape in SHAPES:
        cells = [f"{figures[n]['shapes'][shape]['worst_ms']} (×{figures[n]['shapes'][shape]['ratio']})" for n in names]
        lines.append(f"| {shape} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Build or reuse the data, run the shapes, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=0, help="generated listings (bench/dataset.py); 0: the demo")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", default=os.path.join("/tmp", "marktplatz-bench-abuse"))
    parser.add_argument("--max-ratio", type=float, default=10.0, help="exit 1 when a shape is slower than this")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    if args.listings:
        db = os.path.join(args.work, f"listings-{args.listings}.db")
        if not os.path.exists(db):
            built, _stats = dataset.build(args.work, args.listings)
            if built != db:
                os.replace(built, db)
        label = f"{args.listings:,} generated listings (bench/dataset.py) + reference data"
    else:
        db = demo_database(args.work)
        label = "demo content (`marktplatz data setup`) + reference data"
    index = db[:-3] + "-index"
    ensure_index(db, index)
    figures = run(db, index, args.rounds)
    print(markdown(figures, label))
    worst = max(r["ratio"] for f in figures.values() for r in f["shapes"].values())
    errors = [(n, s) for n, f in figures.items() for s, r in f["shapes"].items() if any(c >= 500 for c in r["status"])]
    if errors:
        print("server errors:", errors)
    print(f"worst ratio: ×{worst} (target ≤ ×{args.max_ratio})")
    return 0 if worst <= args.max_ratio and not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
