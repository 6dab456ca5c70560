"""The curated vocabulary of the search: synonyms, word forms, compound splitting (issue 16)."""

from __future__ import annotations

import pytest

from marktplatz.search import vocabulary
from marktplatz.search.analysis import german_analyzer, stem_key, terms


def test_synonym_table_has_150_groups_each_with_a_reason_and_a_version():
    version, groups = vocabulary.synonyms()
    assert version
    assert len(groups) >= 150
    for g in groups:
        assert len(g.terms) >= 2, g
        assert g.reason.strip(), g


def test_every_word_form_line_joins_forms_the_stemmer_alone_does_not_always_join():
    _version, lines = vocabulary.lemmas()
    assert len(lines) >= 30
    # The table is needed: at least the verb/noun pairs of the issue differ in their stems.
    for verb, noun in [("beantragen", "antrag"), ("zulassen", "zulassung"), ("ummelden", "ummeldung")]:
        assert (noun,) in vocabulary.alternatives((verb,)) or stem_key((verb,)) == stem_key((noun,))
    assert stem_key(("beantragen",)) != stem_key(("antrag",))


@pytest.mark.parametrize(("word", "means"), [
    ("kita", ("kindertagesstaette",)), ("muell", ("abfall",)), ("kfz", ("kraftfahrzeug",)),
    ("anwohner", ("bewohner",)), ("angelschein", ("fischereischein",)), ("hochzeit", ("eheschliessung",)),
    ("bauantrag", ("baugenehmigung",)), ("waffenschein", ("waffenerlaubnis",)),
    ("ummeldung", ("wohnsitz", "aenderung")),
])
def test_the_synonyms_the_issue_names_expand_the_query(word, means):
    assert means in vocabulary.alternatives((word,))


@pytest.mark.parametrize(("word", "parts"), [
    ("gewerbeanmeldung", ("gewerbe", "anmeldung")),
    ("hundemarke", ("hunde", "marke")),
    ("baugenehmigung", ("bau", "genehmigung")),
    ("anwohnerparken", ("anwohner", "parken")),
    ("wohnsitzaenderung", ("wohnsitz", "aenderung")),
])
def test_compounds_split_into_dictionary_words(word, parts):
    assert vocabulary.split_compound(word) == parts


@pytest.mark.parametrize("word", ["beantragen", "abmeldung", "verwaltung", "hund", "online"])
def test_plain_words_are_not_split(word):
    assert vocabulary.split_compound(word) == ()


def test_the_index_holds_a_compound_and_its_parts_but_a_hyphenated_word_only_once():
    assert {"gewerbeanmeld", "gewerb", "anmeld"} <= set(terms(german_analyzer(), "Gewerbeanmeldung"))
    tokens = [(t.text, t.pos) for t in german_analyzer()("Hundesteuer-Anmeldung online", positions=True)]
    # The joined form of a hyphenated word is not split again (phrases keep their meaning).
    assert [p for text, p in tokens if text == "anmeld"] == [1]


def test_stop_and_filler_words_are_optional():
    for word in ("fuer", "den", "beantragen", "online", "digital"):
        assert vocabulary.is_optional(word)
    assert not vocabulary.is_optional("hundesteuer")
