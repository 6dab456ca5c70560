"""The benchmark harness's backend helpers: database-name guard, PostgreSQL FTS query text,
growth and target rows over both backends, and the side-by-side Markdown."""

from __future__ import annotations

import pytest

from bench import dataset, pgfts
from bench.run import ENDPOINT_ORDER, growth, markdown, targets_for


@pytest.mark.parametrize("name", ["test", "mp_test_1", "mp_template_7520_beb1f9", "postgres", "bench"])
def test_only_mp_bench_databases_are_dropped_or_created(name: str) -> None:
    with pytest.raises(ValueError):
        dataset._guard(name)


def test_mp_bench_databases_pass_the_guard() -> None:
    dataset._guard("mp_bench_base")
    dataset._guard("mp_bench_100000")


def test_pg_url_keeps_the_server_and_names_the_database() -> None:
    url = dataset.pg_url("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", "mp_bench_2000")
    assert url == "postgresql+psycopg://postgres@127.0.0.1:5432/mp_bench_2000"
    assert dataset.db_url(url) == url
    assert dataset.db_url("/tmp/x.db") == "sqlite:////tmp/x.db"


def test_pg_fts_query_is_an_and_of_prefix_terms() -> None:
    assert pgfts.to_tsquery_text("Kita Platz") == "kita:* & platz:*"
    assert pgfts.to_tsquery_text("Sondernutzung Straße") == "sondernutzung:* & straße:*"
    assert pgfts.to_tsquery_text("a:*|b & (c)") == "a:* & b:* & c:*"  # no tsquery syntax passes through
    assert pgfts.to_tsquery_text("  ") == ""


def _size(p50: float, ratio: float, fts5: float | None = None, pg_fts: float | None = None) -> dict:
    eps = {n: {"available": True, "rps": 100.0, "p50_ms": p50, "p99_ms": p50 * 2, "ratio_to_ceiling": ratio}
           for n in ENDPOINT_ORDER}
    eps["hello_ceiling"] = {"rps": 1000.0, "p50_ms": 1.0, "p99_ms": 2.0}
    d = {
        "dataset": {"reuses": 3, "change_log": 4, "members_only": 0, "municipalities_owning": 1, "seconds": 1.0,
                    "db_bytes": 1e6},
        "index": {"available": True, "build_seconds": 10.0, "rebuild_seconds": None, "index_bytes": 1e6,
                  "build_listings_per_second": 2000.0},
        "search": {"available": True, "p50_ms": 5.0, "p95_ms": 9.0, "p99_ms": 12.0},
        "http": {"endpoints": eps, "first_response": {"servers": 14, "p50_s": 1.2, "max_s": 2.0},
                 "sync": {"ok": True, "listings_per_second": 900.0, "batches": 2, "batch_size": 500,
                          "indexing": {"listings_per_second": 600.0, "lag_after_last_batch_s": 0.4},
                          "worker_rss_mb": [90.0, 95.0]},
                 "change_feed": {"available": True, "changes_per_second": 1.0, "first_page_ms": 1.0,
                                 "last_page_ms": 1.0, "last_over_first": 1.0, "worker_rss_mb": [80.0, 81.0]},
                 "worker_rss_mb": [100.0, 120.0], "index_worker_rss_mb": 140.0},
        "index_lag": {"p50_s": 0.2, "p90_s": 0.3, "p99_s": 0.5, "max_s": 0.6, "writes_shown": 10, "not_shown": 0,
                      "reads_per_s": 5.0},
    }
    if fts5 is not None:
        d["fts5"] = {"build_seconds": 0.1, "bytes": 1e5, "p50_ms": 1.0, "p95_ms": fts5, "p99_ms": 6.0}
    if pg_fts is not None:
        d["pg_fts"] = {"build_seconds": 0.2, "bytes": 1e5, "p50_ms": 2.0, "p95_ms": pg_fts, "p99_ms": 9.0}
    return d


def _results() -> dict:
    return {
        "generated": "now", "command": "python -m bench.run", "backends": ["sqlite", "postgresql"],
        "postgres": {"url": "127.0.0.1:5432/postgres", "version": "16"},
        "by_backend": {
            "sqlite": {"sizes": [1000, 2000], "by_size": {"1000": _size(10.0, 0.2, fts5=5.0),
                                                         "2000": _size(12.0, 0.2, fts5=5.0)}},
            "postgresql": {"sizes": [2000], "by_size": {"2000": _size(30.0, 0.05, pg_fts=8.0)}},
        },
    }


def test_growth_needs_two_sizes_of_the_same_backend() -> None:
    results = _results()
    assert growth(results, "sqlite")["start_page"] == 1.2
    assert growth(results, "postgresql") == {}


def test_targets_are_marked_per_backend_against_both_references() -> None:
    results = _results()
    rows = {b: {t["key"]: t for t in targets_for(results, b)} for b in ("sqlite", "postgresql")}
    assert rows["sqlite"]["html"]["status"] == "met"
    assert rows["postgresql"]["html"]["status"] == "NOT met"  # 0.05 < 0.10
    assert rows["sqlite"]["growth"]["status"] == "met"
    assert rows["postgresql"]["growth"]["status"] == "n/a"
    # 9 ms: within 2 x FTS5 (10 ms) but above PostgreSQL FTS (8 ms), both at 2,000 listings.
    assert rows["sqlite"]["search"]["status"] == "NOT met"
    assert "PG FTS 8.0 ms" in rows["sqlite"]["search"]["measured"]
    assert rows["sqlite"]["rss"]["status"] == "met" and "140.0" in rows["sqlite"]["rss"]["measured"]
    assert {t["key"] for t in targets_for(results, "sqlite")} == {
        "html", "api", "feed", "growth", "index_build", "sync_indexing", "search", "rss", "first_request", "bulk_sync"}


def test_markdown_puts_the_backends_side_by_side() -> None:
    results = _results()
    results["targets"] = {b: targets_for(results, b) for b in results["backends"]}
    md = markdown(results)
    assert "| | SQLite 1,000 | SQLite 2,000 | PostgreSQL 2,000 |" in md
    assert "| figure | target | SQLite 2,000 | PostgreSQL 2,000 |" in md
    assert "PostgreSQL FTS p95" in md and "Meine Kommune (signed in)" in md


def test_without_a_server_or_url_postgres_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from bench import run

    def refuse(*_args, **_kwargs):
        raise psycopg.OperationalError("connection refused")

    monkeypatch.delenv("MARKTPLATZ_BENCH_DATABASE_URL", raising=False)
    monkeypatch.setattr(psycopg, "connect", refuse)
    url, how = run.postgres_server()
    assert url is None and "no PostgreSQL" in how
    monkeypatch.setenv("MARKTPLATZ_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@db.example:5432/postgres")
    assert run.postgres_server() == ("postgresql+psycopg://postgres@db.example:5432/postgres",
                                     "MARKTPLATZ_BENCH_DATABASE_URL")
