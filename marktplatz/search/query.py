"""Searching: German query building, the visibility filter, facets, highlights, suggestions."""

from __future__ import annotations

import html
import itertools
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from whoosh import highlight
from whoosh import index as windex
from whoosh import query as Q

from ..models import Land, Listing, ListingStatus, Network, Organisation, Themenfeld
from ..models.listing import KINDS, PHASES, REIFEGRAD_MODELS
from ..permissions import listing_visibility_filter, viewer_scope
from . import engine
from .analysis import WORD_RE, fold, german_query_analyzer, ngrams, plain_analyzer, terms
from .index import current_generation, exact_text

log = logging.getLogger(__name__)

FACETS = ("kind", "land", "kreis", "network", "themenfeld", "phase", "reifegrad", "licence", "reuse_offered")
FACET_TITLES = {
    "kind": "Art", "land": "Land", "kreis": "Kreis", "network": "Netzwerk", "themenfeld": "Themenfeld",
    "phase": "Phase", "reifegrad": "Reifegrad", "licence": "Lizenz", "reuse_offered": "Zur Nachnutzung angeboten",
}
MULTI = {"network", "themenfeld"}
SORTS = {"relevance": "Relevanz", "newest": "Neueste", "reused": "Meist nachgenutzt"}
_PHRASE_RE = re.compile(r'"([^"]+)"')
_DE = german_query_analyzer()
_PLAIN = plain_analyzer()


@dataclass
class Hit:
    """One listing in a result page."""

    listing_id: int
    title: str
    title_html: str
    snippet_html: str
    score: float
    exact: bool = False  # the query is this listing's whole title


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
    # No listing matched every word: these are the results for the words in partial_words
    # (the note "Keine Treffer für alle Wörter – Ergebnisse für ...").
    partial_words: list[str] | None = None

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


def _exact_word_query(word: str, boost: float = 1.0) -> Q.Query | None:
    """Return the lean query of one vocabulary word: its stems in the text fields, no typos."""
    stems = terms(_DE, word[: engine.MAX_WORD_CHARS])[:2]
    if not stems:
        return None
    subs: list[Q.Query] = []
    for st in stems:
        subs += [Q.Term("title", st, boost=8.0), Q.Term("summary", st, boost=2.5), Q.Term("body", st)]
    subs.append(Q.Term("tags", fold(word), boost=3.0))
    return Q.Or(subs, boost=boost)


def _term_query(words: tuple[str, ...], boost: float) -> Q.Query | None:
    """Return the lean query of a vocabulary term (every word of it must match)."""
    subs = [q for q in (_exact_word_query(w) for w in words) if q is not None]
    if not subs:
        return None
    return Q.Or(subs, boost=boost) if len(subs) == 1 else Q.And(subs, boost=boost)


@dataclass
class Concept:
    """One thing the user asked for: a word, a phrase or a vocabulary term of several words."""

    text: str  # as typed (shown in the "Ergebnisse für ..." note)
    query: Q.Query
    optional: bool = False  # a stop or filler word: it ranks, but never makes the query fail


@dataclass
class ParsedQuery:
    """A query text as concepts, plus the exact title and name it may be."""

    concepts: list[Concept]
    whole: str
    quoted: bool = False  # the text has a "phrase": exactly these words, no catalogue expansion

    @property
    def required(self) -> list[Concept]:
        """Return the concepts a hit must match."""
        return [c for c in self.concepts if not c.optional]

    def compose(self, keep: Sequence[Concept] | None = None) -> Q.Query:
        """Return the Whoosh query: all required concepts (or those in keep), the optional
        ones as score only, an exact title or municipality name on top."""
        required = list(self.required if keep is None else keep)
        optional = [c.query for c in self.concepts if c.optional]
        if not required:  # only optional words ("online beantragen"): any of them
            if not optional:
                return Q.NullQuery
            required, optional = [Concept("", Q.Or(optional))], []
        main = Q.And([c.query for c in required]) if len(required) > 1 else required[0].query
        if optional:
            main = Q.AndMaybe(main, Q.Or(optional) if len(optional) > 1 else optional[0])
        return Q.Or([main, Q.Term("title_exact", self.whole, boost=EXACT_TITLE_BOOST),
                     Q.Term("org_exact", self.whole, boost=20.0)])


EXACT_TITLE_BOOST = 400.0  # a query that is a listing's whole title puts it first


def _concept(words: list[str]) -> Concept | None:
    """Return the concept of one query word or one multi-word vocabulary term."""
    from . import vocabulary

    text = " ".join(words)
    folded = tuple(w for w in (fold(x)[: engine.MAX_WORD_CHARS] for x in words) if w)
    if len(words) == 1:
        base = _word_query(words[0])
        if base is None:
            return None
        optional = vocabulary.is_optional(folded[0]) if folded else False
    else:
        base = _term_query(folded, 1.0)
        if base is None:
            return None
        optional = False
    subs: list[Q.Query] = [base]
    budget = CONCEPT_EXTRA_TERMS
    if len(folded) == 1:  # a compound: all of its parts ("gewerbeanmeldung" = gewerbe + anmeldung)
        parts = vocabulary.split_compound(folded[0])
        if parts:
            part_queries = []
            for part in parts[:4]:
                alts = [_term_query((part,), 1.0)] + [
                    _term_query(alt, 0.4) for alt in vocabulary.alternatives((part,))[:3]]
                alts = [a for a in alts if a is not None]
                part_queries.append(Q.Or(alts) if len(alts) > 1 else alts[0])
            stems = [st for part in parts[:4] for st in terms(_DE, part)[:1]]
            together = [Q.And(part_queries, boost=0.8)]
            if len(stems) > 1:  # "Gewerbe Anmeldung" as written apart, in that order
                together += [Q.Phrase("title", stems, boost=6.0), Q.Phrase("summary", stems, boost=2.0)]
            whole_parts = Q.Or(together)
            cost = engine.term_cost(whole_parts)
            if cost <= budget:
                subs.append(whole_parts)
                budget -= cost
    for alt in vocabulary.alternatives(folded):
        part = _term_query(alt, SYNONYM_BOOST)
        if part is None:
            continue
        cost = engine.term_cost(part)
        if cost > budget:
            break
        subs.append(part)
        budget -= cost
    return Concept(text, Q.Or(subs) if len(subs) > 1 else base, optional)


SYNONYM_BOOST = 1.0  # a curated synonym or word form (the word itself also matches fuzzily and by n-grams)
CONCEPT_EXTRA_TERMS = 80  # index terms the synonyms, word forms and parts of one word may add


def parse_query(q: str, budget: int = engine.MAX_QUERY_TERMS) -> ParsedQuery:
    """Turn the user's text into concepts (every required one must match somewhere).

    At most MAX_QUERY_WORDS concepts (a phrase counts as one) and budget index terms
    (engine.term_cost) are searched; further words are ignored, so no query text, however
    long, makes a query that reads more of the index. Consecutive words that form a term of
    the vocabulary ("Wohnsitz Änderung") are one concept.
    """
    from . import vocabulary

    q = (q or "").strip()
    whole = " ".join(WORD_RE.findall(fold(q.replace('"', ""))))
    parsed = ParsedQuery([], whole, quoted=bool(_PHRASE_RE.search(q)))
    budget -= 2  # the exact title and name terms
    concepts = parsed.concepts

    def add(concept: Concept | None) -> bool:
        nonlocal budget
        if concept is None:
            return True
        if len(concepts) >= engine.MAX_QUERY_WORDS:
            return False
        cost = engine.term_cost(concept.query)
        if cost > budget:
            return False
        budget -= cost
        concepts.append(concept)
        return True

    for phrase in _PHRASE_RE.findall(q):
        words = terms(_DE, phrase[: engine.MAX_WORD_CHARS * engine.MAX_QUERY_WORDS])[: engine.MAX_QUERY_WORDS]
        if len(words) > 1:
            part = Concept(phrase, Q.Or([Q.Phrase("title", words, boost=5.0),
                                         Q.Phrase("summary", words, boost=2.0), Q.Phrase("body", words)]))
        else:
            part = _concept([phrase]) if words else None
        if not add(part):
            return parsed
    rest = _PHRASE_RE.sub(" ", q).split()[: engine.MAX_QUERY_WORDS * 4]
    longest = min(vocabulary.longest_term(), 3)
    i = 0
    while i < len(rest):
        taken = 1
        for n in range(min(longest, len(rest) - i), 1, -1):  # a multi-word term of the vocabulary
            words = tuple(fold(w) for w in rest[i : i + n])
            if any(vocabulary.is_optional(w) for w in (words[0], words[-1])):
                continue
            if vocabulary.alternatives(words):
                taken = n
                break
        if not add(_concept(rest[i : i + taken])):
            break
        i += taken
    return parsed


def build_query(q: str, budget: int = engine.MAX_QUERY_TERMS) -> Q.Query:
    """Turn the user's text into a Whoosh query (every required word must match somewhere)."""
    if not (q or "").strip():
        return Q.Every()
    parsed = parse_query(q, budget)
    if not parsed.concepts:
        return Q.NullQuery
    return parsed.compose()


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
    if name == "kreis":
        rows = session.execute(select(Organisation.kreis_key, Organisation.kreis).where(
            Organisation.kreis_key.in_(values), Organisation.kreis.is_not(None)).distinct()).all()
        return {c: n for c, n in rows}
    ids = [int(v) for v in values if v.isdigit()]
    if name == "network":
        rows = session.execute(select(Network.id, Network.name).where(Network.id.in_(ids))).all()
        return {str(i): n for i, n in rows}
    if name == "themenfeld":
        rows = session.execute(select(Themenfeld.id, Themenfeld.name).where(Themenfeld.id.in_(ids))).all()
        return {str(i): n for i, n in rows}
    return {v: v for v in values}


def _filter_query(filters: dict[str, Any]) -> tuple[list[Q.Query], dict[str, Q.Query]]:
    """Return the filter queries of filters: (restrictions, facet choices by facet name).

    Archived listings (merged duplicates among them) are left out unless filters has
    ``include_archived``. A facet name maps to a value or a list of values (any of them
    matches). Besides the facet names, filters may hold ``statuses`` (a set of states),
    ``organisation_ids`` (a set), ``ozg_id`` (an OZG-ID, matched in the codes),
    ``reifegrad_min`` (a grade, with ``reifegrad_model`` that model's grades only, else any
    model's; counted as the choice of the reifegrad facet) and ``listing_ids`` (restrict to
    these listings).
    """
    out: list[Q.Query] = []
    chosen: dict[str, Q.Query] = {}
    if not filters.get("include_archived"):  # archived listings and merged duplicates
        out.append(Q.Or([Q.Term("status", st.value) for st in ListingStatus if st is not ListingStatus.ARCHIVED]))
    if filters.get("statuses"):  # e.g. browsing without a text: published ones only, not own drafts
        out.append(Q.Or([Q.Term("status", str(st)) for st in sorted(filters["statuses"])]))
    if filters.get("organisation_ids") is not None:
        out.append(_ids("organisation_id", set(filters["organisation_ids"])))
    if filters.get("ozg_id"):
        out.append(Q.Term("codes", str(int(filters["ozg_id"]))))
    if filters.get("reifegrad_min") is not None:
        low = int(filters["reifegrad_min"])
        models = {m: top for m, top in REIFEGRAD_MODELS.items()
                  if filters.get("reifegrad_model") in (None, m)}
        grades = [f"{m}:{g}" for m, top in models.items() for g in range(low, top + 1)]
        chosen["reifegrad"] = Q.Or([Q.Term("reifegrad", g) for g in grades]) if grades else Q.NullQuery
    if filters.get("listing_ids") is not None:
        ids = sorted(set(filters["listing_ids"]))
        out.append(Q.Or([Q.Term("uid", f"listing:{i}") for i in ids]) if ids else Q.NullQuery)
    for name in FACETS:
        raw = filters.get(name)
        if raw in (None, "", [], ()):
            continue
        values = [raw] if isinstance(raw, (str, int)) else list(raw)
        values = [str(v) for v in values if str(v) != ""]
        if values:
            chosen[name] = Q.Or([Q.Term(name, v) for v in values])
    return out, chosen


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


CATALOGUE_BOOST = 0.5  # listings of an OZG-Leistung the query names, without its words
CATALOGUE_MATCHES = 3  # OZG-Leistungen a query may stand for
CATALOGUE_MIN_SHARE = 0.5  # ... each scoring at least this share of the best one


def catalogue_ids(searcher: Any, query: Q.Query, kind: str = "ozg", limit: int = 50) -> list[tuple[int, float]]:
    """Return (id, score) of the catalogue entries (OZG-Leistungen or LeiKa) matching query, best first.

    An OZG-Leistung scores as its own document or as its best LeiKa-Leistung, whichever is
    higher: "Gewerbeanmeldung" is the LeiKa-Leistung "Gewerbe Anmeldung" of OZG 10294,
    whose own long list of names would dilute the match.
    """
    if kind != "ozg":
        found = engine.run(searcher, query, [Q.Term("doc_type", kind)], limit)
        return [(searcher.stored_fields(d)["obj_id"], sc) for d, sc in found.top]
    both = Q.Or([Q.Term("doc_type", "ozg"), Q.Term("doc_type", "leika")])
    found = engine.run(searcher, query, [both], limit * 4)
    best: dict[int, float] = {}
    for d, sc in found.top:
        doc = searcher.stored_fields(d)
        ozg_id = doc["obj_id"] if doc.get("doc_type") == "ozg" else doc.get("parent")
        if ozg_id is not None and sc > best.get(ozg_id, -1.0):
            best[ozg_id] = sc
    return sorted(best.items(), key=lambda item: -item[1])[:limit]


def search_catalogue(root: str, q: str, kind: str = "ozg", limit: int = 200) -> list[int] | None:
    """Return the ids of the catalogue entries of kind ("ozg" or "leika") matching q, best first.

    An OZG-ID or a whole LeiKa key is matched exactly (services/catalogue.py matches key
    prefixes in SQL). None when there is no index.
    """
    searcher = _searcher(root)
    if searcher is None:
        return None
    q = (q or "").strip()
    if not q:
        return []
    parsed = parse_query(q)
    if not parsed.concepts:
        return []
    found = catalogue_ids(searcher, parsed.compose(), kind, limit)
    if not found and len(parsed.required) > 1:  # no entry has every word: the best partial match
        best = best_subset(parsed, lambda keep: catalogue_ids(searcher, parsed.compose(keep), kind, limit),
                           lambda hits: max((sc for _i, sc in hits), default=0.0))
        found = best[0] if best else []
    return [i for i, _sc in found]


def _with_catalogue(searcher: Any, query: Q.Query) -> Q.Query:
    """Add the listings of the OZG-Leistungen that query names (by their LeiKa names too).

    "Ummeldung" is the LeiKa-Leistung "Wohnsitz Änderung" of OZG 10124: a listing tied to
    10124 is found although it never says "Ummeldung". Those listings rank below ones that
    carry the words themselves (CATALOGUE_BOOST).
    """
    found = catalogue_ids(searcher, query, limit=CATALOGUE_MATCHES)
    # Only strong matches: a typo-tolerant or partial hit in some LeiKa name is not a reason.
    ids = [i for i, sc in found if sc >= CATALOGUE_MIN_SHARE * found[0][1]] if found else []
    if not ids:
        return query
    return Q.Or([query, Q.Or([Q.Term("codes", str(i)) for i in ids], boost=CATALOGUE_BOOST)])


def run_search(searcher: Any, q: str, vis: Q.Query | None, filters: dict[str, Any], sort: str,
               limit: int, parsed: ParsedQuery | None = None,
               keep: Sequence[Concept] | None = None) -> engine.Found:
    """Match q (or only the concepts keep of parsed) within the visibility and facet filters;
    return exact counts and the top limit, ranked by text relevance and ranking.prior."""
    if q.strip():
        parsed = parsed or parse_query(q)
        query = parsed.compose(keep) if parsed.concepts else Q.NullQuery
        if parsed.concepts and not parsed.quoted:
            query = _with_catalogue(searcher, query)
    else:
        query = Q.Term("doc_type", "listing")
    restrictions, chosen = _filter_query(filters)
    fq = ([vis] if vis is not None else []) + restrictions
    return engine.run(searcher, query, fq, limit, FACETS, sort_fields(q, sort), prior="rank_prior",
                      facet_filters=chosen)


MAX_FALLBACK_TRIES = 20  # word subsets tried when no listing matches every word


def _top(found: engine.Found) -> float:
    return max((sc for _d, sc in found.top), default=0.0)


def best_subset(parsed: ParsedQuery, run: Any, top: Any) -> tuple[Any, list[Concept]] | None:
    """Return (result, concepts kept) of the best partial match of a query whose words never
    occur together: the largest set of its words that finds anything; among sets of that size
    the one whose best hit scores highest (rare, specific words outscore common ones).

    run(keep) searches with only the concepts keep; top(result) is its best score (0: none).
    At most MAX_FALLBACK_TRIES sets are tried.
    """
    required = parsed.required
    tries = 0
    for size in range(len(required) - 1, 0, -1):
        best: tuple[Any, list[Concept]] | None = None
        for keep in itertools.combinations(required, size):
            tries += 1
            if tries > MAX_FALLBACK_TRIES:
                return best
            result = run(list(keep))
            if top(result) > 0 and (best is None or top(result) > top(best[0])):
                best = (result, list(keep))
        if best is not None:
            return best
    return None


def _fallback(searcher: Any, q: str, parsed: ParsedQuery, vis: Q.Query | None, filters: dict[str, Any],
              sort: str, limit: int) -> tuple[engine.Found, list[Concept]] | None:
    """Return the best partial match of q among the listings (best_subset)."""
    return best_subset(parsed, lambda keep: run_search(searcher, q, vis, filters, sort, limit, parsed, keep),
                       lambda found: _top(found) if found.total else 0.0)


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
                    sort: str = "relevance", page: int = 1, per_page: int = 20,
                    facet_labels: bool = True) -> SearchResult:
    """Search listings user may see; return one page with highlights and facet counts.

    facets map each facet to (value, label, count), largest first; without facet_labels
    the label is the value.
    """
    filters = filters or {}
    page = max(1, int(page or 1))
    per_page = max(1, min(100, int(per_page or 20)))
    searcher = _searcher(root)
    if searcher is None:
        return SearchResult(0, [], {}, page, per_page, unavailable=True)
    vis = visibility_filter(session, user)
    parsed = parse_query(q) if q.strip() else None
    found = run_search(searcher, q, vis, filters, sort, page * per_page, parsed)
    partial = None
    if not found.total and parsed is not None and len(parsed.required) > 1:
        fallback = _fallback(searcher, q, parsed, vis, filters, sort, page * per_page)
        if fallback is not None:
            found, kept = fallback
            partial = [c.text for c in kept]
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
            exact = parsed is not None and exact_text(title) == parsed.whole
            hits.append(Hit(doc["obj_id"], title, title_html, snippet, float(score or 0), exact))
    facets: dict[str, list[tuple[str, str, int]]] = {}
    for name in FACETS:
        counts = found.facets.get(name, {})
        labels = _facet_labels(session, name, [str(k) for k in counts]) if facet_labels else {}
        facets[name] = sorted(
            ((str(k), labels.get(str(k), str(k)), int(v)) for k, v in counts.items()),
            key=lambda t: (-t[2], t[1]),
        )
    result = SearchResult(found.total, hits, facets, page, per_page, partial_words=partial)
    if q.strip() and result.total < 3:
        result.suggestions = did_you_mean(searcher, q)
    return result


def matching_listing_ids(session: Session, root: str, user: Any, q: str, filters: dict[str, Any] | None = None,
                         limit: int = 10_000) -> list[int]:
    """Return the ids of the visible listings matching q, best first (at most limit)."""
    searcher = _searcher(root)
    if searcher is None or not (q or "").strip():
        return []
    # The API filters states itself (its status parameter): archived ones are not dropped here.
    found = run_search(searcher, q, visibility_filter(session, user), dict(filters or {}, include_archived=True),
                       "relevance", limit)
    return [searcher.stored_fields(d)["obj_id"] for d, _sc in found.top]


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


SUGGEST_KINDS = ("listings", "organisations", "ozg")


def suggest(session: Session, root: str, user: Any, q: str, limit: int = 5,
            kinds: Sequence[str] = SUGGEST_KINDS) -> dict[str, list[dict[str, Any]]]:
    """Return autocomplete entries for listings, municipalities and OZG-Leistungen (those of kinds).

    Each kind is a Whoosh search of its own (100–200 ms for listings at 30,000): the browse
    page, which shows only the municipalities, asks for those alone.
    """
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
        if key not in kinds:
            continue
        flt = vis if kind == "listing" else Q.Term("doc_type", kind)
        # The bitmap engine ranks exactly as Whoosh does, with the term bitmaps cached.
        found = engine.run(searcher, base, [flt] if flt is not None else [], limit)
        for docnum, _score in found.top:
            hit = searcher.stored_fields(docnum)
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
