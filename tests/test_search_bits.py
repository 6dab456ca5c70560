"""The block-wise posting reader gives exactly the documents Whoosh's own matchers give.

engine.posting_bits reads Whoosh's posting blocks directly instead of walking `all_ids()`
(four Python calls per posting): the bitmaps of a broad query's terms were most of a
search at 100,000 listings. These tests hold it to Whoosh's answer, across many blocks,
with deleted documents and for the expanding terms (prefix, typo tolerance).
"""

from __future__ import annotations

import random

import pytest
from whoosh import index as windex
from whoosh import query as Q
from whoosh.fields import ID, NUMERIC, TEXT, Schema

from marktplatz.search import engine

WORDS = ["hund", "hunde", "hundesteuer", "steuer", "anmeldung", "kita", "kitaplatz", "parken", "muell", "wohnsitz"]


@pytest.fixture
def searcher(tmp_path):
    ix = windex.create_in(str(tmp_path), Schema(uid=ID(unique=True, stored=True), body=TEXT(),
                                                published_ts=NUMERIC(sortable=True)))
    rng = random.Random(3)
    w = ix.writer()
    for i in range(3000):  # "hund" alone lies in ~1,000 documents: many 128-posting blocks
        w.add_document(uid=str(i), body=" ".join(rng.sample(WORDS, 3)), published_ts=i)
    w.commit()
    w = ix.writer()
    for i in range(0, 3000, 7):  # deletions: the segment's postings still list these
        w.delete_by_term("uid", str(i))
    for i in range(3000, 3300):  # and a second segment
        w.add_document(uid=str(i), body=" ".join(rng.sample(WORDS, 2)), published_ts=i)
    w.commit(merge=False)
    s = ix.searcher()
    yield s
    s.close()


def _whoosh_bits(seg, q) -> int:
    m = q.matcher(seg.searcher)
    return engine.bits_of(m.all_ids(), seg.nbytes) if m.is_active() else 0


def test_term_bitmaps_equal_whooshs_matchers_in_every_segment(searcher):
    segs = engine.segments(searcher)
    assert len(segs) == 2
    assert any(seg.reader.has_deletions() for seg, _off in segs)
    for seg, _off in segs:
        for word in [*WORDS, "fehlt"]:
            q = Q.Term("body", word)
            fast = seg.term_bits("body", word)
            assert fast == _whoosh_bits(seg, q), word
            assert fast & ~seg.live == 0  # no deleted document
        assert seg.term_bits("nofield", "hund") == 0
    assert max(seg.term_bits("body", "hund").bit_count() for seg, _off in segs) > 300  # several blocks


def test_prefix_and_fuzzy_bitmaps_equal_whooshs_matchers(searcher):
    for seg, _off in engine.segments(searcher):
        for q in (engine.Prefix("body", "hun"), engine.Prefix("body", "kit"), engine.FuzzyTerm("body", "hunf"),
                  engine.FuzzyTerm("body", "stuer")):
            assert seg.bits(q) == _whoosh_bits(seg, q), q
        assert seg.bits(engine.Prefix("body", "hun")) != 0


def test_search_totals_are_whooshs(searcher):
    q = Q.Or([Q.Term("body", "hund"), engine.Prefix("body", "steu"), Q.And([Q.Term("body", "kita"), Q.Term("body", "parken")])])
    found = engine.run(searcher, q, [], 10)
    assert found.total == len(searcher.search(q, limit=None))


def _matcher_scores(seg, leaf, ids) -> dict[int, float]:
    """Whoosh's way: the term's matcher, skip_to each id, its score."""
    out = dict.fromkeys(ids, 0.0)
    m = leaf.matcher(seg.searcher, seg.searcher.context(needs_current=True))
    for d in ids:
        if m.is_active() and m.id() < d:
            m.skip_to(d)
        if m.is_active() and m.id() == d:
            out[d] += 2.5 * m.score()
    return out


@pytest.mark.parametrize("boost", [1.0, 3.0])
def test_term_scores_from_blocks_equal_whooshs_matcher_scores(searcher, boost):
    rng = random.Random(5)
    for seg, _off in engine.segments(searcher):
        for word in WORDS:
            leaf = Q.Term("body", word, boost=boost)
            matching = engine.ids_of(seg.term_bits("body", word))
            for ids in (matching, sorted(rng.sample(matching, min(40, len(matching)))), matching[-3:]):
                fast = dict.fromkeys(ids, 0.0)
                assert engine._add_term_scores(seg, leaf, 2.5, ids, fast)
                assert fast == _matcher_scores(seg, leaf, ids), word
                assert all(v > 0 for v in fast.values())


def test_ranking_equals_whooshs_scores(searcher):
    q = Q.And([Q.Term("body", "kita"), Q.Term("body", "parken"),
               Q.Or([Q.Term("body", "muell", boost=2.0), Q.Term("body", "hund")])])
    expected = {hit.docnum: hit.score for hit in searcher.search(q, limit=None)}
    assert 0 < len(expected) <= engine.SCORE_ALL  # all scored: the engine ranks exactly
    found = engine.run(searcher, q, [], len(expected))
    assert dict(found.top) == pytest.approx(expected)


def test_typo_expansions_are_shared_by_the_readers_of_one_segment(tmp_path):
    """Each request thread opens its own reader of a segment; a typo expanded by one is not
    expanded again by the next (FuzzyTerm walks the term dictionary in Python)."""
    ix = windex.create_in(str(tmp_path), Schema(uid=ID(unique=True, stored=True), body=TEXT()))
    w = ix.writer()
    for i, word in enumerate(WORDS):
        w.add_document(uid=str(i), body=word)
    w.commit()
    first, second = ix.searcher(), ix.searcher()
    try:
        r1, r2 = first.reader(), second.reader()
        assert r1 is not r2
        typo = engine.FuzzyTerm("body", "hunf")
        walked: list[int] = []
        original = Q.FuzzyTerm._btexts

        def counting(self, reader):
            walked.append(1)
            return original(self, reader)

        Q.FuzzyTerm._btexts = counting
        try:
            found = [typo._btexts(r1), typo._btexts(r2)]
            assert found[0] == found[1] and [t.decode() if isinstance(t, bytes) else t for t in found[0]] == ["hund"]
        finally:
            Q.FuzzyTerm._btexts = original
        assert len(walked) == 1  # the second reader found the first one's answer
        assert engine.reader_cache(r1, "x") is engine.reader_cache(r2, "x")
    finally:
        first.close()
        second.close()
