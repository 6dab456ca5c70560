"""No cheap request stalls the site: every query expansion is bounded, search is rate-limited.

The bounds are asserted, not times: how many index terms a hostile query expands to in
the reference-data index (11,000 municipalities with AGS, ARS and postcodes).
"""

from __future__ import annotations

import pytest

from marktplatz import search
from marktplatz.search import engine

HOSTILE = [
    "a 0", "0", "00", "0 0", "1", "e 1", "*", "a*", "*a*", "0*", "?", "s*e*r",
    " OR ".join("abcdefghijklmnopqrstuvwxyz"),
    " ".join(f"wort{i}" for i in range(60)),
    " | ".join(str(i) for i in range(40)),
    "(" * 40 + "a" + ")" * 40,
    "((a OR b) AND (c OR (d AND (e OR f))))" * 4,
    "x" * 200, "hundesteuer" * 18, "0" * 200, "ab" * 100 + " c", "Hundesteuerbescheidantragsformular",
    "مرحبا بالعالم", "שלום עולם", "\u202eevil\u202c test",
    "🐕🐕🐕", "🐕 a", "👩‍👩‍👧‍👦" * 20,
    "Frei", "Fr", "Be", "0831", "08311000", "083110000000", "79098", "99102013000000", "10160",
]


@pytest.mark.sqlite_only
def test_suggest_expansion_is_bounded(app):
    """Autocomplete of a one-character or digit last word does not expand over every AGS, ARS
    and postcode ("a 0" used to cost 6-10 s)."""
    counts = {q: search.query_expansion(q, "suggest") for q in HOSTILE}
    over = {q[:30]: n for q, n in counts.items() if n > engine.MAX_QUERY_TERMS}
    assert not over, over


@pytest.mark.sqlite_only
def test_search_expansion_is_bounded(app):
    """The browse page's and the API's q= stays within the term budget, however many words;
    "Meinten Sie" compares at most MAX_FUZZY indexed words for each searched word."""
    counts = {q: search.query_expansion(q, "search") for q in HOSTILE}
    over = {q[:30]: n for q, n in counts.items() if n > engine.MAX_QUERY_TERMS}
    assert not over, over
    typos = " ".join(f"Gemeinde{i}x" for i in range(30)) + " Freiburk Mannhein Bergn Stuttgar"
    for q in HOSTILE + [typos]:
        assert search.query_expansion(q, "spell") <= engine.MAX_FUZZY * engine.MAX_QUERY_WORDS, q


@pytest.mark.sqlite_only
def test_digit_words_are_exact(app):
    """A digit word shorter than a full key is never expanded as a prefix: "0831" looks up
    the code 0831 only, not the AGS, ARS and postcodes starting with it."""
    for q in ("0", "08", "0831", "083115", "7909", "a 0831"):
        assert search.query_expansion(q, "suggest") <= 40, q


@pytest.mark.sqlite_only
def test_short_prefixes_are_not_expanded(app):
    """A last word shorter than MIN_PREFIX letters is matched exactly, not as a prefix."""
    assert search.query_expansion("a", "suggest") <= 40
    assert search.query_expansion("Kita a", "suggest") <= 80


@pytest.mark.sqlite_only
@pytest.mark.parametrize("url", ["/suche/vorschlaege?q=Freib", "/eintraege?q=Freiburg", "/api/v1/listings?q=Freiburg"])
def test_search_is_rate_limited_per_client(app, client, url):
    """Past SEARCH_RATELIMIT search and autocomplete answer 429; another client still gets through."""
    key = "SUGGEST_RATELIMIT" if "vorschlaege" in url else "SEARCH_RATELIMIT"
    app.config[key] = "3/minute"
    codes = [client.get(url).status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429, codes
    other = client.get(url, environ_overrides={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200
    # Pages without a search term are not counted against the search limit.
    plain = url.split("?")[0] if "vorschlaege" not in url else "/eintraege"
    assert client.get(plain).status_code == 200
