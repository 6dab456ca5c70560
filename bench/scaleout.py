"""Scale-out run: two app servers, each with its own index directory, on one PostgreSQL.

Each app server is what a production node runs: gunicorn (gunicorn.conf.py, 2 workers)
and `marktplatz worker`, which follows the change log into that node's own index. The
second node's index starts as a copy of the first one's (as a new node is seeded from a
snapshot) and then follows on its own.

Three phases, with the same page mix as bench/index_lag.py (searches, listing pages,
browse, API):

1. one node under wrk, 16 connections;
2. both nodes under wrk at once, 8 connections each (the same 16, split by a balancer);
3. index lag on the second node: writers rename listings through the API of node A and
   poll an anonymous `GET /api/v1/listings?q=<new word>` on node B until it shows the
   write, while both nodes carry the read load of phase 2.

On one machine both nodes share its cores, so phase 2 shows what a second node costs and
whether anything serialises between nodes (database, locks), not the gain of a second
machine: BENCHMARKS.md does that arithmetic from the per-core figures.

    python -m bench.scaleout                    # 30,000 listings, 20 s per phase
    python -m bench.scaleout --listings 10000 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import threading
import time
import urllib.parse
from contextlib import ExitStack, contextmanager
from typing import Any

from . import dataset
from . import httpload as bh
from .index_lag import GIVE_UP, _wait_for_worker, _writers_setup, lag_figures, write_and_watch

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


@contextmanager
def node(name: str, db: str, index_dir: str, work: str):
    """Run one app node (gunicorn + `marktplatz worker`); yield (base URL, gunicorn master pid, worker pid)."""
    from .run import env_for

    env = env_for(db, index_dir)
    log_path = os.path.join(work, f"node-{name}.log")
    with open(log_path, "ab") as log, bh.gunicorn("marktplatz.wsgi:app", env, log_path) as (base, master), \
            bh.marktplatz_worker(env, log) as worker:
        _wait_for_worker(base)
        yield base, master, worker.pid


def _wrk_all(targets: list[tuple[str, int]], paths: list[str], seconds: int, work: str) -> list[dict[str, Any]]:
    """Run one wrk per (base, connections) at the same time; return their results in order."""
    out: list[dict[str, Any] | None] = [None] * len(targets)

    def run(i: int, base: str, connections: int) -> None:
        own = os.path.join(work, f"wrk-{i}")  # wrk's Lua script lives in its work dir
        os.makedirs(own, exist_ok=True)
        out[i] = bh.wrk(base, paths, seconds, connections, own)

    threads = [threading.Thread(target=run, args=(i, b, c)) for i, (b, c) in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r or {} for r in out]


def _lag_on_second(a: str, b: str, setup: list[tuple[str, list[int]]], seconds: float) -> dict[str, Any]:
    """Write through node a, poll node b until the write shows; return the lag figures."""
    stop = threading.Event()
    lags: list[float] = []
    missed: list[str] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=write_and_watch, args=(a, b, token, mine, f"zqscale{k}x", stop, lags, missed, lock))
               for k, (token, mine) in enumerate(setup)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(GIVE_UP + 30)
    out: dict[str, Any] = {"writes_shown_on_b": len(lags), "not_shown": len(missed),
                           "not_shown_examples": missed[:10]}  # a word, or "write <status>"
    out.update(lag_figures(lags))
    return out


def measure(db: str, work: str, seconds: int, writers: int = 2) -> dict[str, Any]:
    """Build node A's index, seed node B's from it, run the three phases; return the figures."""
    from .run import QUERIES, env_for

    index_a, index_b = os.path.join(work, "index-a"), os.path.join(work, "index-b")
    shutil.rmtree(index_a, ignore_errors=True)
    shutil.rmtree(index_b, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run([os.path.join(bh.BIN, "marktplatz"), "search", "rebuild"], env=env_for(db, index_a),
                   cwd=bh.ROOT, check=True, capture_output=True)
    build_s = time.perf_counter() - t0
    shutil.copytree(index_a, index_b)
    setup = _writers_setup(db, index_a, writers)
    slugs = [r[0] for r in dataset.query(
        db, "SELECT slug FROM listing WHERE status='published' AND visibility='public' ORDER BY id LIMIT 200")]
    paths = ([f"/eintraege?q={urllib.parse.quote_plus(q)}" for q in QUERIES] + [f"/eintraege/{s}" for s in slugs[:50]]
             + ["/eintraege", "/api/v1/listings", "/api/v1/listings?q=Hundesteuer"])
    random.Random(5).shuffle(paths)
    out: dict[str, Any] = {"listings": int(dataset.query(db, "SELECT count(*) FROM listing")[0][0]),
                           "index_build_s": round(build_s, 1), "seconds_per_phase": seconds,
                           "cores": os.cpu_count(), "paths": len(paths)}
    with ExitStack() as stack:
        a, master_a, worker_a = stack.enter_context(node("a", db, index_a, work))
        b, master_b, worker_b = stack.enter_context(node("b", db, index_b, work))
        _wrk_all([(a, 16), (b, 16)], paths, 3, work)  # warm-up: imports, templates, caches
        out["one_node"] = _wrk_all([(a, 16)], paths, seconds, work)[0]
        both = _wrk_all([(a, 8), (b, 8)], paths, seconds, work)
        out["two_nodes"] = {"a": both[0], "b": both[1], "rps": round(both[0]["rps"] + both[1]["rps"], 1)}
        out["scaling"] = round(out["two_nodes"]["rps"] / (out["one_node"]["rps"] or 1.0), 2)
        load = threading.Thread(target=_wrk_all, args=([(a, 8), (b, 8)], paths, seconds, work))
        load.start()
        out["index_lag_on_b"] = _lag_on_second(a, b, setup, seconds - 2)
        load.join()
        out["index_lag_on_b"]["under_read_load"] = True
        out["rss_mb"] = {"a_web": [round(bh.rss_mb(p), 1) for p in bh.worker_pids(master_a)],
                         "b_web": [round(bh.rss_mb(p), 1) for p in bh.worker_pids(master_b)],
                         "a_worker": round(bh.rss_mb(worker_a), 1), "b_worker": round(bh.rss_mb(worker_b), 1)}
    out["pg_connections_peak_note"] = "each node: 2 gunicorn workers x 4 threads + 1 worker process"
    return out


def markdown(r: dict[str, Any]) -> str:
    """Return the figures as a Markdown table."""
    one, two, lag = r["one_node"], r["two_nodes"], r["index_lag_on_b"]
    rows = [
        "| figure | one node | two nodes |",
        "|---|---|---|",
        f"| req/s (16 connections in all) | {one['rps']:.0f} | {two['rps']:.0f} "
        f"(A {two['a']['rps']:.0f} + B {two['b']['rps']:.0f}) |",
        f"| p50 / p99 ms | {one['p50_ms']} / {one['p99_ms']} | A {two['a']['p50_ms']} / {two['a']['p99_ms']}, "
        f"B {two['b']['p50_ms']} / {two['b']['p99_ms']} |",
        f"| non-2xx, timeouts | {one['non_2xx']}, {one['timeouts']} | "
        f"{two['a']['non_2xx'] + two['b']['non_2xx']}, {two['a']['timeouts'] + two['b']['timeouts']} |",
    ]
    text = "\n".join(rows)
    text += (f"\n\nScaling (two nodes / one node, same machine): {r['scaling']}. Index lag on node B for writes "
             f"through node A, under read load: {lag.get('writes_shown_on_b')} writes shown, p50 {lag.get('p50_s')} s, "
             f"p99 {lag.get('p99_s')} s, max {lag.get('max_s')} s, not shown within {GIVE_UP:.0f} s: "
             f"{lag.get('not_shown')}. RSS (MB): {r['rss_mb']}.")
    return text


def main() -> int:
    """Generate mp_bench_<listings> on PostgreSQL, measure, write bench/results/scaleout.{json,md}."""
    from .run import postgres_server

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=30_000)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    server, how = postgres_server()
    if server is None:
        raise SystemExit(f"scale-out needs PostgreSQL: {how}")
    if not bh.wrk_available():
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    work = os.path.join(dataset.RESULTS_WORK, "scaleout")
    os.makedirs(work, exist_ok=True)
    started = time.perf_counter()
    db, stats = dataset.build_postgres(server, args.listings)
    result = measure(db, work, args.seconds)
    result.update({"dataset": stats, "postgres": how, "command": f"python -m bench.scaleout --listings "
                   f"{args.listings} --seconds {args.seconds}", "total_s": round(time.perf_counter() - started, 1)})
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "scaleout.json"), "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
    text = markdown(result)
    with open(os.path.join(RESULTS, "scaleout.md"), "w", encoding="utf-8") as fh:
        fh.write(f"# Scale-out run\n\n`{result['command']}`\n\n{text}\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
