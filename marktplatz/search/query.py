"""Searching: German query building, the visibility filter, facets, highlights, suggestions."""

from __future__ import annotations

import html
import itertools
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from whoosh import highlight
from whoosh import index as windex
from whoosh import query as Q

from ..models import Land, Listing, Network, Themenfeld
from ..models.listing import KINDS, PHASES, REIFEGRAD_MODELS
from ..permissions import listing_visibility_filter, viewer_scope
from . import engine
from .analysis import fold, german_analyzer, ngrams, plain_analyzer, terms
from .index import current_generation

log = logging.getLogger(__name__)

FACETS = ("kind", "land", "network", "themenfeld", "phase", "reifegrad", "licence", "reuse_offered")
FACET_TITLES = {
    "kind": "Art", "land": "Land", "network": "Netzwerk", "themenfeld": "Themenfeld",
    "phase": "Phase", "reifegrad": "Reifegrad", "licence": "Lizenz", "reuse_offered": "Zur Nachnutzung angeboten",
}
MULTI = {"network", "themenfeld"}
SORTS = {"relevance": "Relevanz", "newest": "Neueste", "reused": "Meist nachgenutzt"}
_PHRASE_RE = re.compile(r'"([^"]+)"')
_DE = german_analyzer()
_PLAIN = plain_analyzer()


@dataclass
class Hit:
    """One listing in a result page."""

    listing_id: int
    title: str
    title_html: str
    snippet_html: str
    score: float


@dataclass
class SearchResult:
    """A page of listing hits plus facet counts over the whole result set."""

    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, str, int]]]
    page: int = 1
    per_page: int = 20
    suggestions: list[str] = field(default_factory=list)
    unavailable: bool = False  # the index cannot answer this request: callers answer from SQL
    lagging: bool = False  # ... because it has not yet applied the viewer's own last write

    @property
    def listing_ids(self) -> list[int]:
        """Return the ids of the listings on this page, in order."""
        return [h.listing_id for h in self.hits]

    @property
    def pages(self) -> int:
        """Return the number of pages."""
        return max(1, -(-self.total // self.per_page))


# --------------------------------------------------------------------------- searcher cache

_local = threading.local()


def _searcher(root: str):
    """Return an up-to-date searcher for the live generation (cached per thread).

    After a write the searcher is reopened, not ``refresh()``-ed: whoosh-reloaded 2.7.5's
    refresh reuses the old segment readers, whose deletions are stale, and even adds back
    segments a merge removed, so an updated listing was found twice (reopening is cheap, so it
    stays so with whoosh3).
    """
    gen = current_generation(root)
    if gen is None:
        return None
    cache = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    entry = cache.get(root)
    if entry is not None and entry[0] == gen:
        ix, s = entry[1], entry[2]
        try:
            if s.up_to_date():
                return s
            fresh = ix.searcher()
        except Exception:  # noqa: BLE001 - a vanished generation: reopen below
            fresh = None
        if fresh is not None:
            # Adopt the shared bitmap caches of unchanged segments while the old searcher
            # still holds them, then let it go.
            engine.segments(fresh)
            _close(s)
            cache[root] = (gen, ix, fresh)
            return fresh
    if entry is not None:
        _close(entry[2])
    ix = windex.open_dir(gen)
    s = ix.searcher()
    cache[root] = (gen, ix, s)
    return s


def _close(searcher: Any) -> None:
    try:
        searcher.close()
    except Exception:  # noqa: BLE001 - closing a searcher of a removed generation
        pass


# --------------------------------------------------------------------------- query building


def _word_query(word: str) -> Q.Query | None:
    """Return the query for one user word: stems, fuzzy stems, n-grams and exact codes.

    Bounded (engine.MAX_*): the first MAX_WORD_CHARS letters, MAX_WORD_TERMS stems and
    compound parts, MAX_GRAMS n-grams; fuzzy terms expand to at most MAX_FUZZY words.
    """
    word = word[: engine.MAX_WORD_CHARS]
    stems = terms(_DE, word)[: engine.MAX_WORD_TERMS]
    plain = terms(_PLAIN, word)[: engine.MAX_WORD_TERMS]
    if not stems and not plain:
        return None
    subs: list[Q.Query] = []
    for st in stems:
        subs.append(Q.Term("title", st, boost=8.0))
        subs.append(Q.Term("summary", st, boost=2.5))
        subs.append(Q.Term("body", st, boost=1.0))
        if len(st) >= 5 and not st.isdigit():
            dist = 2 if len(st) >= 9 else 1
            subs.append(engine.FuzzyTerm("title", st, boost=4.0, maxdist=dist, prefixlength=2))
            subs.append(engine.FuzzyTerm("summary", st, boost=0.7, maxdist=dist, prefixlength=2))
    for p in plain:
        if len(p) >= 4 and not p.isdigit():
            grams = ngrams(p)[: engine.MAX_GRAMS]
            subs.append(engine.PartMatch([Q.Term("title_ng", g) for g in grams], boost=3.0))
        subs.append(Q.Term("codes", p, boost=8.0))
        subs.append(Q.Term("tags", p, boost=3.0))
    folded = fold(word)
    subs.append(Q.Term("codes", folded.strip(), boost=8.0))
    return Q.Or(subs)


def build_query(q: str, budget: int = engine.MAX_QUERY_TERMS) -> Q.Query:
    """Turn the user's text into a Whoosh query (every word must match somewhere).

    At most MAX_QUERY_WORDS words (a phrase counts as one) and budget index terms
    (engine.term_cost) are searched; further words are ignored, so no query text, however
    long, makes a query that reads more of the index.
    """
    q = (q or "").strip()
    if not q:
        return Q.Every()
    budget -= 1  # the exact-name term below
    parts: list[Q.Query] = []

    def add(part: Q.Query | None) -> bool:
        nonlocal budget
        if part is None:
            return True
        if len(parts) >= engine.MAX_QUERY_WORDS:
            return False
        cost = engine.term_cost(part)
        if cost > budget:
            return False
        budget -= cost
        parts.append(part)
        return True

    for phrase in _PHRASE_RE.findall(q):
        words = terms(_DE, phrase[: engine.MAX_WORD_CHARS * engine.MAX_QUERY_WORDS])[: engine.MAX_QUERY_WORDS]
        if len(words) > 1:
            part: Q.Query | None = Q.Or([Q.Phrase("title", words, boost=5.0),
                                         Q.Phrase("summary", words, boost=2.0), Q.Phrase("body", words)])
        else:
            part = _word_query(phrase) if words else None
        if not add(part):
            break
    rest = _PHRASE_RE.sub(" ", q)
    for word in rest.split()[: engine.MAX_QUERY_WORDS * 4]:
        if not add(_word_query(word)):
            break
    whole = fold(q.replace('"', "")).strip()
    if not parts:
        return Q.NullQuery
    main = Q.And(parts) if len(parts) > 1 else parts[0]
    # A query that is exactly a municipality name or code ranks that hit first.
    return Q.Or([main, Q.Term("org_exact", whole, boost=20.0)]) if len(parts) > 1 else Q.Or(
        [main, Q.Term("org_exact", whole, boost=20.0)]
    )


# --------------------------------------------------------------------------- visibility


def still_visible(session: Session, user: Any, ids: list[int]) -> set[int]:
    """Return those of ids that user may see by the database's current state.

    The index follows the database with a lag: a listing just made members-only, or sent
    back to review, may still carry its old labels there. Whatever leaves the index for a
    page is therefore checked once more with the same policy in SQL.
    """
    if not ids:
        return set()
    return set(session.scalars(select(Listing.id).where(Listing.id.in_(ids), listing_visibility_filter(user))))


def _ids(field_name: str, ids: set[int]) -> Q.Query:
    return Q.Or([Q.Term(field_name, i) for i in sorted(ids)]) if ids else Q.NullQuery


def visibility_filter(session: Session, user: Any) -> Q.Query | None:
    """Return the index filter selecting exactly the listings user may see.

    The index stores each listing's labels (permissions.visibility.listing_labels); the
    filter asks for the labels the viewer holds. Network membership is read from the
    database at query time, so a membership change takes effect at once.
    """
    is_listing = Q.Term("doc_type", "listing")
    scope = viewer_scope(user)
    if scope.everything:
        return is_listing
    held = sorted(scope.labels(session))
    return Q.And([is_listing, Q.Or([Q.Term("labels", label) for label in held])])


# --------------------------------------------------------------------------- facets


def _facet_labels(session: Session, name: str, values: list[str]) -> dict[str, str]:
    if name == "kind":
        return {v: KINDS.get(v, v) for v in values}
    if name == "phase":
        return {v: PHASES.get(v, v) for v in values}
    if name == "reuse_offered":
        return {"ja": "Ja", "nein": "Nein"}
    if name == "reifegrad":
        out = {}
        for v in values:
            model, _, grade = v.partition(":")
            out[v] = f"Stufe {grade} (Modell {model})"
        return out
    if name == "land":
        rows = session.execute(select(Land.code, Land.name).where(Land.code.in_(values))).all()
        return {c: n for c, n in rows}
    ids = [int(v) for v in values if v.isdigit()]
    if name == "network":
        rows = session.execute(select(Network.id, Network.name).where(Network.id.in_(ids))).all()
        return {str(i): n for i, n in rows}
    if name == "themenfeld":
        rows = session.execute(select(Themenfeld.id, Themenfeld.name).where(Themenfeld.id.in_(ids))).all()
        return {str(i): n for i, n in rows}
    return {v: v for v in values}


def _filter_query(filters: dict[str, Any]) -> list[Q.Query]:
    """Return the filter queries of filters: facet values plus a few non-facet restrictions.

    Besides the facet names, filters may hold ``organisation_ids`` (a set, e.g. the members of
    a Kreis), ``ozg_id`` (an OZG-ID, matched in the codes), ``reifegrad_min`` (a grade; any
    model) and ``listing_ids`` (restrict to these listings).
    """
    out: list[Q.Query] = []
    if filters.get("organisation_ids") is not None:
        out.append(_ids("organisation_id", set(filters["organisation_ids"])))
    if filters.get("ozg_id"):
        out.append(Q.Term("codes", str(int(filters["ozg_id"]))))
    if filters.get("reifegrad_min") is not None:
        low = int(filters["reifegrad_min"])
        grades = [f"{m}:{g}" for m, top in REIFEGRAD_MODELS.items() for g in range(low, top + 1)]
        out.append(Q.Or([Q.Term("reifegrad", g) for g in grades]) if grades else Q.NullQuery)
    if filters.get("listing_ids") is not None:
        ids = sorted(set(filters["listing_ids"]))
        out.append(Q.Or([Q.Term("uid", f"listing:{i}") for i in ids]) if ids else Q.NullQuery)
    for name in FACETS:
        raw = filters.get(name)
        if raw in (None, "", []):
            continue
        values = [raw] if isinstance(raw, str) else list(raw)
        values = [str(v) for v in values if str(v) != ""]
        if values:
            out.append(Q.Or([Q.Term(name, v) for v in values]))
    return out


class MarkFormatter(highlight.Formatter):
    """Format highlights as escaped text with <mark> around matched terms."""

    between = " … "

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:  # noqa: D102
        return "<mark>" + html.escape(highlight.get_text(text, token, replace)) + "</mark>"

    def _text(self, text: str) -> str:
        return html.escape(text)


# --------------------------------------------------------------------------- public API


def sort_fields(q: str, sort: str) -> tuple[str, ...] | None:
    """Return the column fields a result is sorted by (None: by relevance)."""
    if sort == "newest" or (sort == "relevance" and not q.strip()):
        return ("published_ts",)
    if sort == "reused":
        return ("reuse_count", "published_ts")
    return None


def run_search(searcher: Any, q: str, vis: Q.Query | None, filters: dict[str, Any], sort: str,
               limit: int) -> engine.Found:
    """Match q within the visibility and facet filters; return exact counts and the top limit."""
    query = build_query(q) if q.strip() else Q.Term("doc_type", "listing")
    fq = ([vis] if vis is not None else []) + _filter_query(filters)
    return engine.run(searcher, query, fq, limit, FACETS, sort_fields(q, sort))


def _highlighter() -> highlight.Highlighter:
    return highlight.Highlighter(fragmenter=highlight.ContextFragmenter(maxchars=240, surround=60),
                                 formatter=MarkFormatter())


def highlight_text(hl: highlight.Highlighter, analyzer: Any, text: str, words: frozenset[str], top: int,
                   minscore: int) -> str:
    """Return text with the query words marked, as Whoosh's Hit.highlights would."""
    if not text or not words:
        return ""
    tokens = analyzer(text, positions=True, chars=True, mode="index", removestops=False)
    tokens = hl._merge_matched_tokens(highlight.set_matched_filter(tokens, words))
    fragments = hl.fragmenter.fragment_tokens(text, tokens)
    fragments = highlight.top_fragments(fragments, top, hl.scorer, hl.order, minscore=minscore)
    return hl.formatter.format(fragments)


def _query_words(searcher: Any, q: str, fieldname: str) -> frozenset[str]:
    if not q.strip():
        return frozenset()
    field = searcher.schema[fieldname]
    found = build_query(q).existing_terms(searcher.reader(), fieldname=fieldname, expand=True)
    return frozenset(field.from_bytes(t[1]) for t in found if t[0] == fieldname)


def search_listings(session: Session, root: str, user: Any, q: str, filters: dict[str, Any] | None = None,
                    sort: str = "relevance", page: int = 1, per_page: int = 20) -> SearchResult:
    """Search listings user may see; return one page with highlights and facet counts."""
    filters = filters or {}
    page = max(1, int(page or 1))
    per_page = max(1, min(100, int(per_page or 20)))
    searcher = _searcher(root)
    if searcher is None:
        return SearchResult(0, [], {}, page, per_page, unavailable=True)
    found = run_search(searcher, q, visibility_filter(session, user), filters, sort, page * per_page)
    hits = []
    page_hits = found.top[(page - 1) * per_page : page * per_page]
    if page_hits:
        hl = _highlighter()
        title_words = _query_words(searcher, q, "title")
        summary_words = _query_words(searcher, q, "summary")
        title_an = searcher.schema["title"].analyzer
        summary_an = searcher.schema["summary"].analyzer
        for docnum, score in page_hits:
            doc = searcher.stored_fields(docnum)
            title = doc.get("title", "")
            summary = doc.get("summary", "")
            title_html = highlight_text(hl, title_an, title, title_words, 3, 0) or html.escape(title)
            snippet = highlight_text(hl, summary_an, summary, summary_words, 2, 1) or html.escape(summary)
            hits.append(Hit(doc["obj_id"], title, title_html, snippet, float(score or 0)))
    facets: dict[str, list[tuple[str, str, int]]] = {}
    for name in FACETS:
        counts = found.facets.get(name, {})
        labels = _facet_labels(session, name, [str(k) for k in counts])
        facets[name] = sorted(
            ((str(k), labels.get(str(k), str(k)), int(v)) for k, v in counts.items()),
            key=lambda t: (-t[2], t[1]),
        )
    result = SearchResult(found.total, hits, facets, page, per_page)
    if q.strip() and result.total < 3:
        result.suggestions = did_you_mean(searcher, q)
    return result


def matching_listing_ids(session: Session, root: str, user: Any, q: str, filters: dict[str, Any] | None = None,
                         limit: int = 10_000) -> list[int]:
    """Return the ids of the visible listings matching q, best first (at most limit)."""
    searcher = _searcher(root)
    if searcher is None or not (q or "").strip():
        return []
    vis = visibility_filter(session, user)
    fq = ([vis] if vis is not None else []) + _filter_query(filters or {})
    flt = (Q.And(fq) if len(fq) > 1 else fq[0]) if fq else None
    results = searcher.search(build_query(q), filter=flt, limit=limit)
    return [hit["obj_id"] for hit in results]


def _within(searcher: Any, fieldname: str, word: str) -> set[str]:
    """Return at most MAX_FUZZY indexed words within 1 edit of word (2 for 8+ letters) sharing
    its first two letters."""
    maxdist = 2 if len(word) >= 8 else 1
    found: set[str] = set()
    for leaf, _offset in searcher.leaf_searchers():
        left = engine.MAX_FUZZY - len(found)
        if left <= 0:
            break
        found.update(itertools.islice(leaf.reader().terms_within(fieldname, word, maxdist, prefix=2), left))
    return found


def _closest_word(searcher: Any, fieldname: str, word: str) -> str | None:
    """Return the indexed word to suggest for word: itself when indexed, else the most frequent
    word within 1 edit (2 for words of 8+ letters) sharing its first two letters.

    Ranks like Whoosh's ReaderCorrector (frequency, then alphabetically) but asks each
    segment's reader, which walks its term list with a Levenshtein automaton (Whoosh's
    multi-segment reader compares the word with every term). Answers are remembered per
    reader: the same typos come again, and a new reader (after a write) starts afresh.
    """
    reader = searcher.reader()
    if len(word) < 4 or reader.doc_frequency(fieldname, word):
        return word  # known words and very short ones ("1", "zu") are not corrected
    cache = engine.reader_cache(reader, "_marktplatz_spell")
    if (fieldname, word) in cache:
        return cache[fieldname, word]
    found = _within(searcher, fieldname, word)
    best = min(found, key=lambda w: (-(reader.frequency(fieldname, w) or 1), w)) if found else None
    cache[fieldname, word] = best
    return best


def did_you_mean(searcher: Any, q: str) -> list[str]:
    """Return a corrected spelling of q from the indexed words, if one exists."""
    corrected = []
    changed = False
    for word in q.split()[: engine.MAX_QUERY_WORDS]:
        plain = terms(_PLAIN, word[: engine.MAX_WORD_CHARS])
        if not plain:
            continue
        w = plain[-1]
        sug = _closest_word(searcher, "spell_public", w)
        if sug and sug != w:
            corrected.append(sug)
            changed = True
        else:
            corrected.append(w)
    return [" ".join(corrected)] if changed else []


def suggest_query(q: str) -> Q.Query:
    """Return the autocomplete query of q: the words before the last as typed, the last as a prefix."""
    words = q.split()[: engine.MAX_QUERY_WORDS]
    last = terms(_PLAIN, words[-1][: engine.MAX_WORD_CHARS]) if words else []
    if not last:
        return Q.NullQuery
    head = " ".join(words[:-1])
    stem = last[-1]
    # engine.Prefix expands MIN_PREFIX+ letters to at most MAX_EXPANSION terms; shorter words
    # and digit codes (AGS, ARS, postcode, LeiKa key, OZG-ID) only match exactly.
    prefix = Q.Or([engine.Prefix("spell", stem), engine.Prefix("org_exact", stem), engine.Prefix("codes", stem)])
    budget = engine.MAX_QUERY_TERMS - engine.term_cost(prefix)
    if head:
        return Q.And([build_query(head, budget), prefix])
    return Q.Or([prefix, build_query(words[-1], budget)])


def spelling_candidates(searcher: Any, q: str) -> int:
    """Return how many indexed words "Meinten Sie" compares for q (the work it does)."""
    count = 0
    for word in q.split()[: engine.MAX_QUERY_WORDS]:
        plain = terms(_PLAIN, word[: engine.MAX_WORD_CHARS])
        if not plain or len(plain[-1]) < 4 or searcher.reader().doc_frequency("spell_public", plain[-1]):
            continue  # as in _closest_word: known and very short words are not corrected
        count += len(_within(searcher, "spell_public", plain[-1]))
    return count


def expanded_terms(reader: Any, query: Any) -> int:
    """Return the number of index terms query stands for once its prefixes, wildcards and
    fuzzy terms are expanded over reader (what matching it reads)."""
    if isinstance(query, Q.MultiTerm):
        return len(set(query._btexts(reader)))
    if isinstance(query, Q.Phrase):
        return len(query.words)
    if isinstance(query, Q.CompoundQuery):
        return sum(expanded_terms(reader, sub) for sub in query.subqueries)
    if hasattr(query, "child"):
        return expanded_terms(reader, query.child)
    return 0 if query is Q.NullQuery or isinstance(query, (Q.Every, Q.NullQuery.__class__)) else 1


def suggest(session: Session, root: str, user: Any, q: str, limit: int = 5) -> dict[str, list[dict[str, Any]]]:
    """Return autocomplete entries for listings, municipalities and OZG-Leistungen."""
    out: dict[str, list[dict[str, Any]]] = {"listings": [], "organisations": [], "ozg": []}
    q = (q or "").strip()
    if len(q) < 2:
        return out
    searcher = _searcher(root)
    if searcher is None:
        return out
    words = q.split()
    last = terms(_PLAIN, words[-1])
    if not last:
        return out
    base = suggest_query(q)
    vis = visibility_filter(session, user)
    for kind, key in (("listing", "listings"), ("org", "organisations"), ("ozg", "ozg")):
        flt = vis if kind == "listing" else Q.Term("doc_type", kind)
        res = searcher.search(base, filter=flt, limit=limit)
        for hit in res:
            detail = hit.get("detail") or hit.get("summary") or ""
            out[key].append({"id": hit["obj_id"], "label": hit["title"], "detail": detail[:120]})
    shown = still_visible(session, user, [e["id"] for e in out["listings"]])
    out["listings"] = [e for e in out["listings"] if e["id"] in shown]
    return out


def similar_listings(session: Session, root: str, user: Any, text: str, limit: int = 20) -> list[tuple[int, float]]:
    """Return visible listings matching any word of text, with scores scaled to 0..1."""
    searcher = _searcher(root)
    if searcher is None:
        return []
    words = [w for w in text.split() if len(terms(_DE, w)) > 0][:12]
    subs = [wq for wq in (_word_query(w) for w in words) if wq is not None]
    if not subs:
        return []
    query = Q.Or(subs)
    res = searcher.search(query, filter=visibility_filter(session, user), limit=limit)
    # len(res) may count matches the filter removed; only the hits themselves count here.
    shown = still_visible(session, user, [h["obj_id"] for h in res])
    hits = [h for h in res if h["obj_id"] in shown]
    if not hits:
        return []
    top = max(float(h.score or 0) for h in hits) or 1.0
    # Coverage: the share of the words that hit; a title sharing one generic word scores low.
    out = []
    for hit in hits:
        sim = float(hit.score or 0) / top
        if sim >= 0.45:  # a title sharing only one generic word ("online") stays below
            out.append((hit["obj_id"], round(sim, 3)))
    return out
