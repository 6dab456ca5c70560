"""Fast query evaluation on top of Whoosh: cached bitmaps, one-pass facets, bounded scoring.

Whoosh scores and groups every matching document in Python, which costs about a second per
query at 100,000 listings. This module keeps, per index segment, the documents of each
filter clause, query term and facet value as a Python int used as a bitmap (bit n = local
document n). Counting hits and facets is then a few C-speed AND + bit_count operations;
only the first page needs Whoosh's scorer:

* a result set of at most ``SCORE_ALL`` documents is scored completely (exactly the old
  ranking);
* a larger one is narrowed to the strongest tier of clauses (title/code match before
  fuzzy, n-gram, summary and body matches) holding at least ``SCORE_ALL`` documents, and
  if that tier is still larger, to its newest ``SCORE_ALL`` documents; only those are
  scored. Total and facet counts always cover the whole result set exactly.

The caches live on Whoosh's segment readers, which survive ``searcher.refresh()`` for
unchanged segments, so a write only costs the rebuilding of the small new segment's bitmaps.
"""

from __future__ import annotations

import heapq
import itertools
import re
import threading
import weakref
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from whoosh import query as Q
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.scoring import WeightLengthScorer

from . import storage

storage.install()  # segments are read from their memory map, not copied per reader

# Bounds of query expansion: no query reads more than MAX_QUERY_TERMS index terms.
MIN_PREFIX = 3  # letters a word needs before autocomplete expands it as a prefix
MAX_EXPANSION = 50  # index terms one prefix expands to (per field)
MAX_FUZZY = 16  # index terms one fuzzy term ("Meinten Sie", typo tolerance) expands to
MAX_QUERY_WORDS = 8  # words of a query that are searched (the rest are ignored)
MAX_WORD_CHARS = 40  # letters of a word that are searched
MAX_GRAMS = 12  # n-grams of one word that are matched (compound parts)
MAX_WORD_TERMS = 4  # stems (or compound parts) of one word that are searched
# Index terms a whole query may stand for (the words beyond this budget are ignored);
# query.build_query counts a prefix as MAX_EXPANSION and a fuzzy term as MAX_FUZZY terms.
MAX_QUERY_TERMS = 400
SCORE_ALL = 150  # most documents scored per query (scoring costs ~0.2 ms per document)
_DENSE = 8  # walk the presorted order when at least 1/_DENSE of a segment matches
_LRU = 1024  # cached query-node bitmaps per segment
_ATTR = "_marktplatz_bits"
_ONE = re.compile("1")


def ids_of(bits: int) -> list[int]:
    """Return the positions of the set bits, ascending."""
    if not bits:
        return []
    return [m.start() for m in _ONE.finditer(bin(bits)[:1:-1])]


def bits_of(ids: Iterable[int], nbytes: int) -> int:
    """Return the bitmap with the given positions set."""
    buf = bytearray(nbytes)
    for d in ids:
        buf[d >> 3] |= 1 << (d & 7)
    return int.from_bytes(buf, "little")


def block_ids(m: W3LeafMatcher) -> tuple[int, ...]:
    """Return the document ids of the matcher's current posting block.

    Whoosh's `_read_ids` decodes the stored gaps with a Python generator, one step per id;
    `itertools.accumulate` does the same sum in C.
    """
    if m._ids is None:
        if m._data is None:
            m._read_data()
        raw = m._data[0]
        m._ids = raw if m._byteids else tuple(itertools.accumulate(raw))
    return m._ids


def term_postings(reader: Any, fieldname: str, text: str | bytes) -> tuple[bytes, Any] | None:
    """Return (the term's bytes, a fresh matcher of its postings) in a segment reader, or None
    when the field or the term is not there.

    The matcher lists deleted documents too (Whoosh's deletion filter is taken off): the
    callers restrict to live documents themselves.
    """
    if fieldname not in reader.schema:
        return None
    try:
        btext = text if isinstance(text, bytes) else reader.schema[fieldname].to_bytes(text)
    except ValueError:  # e.g. a word in a numeric field
        return None
    if (fieldname, btext) not in reader:
        return None
    m = reader.postings(fieldname, btext)
    return btext, m.child if type(m) is FilterMatcher else m


def posting_bits(m: Any, nbytes: int) -> int:
    """Return the bitmap of a fresh matcher's documents.

    A posting list of Whoosh's own format is read a block (up to 128 ids) at a time:
    `all_ids()` costs four Python calls per document, which made the bitmaps of a broad
    query's terms (tens of thousands of postings each) the largest part of a search.
    """
    if type(m) is not W3LeafMatcher:
        return bits_of(m.all_ids(), nbytes) if m.is_active() else 0
    buf = bytearray(nbytes)
    while m.is_active():
        ids = block_ids(m)
        for d in ids[m._i:] if m._i else ids:
            buf[d >> 3] |= 1 << (d & 7)
        m._next_block()
    return int.from_bytes(buf, "little")


class _Shared:
    """The cached bitmaps and sort keys of one segment, shared by every reader of it.

    Each gunicorn thread has its own searcher (Whoosh readers are not thread-safe), but the
    caches are plain data: sharing them saves one copy per thread and the warm-up.
    """

    def __init__(self, reader: Any) -> None:
        self.nbytes = (reader.doc_count_all() + 7) // 8
        self.live = bits_of(reader.all_doc_ids(), self.nbytes)
        self.nodes: OrderedDict[Any, int] = OrderedDict()
        self.facets: dict[str, dict[str, int]] = {}
        self.keys: dict[str, list[Any]] = {}
        self.orders: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        self.extras: dict[str, dict[Any, Any]] = {}  # reader_cache(): e.g. typo expansions


_shared: weakref.WeakValueDictionary[tuple[Any, ...], _Shared] = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def _shared_for(reader: Any) -> _Shared:
    """Return the shared cache of reader's segment (same segment and deletions: same cache)."""
    try:
        # Segments are immutable but for deletions, which only grow within one index folder,
        # so the counts see them there. The folder is part of the key: a copied index holds
        # segments with the same ids whose deletions differ (test indexes, restored backups).
        storage = getattr(reader, "_storage", None)
        storage = getattr(storage, "b", storage)  # a compound segment overlays the folder's storage
        folder = getattr(storage, "folder", None)
        key: tuple[Any, ...] | None = (folder, reader.segment().segment_id(), reader.doc_count_all(),
                                       reader.doc_count())
    except Exception:  # noqa: BLE001 - not a plain segment reader: keep a private cache
        key = None
    if key is None:
        return _Shared(reader)
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            found = _Shared(reader)
            _shared[key] = found
        return found


def _segment_shared(reader: Any) -> _Shared | None:
    """Return the shared cache of a single segment's reader (kept alive by the reader), else None."""
    found = getattr(reader, "_marktplatz_shared", None)
    if found is not None:
        return found
    try:
        if not reader.is_atomic():
            return None
        reader.segment()
    except Exception:  # noqa: BLE001 - not a plain segment reader
        return None
    shared = _shared_for(reader)
    try:
        reader._marktplatz_shared = shared
    except AttributeError:
        return None
    return shared


class _Segment:
    """Cached bitmaps and sort keys of one segment reader."""

    def __init__(self, leaf: Any) -> None:
        reader = leaf.reader()
        self.searcher = leaf
        self.reader = reader
        self.live_count = reader.doc_count()
        shared = _shared_for(reader)
        self.shared = shared  # keeps the weakly held shared cache alive while this reader is
        self.nbytes = shared.nbytes
        self.live = shared.live
        self.nodes = shared.nodes
        self.facets = shared.facets
        self.keys = shared.keys
        self.orders = shared.orders
        self.lock = shared.lock

    # ---------------------------------------------------------------- query nodes

    def bits(self, q: Q.Query) -> int:
        """Return the bitmap of the documents of this segment matching q."""
        if q is Q.NullQuery or isinstance(q, Q.NullQuery.__class__):
            return 0
        if isinstance(q, Q.Every):
            return self.live
        try:
            hash(q)
            key: Any = q
        except TypeError:
            key = None
        if key is not None:
            with self.lock:
                found = self.nodes.get(key)
                if found is not None:
                    self.nodes.move_to_end(key)
                    return found
        kind = type(q)
        if kind is Q.AndMaybe:  # the optional side only adds to the score
            out = self.bits(q.a)
        elif kind is Q.And or kind is PartMatch:
            out = self.live
            for sub in q.subqueries:
                out &= self.bits(sub)
                if not out:
                    break
        elif kind is Q.Or and not getattr(q, "minmatch", 0):
            out = 0
            for sub in q.subqueries:
                out |= self.bits(sub)
        elif kind is Q.Term:
            out = self.term_bits(q.fieldname, q.text)
        elif kind is Prefix or kind is FuzzyTerm:
            out = 0
            for btext in q._btexts(self.reader):
                out |= self.term_bits(q.fieldname, btext)
        else:
            m = q.matcher(self.searcher)
            out = bits_of(m.all_ids(), self.nbytes) if m.is_active() else 0
        if key is not None:
            with self.lock:
                self.nodes[key] = out
                if len(self.nodes) > _LRU:
                    self.nodes.popitem(last=False)
        return out

    def term_bits(self, fieldname: str, text: str | bytes) -> int:
        """Return the bitmap of the live documents holding one term (text or its bytes)."""
        found = term_postings(self.reader, fieldname, text)
        return posting_bits(found[1], self.nbytes) & self.live if found else 0

    # ---------------------------------------------------------------- facets

    def facet(self, name: str) -> dict[str, int]:
        """Return value -> bitmap of one facet field."""
        found = self.facets.get(name)
        if found is not None:
            return found
        out: dict[str, int] = {}
        reader = self.reader
        if name in reader.schema:
            for raw in reader.lexicon(name):
                value = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                if value == "":
                    continue
                bits = bits_of(reader.postings(name, raw).all_ids(), self.nbytes)
                if bits:
                    out[value] = bits
        self.facets[name] = out
        return out

    # ---------------------------------------------------------------- sorting

    def key_list(self, fields: tuple[str, ...]) -> list[Any]:
        """Return the per-document sort key (tuple of column values) for fields."""
        name = ",".join(fields)
        found = self.keys.get(name)
        if found is not None:
            return found
        cols = []
        for f in fields:
            if self.reader.has_column(f):
                cols.append(list(self.reader.column_reader(f)))
            else:
                cols.append([0] * (self.nbytes * 8))
        keys = list(zip(*cols, strict=True)) if len(cols) > 1 else cols[0]
        self.keys[name] = keys
        return keys

    def order(self, fields: tuple[str, ...]) -> list[int]:
        """Return the local docnums sorted by key descending, then docnum ascending."""
        name = ",".join(fields)
        found = self.orders.get(name)
        if found is not None:
            return found
        keys = self.key_list(fields)
        order = sorted(range(len(keys)), key=lambda d: keys[d], reverse=True)
        # sorted(reverse=True) keeps equal keys in original (ascending docnum) order.
        self.orders[name] = order
        return order

    def top_by_key(self, bits: int, k: int, fields: tuple[str, ...]) -> list[int]:
        """Return up to k local docnums of bits with the largest keys."""
        count = bits.bit_count()
        if not count:
            return []
        if count * _DENSE >= self.live_count:
            packed = bits.to_bytes(self.nbytes, "little")
            out = []
            for d in self.order(fields):
                if packed[d >> 3] >> (d & 7) & 1:
                    out.append(d)
                    if len(out) >= k:
                        break
            return out
        keys = self.key_list(fields)
        ids = ids_of(bits)
        if k >= len(ids):
            return sorted(ids, key=lambda d: (_neg(keys[d]), d))
        return heapq.nsmallest(k, ids, key=lambda d: (_neg(keys[d]), d))


def _neg(key: Any) -> Any:
    return tuple(-x for x in key) if isinstance(key, tuple) else -key


def _segment(leaf: Any) -> _Segment:
    reader = leaf.reader()
    seg = getattr(reader, _ATTR, None)
    if seg is None or seg.live_count != reader.doc_count():
        seg = _Segment(leaf)
        setattr(reader, _ATTR, seg)
    seg.searcher = leaf
    return seg


def segments(searcher: Any) -> list[tuple[_Segment, int]]:
    """Return (segment cache, docnum offset) for every segment of searcher."""
    return [(_segment(leaf), offset) for leaf, offset in searcher.leaf_searchers()]


class PartMatch(Q.And):
    """All n-grams of one word in an n-gram field: a compound part ("steuer" in "Hundesteuer").

    Whoosh treats it as the And it is. The engine scores it without walking the n-gram
    posting lists (long for common grams): the n-gram analyzer emits every gram at most once
    per document, so each gram's BM25F term frequency is 1 and the And's score is
    sum(idf of the grams) x the length factor of the document's field, exactly.
    """


def reader_cache(reader: Any, name: str) -> dict[Any, Any]:
    """Return a dict of answers that depend only on reader's index data; cleared at 4,096 entries.

    For the reader of one segment it is the segment's shared cache: every request thread
    has its own reader of the same segment, and with a cache per reader each of a worker's
    threads expanded every typo again. For other readers (several segments) it is kept on
    the reader: a new one after a write starts afresh.
    """
    shared = _segment_shared(reader)
    if shared is not None:
        cache = shared.extras.setdefault(name, {})
    else:
        cache = getattr(reader, name, None)
        if cache is None:
            cache = {}
            try:
                setattr(reader, name, cache)
            except AttributeError:  # a reader without attributes: the cache lives for this call
                pass
    if len(cache) > 4096:
        cache.clear()
    return cache


class FuzzyTerm(Q.FuzzyTerm):
    """Whoosh's FuzzyTerm with the term expansion capped at MAX_FUZZY and cached per reader.

    Expanding a typo walks the term dictionary in Python (tens of ms per field on a large
    index); the same words are searched again and again, so each reader remembers them.
    """

    def _btexts(self, ixreader: Any) -> list[bytes]:
        cache = reader_cache(ixreader, "_marktplatz_fuzzy")
        key = (self.fieldname, self.text, self.maxdist, self.prefixlength)
        found = cache.get(key)
        if found is None:
            found = cache[key] = list(itertools.islice(super()._btexts(ixreader), MAX_FUZZY))
        return found


class Prefix(Q.Prefix):
    """Whoosh's Prefix, expanded to at most MAX_EXPANSION terms (the first in term order).

    An empty or short prefix would otherwise stand for every term of the field: "0" in
    the codes field is 17,000 AGS, ARS and postcodes, several seconds of matching.
    """

    def _btexts(self, ixreader: Any) -> list[bytes]:
        if len(self.text) < MIN_PREFIX or self.text.isdigit():  # too short, or a code: exact only
            btext = ixreader.schema[self.fieldname].to_bytes(self.text) if self.text else b""
            return [btext] if btext and (self.fieldname, btext) in ixreader else []
        return list(itertools.islice(super()._btexts(ixreader), MAX_EXPANSION))

    def matcher(self, searcher: Any, context: Any = None) -> Any:  # noqa: D102
        return Q.PatternQuery.matcher(self, searcher, context)  # never Every() for ""


def term_cost(q: Q.Query) -> int:
    """Return the most index terms q can stand for (prefixes and fuzzy terms at their caps)."""
    if isinstance(q, FuzzyTerm):
        return MAX_FUZZY
    if isinstance(q, Prefix):
        return MAX_EXPANSION
    if isinstance(q, Q.MultiTerm):
        raise TypeError(f"unbounded query {q!r}: use engine.Prefix or engine.FuzzyTerm")
    if isinstance(q, Q.Phrase):
        return len(q.words)
    if isinstance(q, Q.CompoundQuery):
        return sum(term_cost(sub) for sub in q.subqueries)
    return 1


# --------------------------------------------------------------------------- tiers


def _leaf_boosts(q: Q.Query, mult: float, out: set[float]) -> None:
    if type(q) is Q.AndMaybe:  # optional words do not make a tier
        _leaf_boosts(q.a, mult, out)
        return
    eff = mult * q.boost
    if type(q) is Q.Or or (type(q) is Q.And and any(type(c) is Q.Or for c in q.subqueries)):
        for c in q.subqueries:
            _leaf_boosts(c, eff, out)
    else:
        out.add(eff)


def _tier(q: Q.Query, b: float, mult: float = 1.0) -> Q.Query | None:
    """Return the part of q made of clauses with an effective boost of at least b."""
    if type(q) is Q.AndMaybe:
        return _tier(q.a, b, mult)
    eff = mult * q.boost
    if type(q) is Q.Or:
        subs = [s for s in (_tier(c, b, eff) for c in q.subqueries) if s is not None]
        return Q.Or(subs) if subs else None
    if type(q) is Q.And and any(type(c) is Q.Or for c in q.subqueries):
        subs = [_tier(c, b, eff) for c in q.subqueries]
        return None if any(s is None for s in subs) else Q.And(subs)
    return q if eff >= b else None


# --------------------------------------------------------------------------- search


@dataclass
class Found:
    """Result of run(): exact total and facet counts, the top k (global docnum, score)."""

    total: int
    top: list[tuple[int, float]]
    facets: dict[str, dict[str, int]]


def run(searcher: Any, query: Q.Query, filters: Sequence[Q.Query], k: int, facets: Sequence[str] = (),
        sort: tuple[str, ...] | None = None, newest: tuple[str, ...] = ("published_ts",),
        prior: str | None = None, facet_filters: Mapping[str, Q.Query] | None = None) -> Found:
    """Match query within all filters; count facets; return the top k by score or by sort.

    facet_filters holds the choices made in facets (facet name: its filter). They restrict
    the result like filters, but each facet is counted without its own choice: the options
    of a multi-choice facet keep their counts after one is chosen (OR within a facet, AND
    across facets).

    prior names a numeric column holding a per-document bonus in percent: a document's
    text score is multiplied by (1 + bonus / 100) (search/ranking.py). Without it the
    scores are exactly Whoosh's.
    """
    chosen = dict(facet_filters or {})
    segs = segments(searcher)
    base: list[int] = []  # query and filters, before the facet choices
    for seg, _off in segs:
        bits = seg.bits(query) if query is not None else seg.live
        for f in filters:
            if not bits:
                break
            bits &= seg.bits(f)
        base.append(bits)

    def narrowed(bits: int, seg: _Segment, skip: str | None = None) -> int:
        for name, f in chosen.items():
            if not bits:
                break
            if name != skip:
                bits &= seg.bits(f)
        return bits

    matched = [narrowed(bits, seg) for (seg, _off), bits in zip(segs, base, strict=True)]
    total = sum(b.bit_count() for b in matched)
    counts: dict[str, dict[str, int]] = {}
    for name in facets:
        within = matched if name not in chosen else [
            narrowed(bits, seg, skip=name) for (seg, _off), bits in zip(segs, base, strict=True)]
        acc: dict[str, int] = {}
        for (seg, _off), bits in zip(segs, within, strict=True):
            if not bits:
                continue
            for value, vbits in seg.facet(name).items():
                n = (bits & vbits).bit_count()
                if n:
                    acc[value] = acc.get(value, 0) + n
        counts[name] = acc
    if not total or k <= 0:
        return Found(total, [], counts)
    if sort is not None:
        cands = []
        for (seg, off), bits in zip(segs, matched, strict=True):
            keys = seg.key_list(sort)
            cands.extend((_neg(keys[d]), d + off) for d in seg.top_by_key(bits, k, sort))
        cands.sort()
        return Found(total, [(d, 0.0) for _key, d in cands[:k]], counts)
    return Found(total, _score(searcher, segs, query, matched, total, max(k, 1), newest, prior), counts)


def _score(searcher: Any, segs: list[tuple[_Segment, int]], query: Q.Query, matched: list[int], total: int,
           k: int, newest: tuple[str, ...], prior: str | None = None) -> list[tuple[int, float]]:
    """Return the top k as (global docnum, score) in one order that does not depend on k.

    A result set of at most SCORE_ALL documents is ranked by score. A larger one is ranked
    as: the scored candidates of its strongest tier (see the module docstring) by score,
    then every other match by newest. Because that order is fixed for a given index, paging
    through a broad result set neither repeats nor skips a document.
    """
    cap = SCORE_ALL
    cands = matched
    if total > cap:
        boosts: set[float] = set()
        _leaf_boosts(query, 1.0, boosts)
        for b in sorted(boosts, reverse=True):
            part = _tier(query, b)
            if part is None:
                continue
            tier = [bits & seg.bits(part) for (seg, _off), bits in zip(segs, matched, strict=True)]
            if sum(t.bit_count() for t in tier) >= cap:
                cands = tier
                break
    narrowed = sum(c.bit_count() for c in cands) > cap
    head_bits: list[int] = []
    scored: list[tuple[float, int]] = []
    leaves = _leaves(query)
    for (seg, off), bits in zip(segs, cands, strict=True):
        if not bits:
            head_bits.append(0)
            continue
        ids = sorted(seg.top_by_key(bits, cap, newest)) if narrowed else ids_of(bits)
        mine = bits_of(ids, seg.nbytes) if ids else 0
        head_bits.append(mine)
        scores = dict.fromkeys(ids, 0.0)
        gate_bits: dict[int, int] = {}  # hashing a large And again for every leaf is slow
        for leaf, mult, gates in leaves:
            hit = mine & seg.bits(leaf)
            for gate in gates:
                if not hit:
                    break
                gb = gate_bits.get(id(gate))
                if gb is None:
                    gb = gate_bits[id(gate)] = seg.bits(gate)
                hit &= gb
            if hit:
                _add_scores(seg, leaf, mult, ids_of(hit), scores)
        if prior is not None and seg.reader.has_column(prior):
            bonus = seg.key_list((prior,))
            for d in scores:
                scores[d] *= 1.0 + bonus[d] / 100.0
        scored.extend((-sc, d + off) for d, sc in scores.items())
    head = [(d, -sc) for sc, d in sorted(scored)]
    if len(head) >= k or total <= len(head):
        return head[:k]
    # The rest of the matches (beyond the scored head) follow by newest, deterministically.
    want = k - len(head)
    tail: list[tuple[Any, int]] = []
    for (seg, off), bits, hb in zip(segs, matched, head_bits, strict=True):
        rest = bits & ~hb
        if rest:
            keys = seg.key_list(newest)
            tail.extend((_neg(keys[d]), d + off) for d in seg.top_by_key(rest, want, newest))
    tail.sort()
    return head + [(d, 0.0) for _key, d in tail[:want]]


# --------------------------------------------------------------------------- scoring


def _leaves(q: Q.Query, mult: float = 1.0, gates: tuple[Q.Query, ...] = ()) -> list[tuple[Q.Query, float, tuple[Q.Query, ...]]]:
    """Flatten q into (leaf, boost of its ancestors, And ancestors that must match too).

    Whoosh scores an Or as the sum of its matching children and a matching And as the sum
    of all its children; a compound's boost multiplies (except with a single child, which
    Whoosh uses directly). So a document's score is the sum, over the leaves it matches
    whose And ancestors it matches as well, of leaf score x ancestor boosts: the same score
    as the union/intersection matcher tree, without driving that whole tree per document.
    """
    kind = type(q)
    if kind is Q.AndMaybe:  # Whoosh adds b's score where b matches too, without a boost
        return _leaves(q.a, mult, gates) + _leaves(q.b, mult, gates + (q.a,))
    if kind in (Q.Or, Q.And) and not getattr(q, "minmatch", 0) and not getattr(q, "scale", None):
        subs = q.subqueries
        eff = mult if len(subs) == 1 else mult * q.boost
        inner = gates + (q,) if kind is Q.And and len(subs) > 1 else gates
        out: list[tuple[Q.Query, float, tuple[Q.Query, ...]]] = []
        for sub in subs:
            out.extend(_leaves(sub, eff, inner))
        return out
    return [(q, mult, gates)]


def _add_scores(seg: _Segment, leaf: Q.Query, mult: float, ids: list[int], scores: dict[int, float]) -> None:
    """Add leaf's score (times mult) for each local docnum in ids, all of which it matches."""
    if type(leaf) is PartMatch:
        _add_part_scores(seg, leaf, mult, ids, scores)
        return
    if type(leaf) is Q.Term and _add_term_scores(seg, leaf, mult, ids, scores):
        return
    m = leaf.matcher(seg.searcher, seg.searcher.context(needs_current=True))
    for d in ids:
        if not m.is_active():
            return
        if m.id() < d:
            m.skip_to(d)
            if not m.is_active():
                return
        if m.id() == d:
            scores[d] += mult * m.score()


def _add_term_scores(seg: _Segment, leaf: Q.Term, mult: float, ids: list[int], scores: dict[int, float]) -> bool:
    """Add a Term's score for ids (ascending, all matching it) from its posting blocks.

    The same arithmetic as Whoosh's matcher (`WrappingMatcher(boost)` around the term's
    scorer), but the posting list is read block by block: the block of each id is found by
    its largest id and the id by bisection, instead of `skip_to` stepping posting by
    posting. Returns False (nothing added) where this does not apply, for the matcher.
    """
    found = term_postings(seg.reader, leaf.fieldname, leaf.text)
    if found is None:
        return True  # no posting: nothing to add, as the matcher would
    btext, m = found  # deleted documents do not matter: ids holds live ones only
    if type(m) is not W3LeafMatcher:
        return False
    searcher = seg.searcher
    scorer = searcher.weighting.scorer(searcher, leaf.fieldname, btext)
    if not isinstance(scorer, WeightLengthScorer) or not hasattr(scorer, "dfl"):
        return False
    boost = leaf.boost
    score, dfl = scorer._score, scorer.dfl
    j, n = 0, len(ids)
    while j < n and m.is_active():
        if m._maxid < ids[j]:
            m._next_block()
            continue
        block = block_ids(m)
        weights = None
        lo, top = 0, m._maxid
        while j < n and ids[j] <= top:
            d = ids[j]
            k = bisect_left(block, d, lo)
            if k < len(block) and block[k] == d:
                if weights is None:
                    m._read_weights()
                    weights = m._weights
                s = score(weights[k], dfl(d))
                if boost != 1.0:
                    s = s * boost
                scores[d] += mult * s
            lo = k
            j += 1
        m._next_block()
    return True


def _add_part_scores(seg: _Segment, leaf: PartMatch, mult: float, ids: list[int], scores: dict[int, float]) -> None:
    """Add a PartMatch's BM25F score (term frequency 1 per gram, see PartMatch) for ids."""
    searcher = seg.searcher
    scorers = []
    for term in leaf.subqueries:
        if type(term) is not Q.Term or not searcher.schema[term.fieldname].scorable:
            # Not the shape query building makes: fall back to the matcher.
            m = Q.And(leaf.subqueries, boost=leaf.boost).matcher(searcher, searcher.context(needs_current=True))
            for d in ids:
                if m.is_active() and m.id() < d:
                    m.skip_to(d)
                if m.is_active() and m.id() == d:
                    scores[d] += mult * m.score()
            return
        scorers.append(searcher.weighting.scorer(searcher, term.fieldname, term.text))
    if not scorers:
        return
    boost = leaf.boost if len(scorers) > 1 else 1.0  # Whoosh drops a one-child And's boost
    dfl = scorers[0].dfl
    for d in ids:
        length = dfl(d)
        scores[d] += mult * boost * sum(sc._score(1.0, length) for sc in scorers)
