"""The benchmark harness: dataset generator and FTS5 reference on a small real-vocabulary set."""

from __future__ import annotations

import sqlite3

import pytest

from bench import dataset, fts5
from bench.run import QUERIES, latency, pct


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """Build a 600-listing benchmark database once for this module."""
    work = tmp_path_factory.mktemp("bench")
    return dataset.build(str(work), 600)


def test_dataset_uses_real_vocabulary_and_three_reuses_on_average(small_db: tuple[str, dict]) -> None:
    path, stats = small_db
    assert stats["listings"] == 600
    assert 2.5 <= stats["reuses_per_listing"] <= 3.5
    assert stats["change_log"] == stats["listings"] + stats["reuses"]
    assert stats["members_only"] > 0
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM organisation WHERE ags IS NOT NULL").fetchone()[0] == 10_981
        ozg_named = con.execute(
            "SELECT count(*) FROM listing l JOIN listing_ozg lo ON lo.listing_id = l.id "
            "JOIN ozg_leistung z ON z.id = lo.ozg_id WHERE instr(l.description, z.name) > 0"
        ).fetchone()[0]
        assert ozg_named >= 600
        published_public = con.execute(
            "SELECT count(*) FROM listing WHERE status='published' AND visibility='public'"
        ).fetchone()[0]
        assert published_public == stats["published_public"] > 500
        assert con.execute("SELECT count(*) FROM reuse r JOIN listing l ON l.id = r.listing_id "
                           "WHERE r.organisation_id = l.organisation_id").fetchone()[0] == 0


def test_fts5_reference_finds_prefixes_and_folds_umlauts(small_db: tuple[str, dict], tmp_path) -> None:
    path, _stats = small_db
    fts_path = str(tmp_path / "fts.db")
    built = fts5.build(path, fts_path)
    assert built["bytes"] > 0
    searcher = fts5.Searcher(fts_path)
    try:
        with sqlite3.connect(path) as con:
            word = con.execute("SELECT z.name FROM listing_ozg lo JOIN ozg_leistung z ON z.id = lo.ozg_id "
                               "JOIN listing l ON l.id = lo.listing_id "
                               "WHERE l.status='published' AND l.visibility='public' LIMIT 1").fetchone()[0].split()[0]
        total, ids = searcher.search(word[:4])
        assert total >= 1 and ids
        assert searcher.search("gebuhr")[0] == searcher.search("Gebühr")[0]
        assert searcher.search("Gebühr")[0] > 0
        for q in QUERIES:
            searcher.search(q)  # every query of the mix is valid FTS5 syntax
    finally:
        searcher.close()


def test_percentiles_are_nearest_rank() -> None:
    values = [i / 1000 for i in range(1, 101)]
    assert pct([v * 1000 for v in values], 50) == 50
    assert latency(values) == {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0, "n": 100}


def test_wrk_rotation_script_is_ascii_and_names_every_path() -> None:
    """wrk's LuaJIT refuses json's \\u escapes and then requests "/" for every path: the search
    page was measured as the start page until this was found. Paths go in percent-encoded."""
    from bench.httpload import rotation_script, wire_path
    from bench.run import QUERIES

    paths = [f"/eintraege?q={q.replace(' ', '+')}" for q in QUERIES] + ['/x?q="a\\b"']
    script = rotation_script(paths)
    assert script.isascii() and "\\u" not in script
    assert "/eintraege?q=M%C3%BCll" in script and "/eintraege?q=Sondernutzung+Stra%C3%9Fe" in script
    assert "/eintraege?q=Parkausweis+Anwohner" in script  # plain ASCII stays as it is
    assert '"/x?q=%22a%5Cb%22"' in script
    assert all(f'"{wire_path(p)}"' in script for p in paths[:-1])
