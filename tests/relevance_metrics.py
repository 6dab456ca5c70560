"""hits@3 and MRR of the German relevance set (tests/fixtures/relevance_queries.csv).

Used by tests/test_search_relevance.py, and runnable against any checkout that has the demo
loaded (``marktplatz data setup``) to compare rankings before and after a change:

    .venv/bin/python -m tests.relevance_metrics
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

CASES_FILE = os.path.join(os.path.dirname(__file__), "fixtures", "relevance_queries.csv")
DEPTH = 10  # ranks looked at for the reciprocal rank


def cases() -> list[tuple[str, str, str, str]]:
    """Return (set, query, expected, case) rows of the relevance set."""
    out = []
    with open(CASES_FILE, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or line.startswith("set;"):
                continue
            kind, query, expected, case = line.split(";")
            out.append((kind, query, expected, case))
    return out


@dataclass
class Score:
    """The metrics of one set of queries."""

    n: int = 0
    hits3: int = 0
    rr: float = 0.0
    misses: list[str] = field(default_factory=list)

    @property
    def hits_at_3(self) -> float:
        """Return the share of queries with the expected answer in the top 3."""
        return self.hits3 / self.n if self.n else 0.0

    @property
    def mrr(self) -> float:
        """Return the mean reciprocal rank (0 beyond DEPTH)."""
        return self.rr / self.n if self.n else 0.0


def ranked(client, app, kind: str, query: str) -> list[str]:
    """Return the answers of query, best first: listing titles, or OZG-IDs of the catalogue API."""
    if kind == "catalogue":
        body = client.get("/api/v1/ozg/leistungen", query_string={"q": query, "limit": DEPTH}).get_json()
        return [str(item["id"]) for item in body.get("items", [])]
    from marktplatz import search

    with app.app_context():
        return [h.title for h in search.search_listings(None, query, per_page=DEPTH).hits]


def evaluate(app) -> dict[str, Score]:
    """Return the Score per set ("listing", "catalogue") on app's data."""
    client = app.test_client()
    scores: dict[str, Score] = {}
    for kind, query, expected, _case in cases():
        score = scores.setdefault(kind, Score())
        answers = ranked(client, app, kind, query)
        score.n += 1
        if expected in answers:
            rank = answers.index(expected) + 1
            score.rr += 1.0 / rank
            score.hits3 += rank <= 3
            if rank > 3:
                score.misses.append(f"{query!r}: rank {rank}")
        else:
            score.misses.append(f"{query!r}: not in top {DEPTH}")
    return scores


def report(scores: dict[str, Score]) -> str:
    """Return the metrics as text."""
    return "\n".join(f"{kind}: {s.n} queries, hits@3 {s.hits_at_3:.1%}, MRR {s.mrr:.3f}"
                     for kind, s in sorted(scores.items()))


if __name__ == "__main__":
    from marktplatz import create_app

    result = evaluate(create_app())
    print(report(result))
    for kind, s in sorted(result.items()):
        for miss in s.misses:
            print(f"  {kind} miss: {miss}")
