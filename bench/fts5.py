"""SQLite FTS5 reference: the same corpus and queries as the Whoosh search, for a ratio."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from typing import Any

TOKEN_RE = re.compile(r"\w+", re.UNICODE)

CORPUS_SQL = """
SELECT l.id, l.title, l.summary, l.description, o.name,
       COALESCE((SELECT group_concat(z.name, ' ') FROM listing_ozg lo
                 JOIN ozg_leistung z ON z.id = lo.ozg_id WHERE lo.listing_id = l.id), ''),
       COALESCE((SELECT group_concat(t.tag, ' ') FROM listing_tag t WHERE t.listing_id = l.id), ''),
       l.visibility, l.status
FROM listing l JOIN organisation o ON o.id = l.organisation_id
"""


def build(db_path: str, fts_path: str) -> dict[str, Any]:
    """Build an FTS5 index of all listings of db_path in fts_path; return time and size."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(fts_path + suffix):
            os.remove(fts_path + suffix)
    start = time.perf_counter()
    con = sqlite3.connect(fts_path)
    con.execute(f"ATTACH DATABASE 'file:{os.path.abspath(db_path)}?mode=ro' AS src")
    con.execute(
        "CREATE VIRTUAL TABLE doc USING fts5(title, summary, description, organisation, ozg, tags,"
        " visibility UNINDEXED, status UNINDEXED,"
        " tokenize = 'unicode61 remove_diacritics 2', prefix = '3')"
    )
    sql = CORPUS_SQL.replace("FROM listing l JOIN organisation o", "FROM src.listing l JOIN src.organisation o")
    sql = sql.replace("listing_ozg lo", "src.listing_ozg lo").replace("ozg_leistung z", "src.ozg_leistung z")
    sql = sql.replace("listing_tag t", "src.listing_tag t")
    con.execute(
        "INSERT INTO doc(rowid, title, summary, description, organisation, ozg, tags, visibility, status) " + sql
    )
    con.commit()
    con.execute("DETACH DATABASE src")
    con.execute("INSERT INTO doc(doc) VALUES ('optimize')")
    con.commit()
    con.execute("VACUUM")
    con.close()
    return {"build_seconds": round(time.perf_counter() - start, 3), "bytes": os.path.getsize(fts_path)}


def to_match(query: str) -> str:
    """Turn a user query into an FTS5 MATCH expression: every word as a prefix, AND-ed."""
    words = [w for w in TOKEN_RE.findall(query.lower()) if w]
    return " AND ".join(f'"{w}"*' for w in words) or '""'


class Searcher:
    """Run ranked top-20 queries (bm25, title weighted) with a total count, like a result page."""

    def __init__(self, fts_path: str) -> None:
        self.con = sqlite3.connect(fts_path, check_same_thread=False)

    def search(self, query: str, limit: int = 20) -> tuple[int, list[int]]:
        """Return the number of visible hits and the ids of the first page."""
        match = to_match(query)
        where = "doc MATCH ? AND visibility = 'public' AND status = 'published'"
        total = self.con.execute(f"SELECT count(*) FROM doc WHERE {where}", (match,)).fetchone()[0]
        ids = [
            r[0]
            for r in self.con.execute(
                f"SELECT rowid FROM doc WHERE {where} ORDER BY bm25(doc, 5.0, 2.0, 1.0, 1.5, 2.0, 2.0) LIMIT ?",
                (match, limit),
            )
        ]
        return total, ids

    def close(self) -> None:
        """Close the connection."""
        self.con.close()
