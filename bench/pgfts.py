"""PostgreSQL full-text search reference: the same corpus and queries as bench/fts5.py.

A `german` text-search configuration tsvector (Snowball stemming, German stop words; no
decompounding, no typo tolerance, no umlaut folding) over the fields FTS5 indexes, weighted
like FTS5's bm25 columns, with a GIN index. Each word of a query becomes a prefix term and
the terms are AND-ed (`to_tsquery('german', 'hund:* & steuer:*')`); a result page is the
count of public published hits plus the top 20 by ts_rank. It lives in its own schema
(bench_fts) of the benchmark database, so the application's tables are untouched.
"""

from __future__ import annotations

import re
import time
from typing import Any

TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)

BUILD_SQL = """
CREATE TABLE bench_fts.doc AS
SELECT l.id,
       setweight(to_tsvector('german', coalesce(l.title, '')), 'A')
       || setweight(to_tsvector('german', coalesce(l.summary, '')), 'B')
       || setweight(to_tsvector('german', coalesce(l.description, '')), 'D')
       || setweight(to_tsvector('german', coalesce(o.name, '')), 'C')
       || setweight(to_tsvector('german', coalesce((SELECT string_agg(z.name, ' ') FROM listing_ozg lo
                                JOIN ozg_leistung z ON z.id = lo.ozg_id WHERE lo.listing_id = l.id), '')), 'B')
       || setweight(to_tsvector('german', coalesce((SELECT string_agg(t.tag, ' ') FROM listing_tag t
                                WHERE t.listing_id = l.id), '')), 'B') AS tsv,
       l.visibility, l.status
FROM listing l JOIN organisation o ON o.id = l.organisation_id
"""


def _dsn(url: str) -> str:
    """Return a libpq URL for a SQLAlchemy postgresql+psycopg URL."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def build(url: str) -> dict[str, Any]:
    """Build the tsvector table and its GIN index in the database of url; return time and size."""
    import psycopg

    start = time.perf_counter()
    with psycopg.connect(_dsn(url), autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS bench_fts CASCADE")
        con.execute("CREATE SCHEMA bench_fts")
        con.execute(BUILD_SQL)
        con.execute("CREATE INDEX doc_tsv ON bench_fts.doc USING gin (tsv)")
        con.execute("ANALYZE bench_fts.doc")
        size = con.execute("SELECT pg_total_relation_size('bench_fts.doc')").fetchone()[0]
    return {"build_seconds": round(time.perf_counter() - start, 3), "bytes": int(size)}


def to_tsquery_text(query: str) -> str:
    """Turn a user query into to_tsquery text: every word as a prefix term, AND-ed."""
    words = [w for w in TOKEN_RE.findall(query.lower()) if w]
    return " & ".join(f"{w}:*" for w in words)


class Searcher:
    """Run ranked top-20 queries (ts_rank) with a total count, like a result page."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.con = psycopg.connect(_dsn(url), autocommit=True)

    def search(self, query: str, limit: int = 20) -> tuple[int, list[int]]:
        """Return the number of visible hits and the ids of the first page."""
        q = to_tsquery_text(query)
        if not q:
            return 0, []
        where = "tsv @@ to_tsquery('german', %(q)s) AND visibility = 'public' AND status = 'published'"
        total = self.con.execute(f"SELECT count(*) FROM bench_fts.doc WHERE {where}", {"q": q}).fetchone()[0]
        ids = [r[0] for r in self.con.execute(
            f"SELECT id FROM bench_fts.doc WHERE {where} "
            "ORDER BY ts_rank(tsv, to_tsquery('german', %(q)s)) DESC, id LIMIT %(n)s", {"q": q, "n": limit})]
        return int(total), ids

    def close(self) -> None:
        """Close the connection."""
        self.con.close()
