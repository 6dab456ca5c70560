"""Benchmark the Whoosh index against SQLite FTS5 on a synthetic corpus of real vocabulary.

Not a test. Run:  .venv/bin/python bench/search_bench.py --n 100000
The corpus combines real LeiKa-Leistungen with real municipalities (shipped reference
data), so term statistics look like the real marketplace. Reports indexing time, index
size and p50/p95 latency of a fixed German query mix, for Whoosh (with the visibility
filter and all facets, as the app runs it) and for SQLite FTS5 (plain MATCH + bm25 + count).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sqlite3
import tempfile
import time

from marktplatz.services.reference import read_csv

QUERIES = [
    "hundesteuer", "hundesteur", "Steuer", "Wohnsitz anmelden", "Gewerbe", "Baugenehmigung",
    "Führerschein", "Muell", "Abfallgebühr", "Parkausweis", "Kita", "Personalausweis",
    '"online beantragen"', "Elterngeld", "Freiburg", "99102013000000", "10160", "Bauantrag digital",
    "Standesamt Geburtsurkunde", "Straße sperren",
]
PHASES = ["idea", "planned", "in_progress", "live", "stopped"]
KINDS = ["dienst", "komponente", "projekt"]


def corpus(n: int, seed: int = 42):
    """Yield n listing documents combining LeiKa names with municipalities."""
    rng = random.Random(seed)
    leika = [r for r in read_csv("leika_leistungen_ozg.csv") if r["leistung"]]
    towns = [r for r in read_csv("gemeinden_de_gv100ad_2023-11-30.csv")]
    verbs = ["online beantragen", "digital einreichen", "Ende-zu-Ende digital", "im Bürgerportal",
             "mit Online-Ausweis", "Terminbuchung", "Formular-Assistent", "per E-Mail bestätigt"]
    for i in range(n):
        lk = rng.choice(leika)
        town = rng.choice(towns)
        title = f"{lk['leistung']} {rng.choice(verbs)}"
        summary = f"{town['name_kurz']}: {lk['leistung']} – {lk['ozg_leistung']} ({lk['lebenslage']})."
        body = f"{lk['themenfeld']}. {lk['gesetze'] or ''} {lk['rechtsgrundlage'][:300]}"
        yield {
            "i": i, "title": title, "summary": summary, "body": body, "town": town["name_kurz"],
            "ags": town["ags"], "land": town["land_code"], "ozg": lk["ozg_id"], "leika": lk["leika_schluessel"],
            "kind": rng.choice(KINDS), "phase": rng.choice(PHASES), "public": rng.random() < 0.9,
            "reuse": rng.random() < 0.2, "ts": 1_600_000_000_000 + i * 1000,
        }


def dir_size(path: str) -> int:
    """Return the total size of the files below path."""
    return sum(os.path.getsize(os.path.join(d, f)) for d, _s, fs in os.walk(path) for f in fs)


def pct(values: list[float], p: float) -> float:
    """Return the p-th percentile in milliseconds."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def bench_whoosh(docs: list[dict], tmp: str, rounds: int) -> dict:
    """Index docs with the app's schema and time the app's query path."""
    from whoosh import index as windex
    from whoosh import query as Q

    from marktplatz.search.analysis import fold
    from marktplatz.search.index import writer_options
    from marktplatz.search.query import run_search
    from marktplatz.search.schema import build_schema

    path = os.path.join(tmp, "whoosh")
    os.makedirs(path)
    t0 = time.perf_counter()
    ix = windex.create_in(path, build_schema())
    w = ix.writer(**writer_options())
    for d in docs:
        w.add_document(
            uid=f"listing:{d['i']}", doc_type="listing", obj_id=d["i"], title=d["title"], summary=d["summary"],
            body=d["body"], title_ng=d["title"], body_ng=d["summary"], spell=d["title"],
            codes=",".join([d["ozg"], d["leika"], d["ags"]]), tags="", org_exact=fold(d["town"]),
            status="published", visibility="public" if d["public"] else "network", released=True,
            organisation_id=int(d["ags"]), kind=d["kind"], land=d["land"], network="", themenfeld="",
            phase=d["phase"], reifegrad="", licence="", reuse_offered="ja" if d["reuse"] else "nein",
            published_ts=d["ts"], reuse_count=0,
        )
    w.commit()
    index_s = time.perf_counter() - t0
    vis = Q.And([Q.Term("doc_type", "listing"), Q.Term("released", True), Q.Term("visibility", "public")])
    lat: list[float] = []
    hits = {}
    with ix.searcher() as s:
        # The app's query path (query.run_search): visibility filter, all 8 facets, first page.
        t = time.perf_counter()
        run_search(s, QUERIES[0], vis, {}, "relevance", 20)
        cold = time.perf_counter() - t  # first query fills the per-segment caches
        for _round in range(rounds):
            for q in QUERIES:
                t = time.perf_counter()
                found = run_search(s, q, vis, {}, "relevance", 20)
                hits[q] = found.total
                [s.stored_fields(d)["obj_id"] for d, _score in found.top]
                lat.append(time.perf_counter() - t)
    return {"index_s": index_s, "size_mb": dir_size(path) / 1e6, "p50": pct(lat, 50), "p95": pct(lat, 95),
            "p99": pct(lat, 99), "cold_ms": cold * 1000, "hits": hits}


def bench_fts5(docs: list[dict], tmp: str, rounds: int) -> dict:
    """Index docs into SQLite FTS5 and time MATCH + bm25 + count."""
    path = os.path.join(tmp, "fts.db")
    t0 = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("CREATE VIRTUAL TABLE doc USING fts5(title, summary, body, codes, "
               "tokenize='unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO doc(rowid, title, summary, body, codes) VALUES (?,?,?,?,?)",
                   ((d["i"] + 1, d["title"], d["summary"], d["body"], " ".join([d["ozg"], d["leika"], d["ags"]]))
                    for d in docs))
    db.commit()
    index_s = time.perf_counter() - t0
    lat: list[float] = []
    hits = {}
    for _round in range(rounds):
        for q in QUERIES:
            words = re.findall(r'"[^"]+"|\w+', q)
            match = " AND ".join(w if w.startswith('"') else f'"{w}"' for w in words)
            t = time.perf_counter()
            rows = db.execute("SELECT rowid FROM doc WHERE doc MATCH ? ORDER BY bm25(doc, 5.0, 2.0, 1.0, 8.0) "
                              "LIMIT 20", (match,)).fetchall()
            hits[q] = db.execute("SELECT count(*) FROM doc WHERE doc MATCH ?", (match,)).fetchone()[0]
            lat.append(time.perf_counter() - t)
            del rows
    db.close()
    return {"index_s": index_s, "size_mb": os.path.getsize(path) / 1e6, "p50": pct(lat, 50), "p95": pct(lat, 95),
            "p99": pct(lat, 99), "hits": hits}


def main() -> None:
    """Run both benchmarks and print a table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    docs = list(corpus(args.n))
    tmp = tempfile.mkdtemp(prefix="search-bench-")
    try:
        res = {"Whoosh": bench_whoosh(docs, tmp, args.rounds), "SQLite FTS5": bench_fts5(docs, tmp, args.rounds)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{args.n} documents, {len(QUERIES)} queries x {args.rounds} rounds")
    print(f"{'engine':12s} {'index s':>9s} {'size MB':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s}")
    for name, r in res.items():
        print(f"{name:12s} {r['index_s']:9.1f} {r['size_mb']:8.1f} {r['p50']:8.1f} {r['p95']:8.1f} {r['p99']:8.1f}")
    print(f"Whoosh first query after opening (fills caches): {res['Whoosh']['cold_ms']:.1f} ms")
    print("hits per query (Whoosh / FTS5):")
    for q in QUERIES:
        print(f"  {q:28s} {res['Whoosh']['hits'][q]:7d} / {res['SQLite FTS5']['hits'][q]:7d}")


if __name__ == "__main__":
    main()
