"""The Whoosh schema: one index holds listings, organisations and OZG-Leistungen."""

from __future__ import annotations

from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from .analysis import german_analyzer, ngram_analyzer, plain_analyzer


def build_schema() -> Schema:
    """Return the schema shared by every index generation."""
    de = german_analyzer()
    # Numbers are only matched exactly or sorted, never by range: one term each
    # (shift_step=0) instead of Whoosh's 16 range-tier terms.
    return Schema(
        uid=ID(unique=True, stored=True),  # "listing:12", "org:345", "ozg:10160"
        doc_type=ID(stored=True),  # listing | org | ozg
        obj_id=NUMERIC(stored=True, bits=64, shift_step=0),
        # Text, German-analysed; title weighs more (boosted in the query).
        title=TEXT(analyzer=de, stored=True, phrase=True),
        summary=TEXT(analyzer=de, stored=True, phrase=True),
        body=TEXT(analyzer=de, phrase=True),
        # Word 4-grams of title, tags and OZG names: "steuer" finds "Hundesteuer". Summary
        # and body are not n-grammed: that doubled the index and its build time.
        title_ng=TEXT(analyzer=ngram_analyzer(), phrase=False),
        spell=TEXT(analyzer=plain_analyzer(), phrase=False),
        # "Meinten Sie" draws only on words everyone may read: public listings, names.
        spell_public=TEXT(analyzer=plain_analyzer(), phrase=False),
        # Exact matches: OZG-ID, LeiKa key, AGS, organisation names, tags.
        codes=KEYWORD(lowercase=True, commas=True, scorable=True),
        tags=KEYWORD(lowercase=True, commas=True, scorable=True),
        org_exact=ID(),
        # The folded title, words joined by single spaces: a query that is exactly a title.
        title_exact=ID(),
        org_name=STORED(),
        detail=STORED(),
        parent=STORED(),  # a LeiKa-Leistung's OZG-ID
        # Visibility.
        status=ID(stored=True),
        visibility=ID(stored=True),
        # The visibility policy's labels (permissions/visibility.py): the filter asks for
        # the viewer's labels, so the index holds no visibility rule of its own.
        labels=KEYWORD(commas=True),
        organisation_id=NUMERIC(stored=True, bits=64, shift_step=0),
        # Facets (multi-valued ones are comma keywords).
        kind=ID(stored=True, sortable=True),
        land=ID(sortable=True),
        kreis=ID(sortable=True),  # the Kreisschlüssel (a Kreis's own listings too)
        network=KEYWORD(commas=True),
        themenfeld=KEYWORD(commas=True),
        phase=ID(sortable=True),
        reifegrad=ID(sortable=True),
        licence=ID(sortable=True),
        reuse_offered=ID(sortable=True),
        # Sorting.
        published_ts=NUMERIC(sortable=True, bits=64, shift_step=0),
        reuse_count=NUMERIC(sortable=True, stored=True, shift_step=0),
        # Ranking bonus in percent (search/ranking.py); may be negative.
        rank_prior=NUMERIC(sortable=True, signed=True, shift_step=0),
    )
