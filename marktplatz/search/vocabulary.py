"""The search's vocabulary of administrative German: synonyms, word forms, fillers, compounds.

Three curated tables ship in ``marktplatz/data/search/``:

* ``synonyms.csv``: groups of equivalent terms (Kita | Kindertagesstätte | Kindergarten),
  each with its source or reason;
* ``lemmas.csv``: the verb and noun forms of one administrative lemma (beantragen | Antrag);
* the compound dictionary: every word of the shipped OZG and LeiKa catalogue (5,249
  LeiKa-Leistungen), the words of the two tables above and ``compound_parts.txt``.

Synonyms and word forms expand the *query* (query.py), never the index, so a changed table
takes effect without a rebuild. Compounds are split on both sides ("Gewerbeanmeldung" is
"gewerbe" + "anmeldung"), from a dictionary that depends only on shipped files, so the index
and the query always split alike. Splitting the index's words lets "Anmeldung" find
"Gewerbeanmeldung"; splitting the query's words lets "Gewerbeanmeldung" find "Gewerbe
anmelden".
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import os
from dataclasses import dataclass

from .analysis import WORD_RE, fold

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
SEARCH_DATA = os.path.join(DATA, "search")

# Words that never make a query fail: German function words and the filler verbs and
# adjectives people add to what they look for ("Baugenehmigung beantragen", "Hundesteuer
# online"). They still rank: a listing that has them comes first. Folded spelling.
STOP_WORDS = frozenset(
    "der die das den dem des ein eine einer eines einem einen und oder aber in im ins an am "
    "auf aus bei mit nach von vom zu zum zur fuer ueber unter ist sind wird werden wir sie es "
    "er ich du ihr sich nicht auch als wie so dass noch nur schon wo was wer wie kann ich mein "
    "meine meinen mich mir unser unsere fuers gibt es".split()
)
FILLER_WORDS = frozenset(
    "beantragen beantragung antrag antraege online digital digitale digitaler digitales "
    "elektronisch elektronische elektronischer internet web formular formulare service "
    "services portal stellen machen erledigen bekommen erhalten holen wie wo neu neue "
    "kommune kommunen stadt gemeinde verwaltung amt buerger buergerin buergerinnen finden "
    "suchen gesucht".split()
)
OPTIONAL_WORDS = STOP_WORDS | FILLER_WORDS

# Linking elements between the parts of a German compound (Fugenelemente): Hund-e-steuer,
# Wohnung-s-suche, Kind-er-garten.
_LINKS = ("", "s", "es", "e", "n", "en", "er")
MIN_PART = 4  # letters of a compound part (shorter ones only from SHORT_PARTS)
SHORT_PARTS = frozenset({"bau", "amt", "kfz", "rat", "weg", "see", "tag", "hof", "rad", "not", "zoo"})
MIN_COMPOUND = 7  # letters a word needs before it is split


@dataclass(frozen=True)
class Entry:
    """One line of a vocabulary table: its terms (each a tuple of folded words) and reason."""

    terms: tuple[tuple[str, ...], ...]
    reason: str
    line: int


def _rows(name: str) -> tuple[str, list[tuple[int, list[str]]]]:
    """Return the version and the (line number, fields) rows of a table in SEARCH_DATA."""
    version = ""
    rows: list[tuple[int, list[str]]] = []
    with open(os.path.join(SEARCH_DATA, name), encoding="utf-8") as fh:
        header_seen = False
        for number, line in enumerate(fh, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = [f.strip() for f in line.split(";", 1)]
            if fields[0] == "version":
                version = fields[1] if len(fields) > 1 else ""
                continue
            if not header_seen:
                header_seen = True
                continue
            rows.append((number, fields))
    return version, rows


def _words(term: str) -> tuple[str, ...]:
    return tuple(WORD_RE.findall(fold(term)))


def _entries(name: str) -> tuple[str, list[Entry]]:
    version, rows = _rows(name)
    out = []
    for number, fields in rows:
        if name == "lemmas.csv":  # lemma;forms
            terms = [fields[0], *fields[1].split("|")] if len(fields) > 1 else [fields[0]]
            reason = "Wortform"
        else:  # terms;reason
            terms = fields[0].split("|")
            reason = fields[1] if len(fields) > 1 else ""
        words = tuple(dict.fromkeys(w for w in (_words(t) for t in terms) if w))
        out.append(Entry(words, reason, number))
    return version, out


@functools.cache
def synonyms() -> tuple[str, list[Entry]]:
    """Return the version and the groups of the synonym table."""
    return _entries("synonyms.csv")


@functools.cache
def lemmas() -> tuple[str, list[Entry]]:
    """Return the version and the lines of the word-form table."""
    return _entries("lemmas.csv")


def version() -> str:
    """Return the combined version of the vocabulary tables (shown by `marktplatz search status`)."""
    return f"synonyms {synonyms()[0]}, lemmas {lemmas()[0]}"


# --------------------------------------------------------------------------- compounds


def _catalogue_words() -> set[str]:
    words: set[str] = set()
    for name, columns in (("ozg_leistungen.csv.gz", ("ozg_leistung", "lebenslage", "themenfeld")),
                          ("leika_leistungen_ozg.csv.gz", ("leistung",))):
        path = os.path.join(DATA, name)
        if not os.path.exists(path):
            continue
        with gzip.open(path, "rb") as raw:
            for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")):
                for col in columns:
                    words.update(WORD_RE.findall(fold(row.get(col) or "")))
    return words


@functools.cache
def compound_dictionary() -> frozenset[str]:
    """Return the words compounds are split into (folded; hyphenated words as their parts)."""
    words = _catalogue_words()
    for _version, entries in (synonyms(), lemmas()):
        for entry in entries:
            for term in entry.terms:
                words.update(term)
    with open(os.path.join(SEARCH_DATA, "compound_parts.txt"), encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                words.update(WORD_RE.findall(fold(line)))
    out: set[str] = set()
    for w in words:
        for part in w.split("-"):
            if part.isalpha() and (len(part) >= MIN_PART or part in SHORT_PARTS) and part not in OPTIONAL_WORDS:
                out.add(part)
    return frozenset(out)


@functools.lru_cache(maxsize=100_000)
def split_compound(word: str) -> tuple[str, ...]:
    """Return the dictionary parts of a compound word (folded), or () if it is not one.

    The split with the fewest parts wins, then the one whose first part is longest, so
    "bewohnerparkausweis" is ("bewohner", "parkausweis"); a linking element (Hund-e-steuer)
    may join two parts. A word that is itself in the dictionary is still split when it
    consists of dictionary words: "hundesteuer" is ("hunde", "steuer").
    """
    if len(word) < MIN_COMPOUND or not word.isalpha():
        return ()
    parts_of = compound_dictionary()
    n = len(word)
    # best[i]: the fewest-parts split of word[i:] as a tuple, or None.
    best: list[tuple[str, ...] | None] = [None] * (n + 1)
    best[n] = ()
    for i in range(n - 1, -1, -1):
        choice: tuple[str, ...] | None = None
        for j in range(n if i else n - 1, i + 2, -1):  # longest part first; never the whole word
            part = word[i:j]
            if part not in parts_of:
                continue
            for link in _LINKS:
                k = j + len(link)
                if k > n or not word.startswith(link, j):
                    continue
                rest = best[k]
                if rest is None or (k < n and not rest):
                    continue
                cand = (part, *rest)
                if choice is None or len(cand) < len(choice):
                    choice = cand
            if choice is not None and len(choice) <= 2:
                break
        best[i] = choice
    found = best[0]
    return found if found and len(found) >= 2 else ()


# --------------------------------------------------------------------------- expansion


@functools.cache
def _groups() -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    """Return stem key -> the terms equivalent to it (synonym groups and word forms)."""
    from .analysis import stem_key

    out: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for _version, entries in (lemmas(), synonyms()):
        for entry in entries:
            for term in entry.terms:
                key = stem_key(term)
                if not key:
                    continue
                alts = out.setdefault(key, [])
                for other in entry.terms:
                    if other != term and stem_key(other) != key and other not in alts:
                        alts.append(other)
    return out


def alternatives(words: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Return the terms that mean the same as words (folded words), best known first."""
    from .analysis import stem_key

    key = stem_key(words)
    return list(_groups().get(key, [])) if key else []


@functools.cache
def longest_term() -> int:
    """Return the most words a vocabulary term has (how far multi-word matching looks)."""
    return max((len(k) for k in _groups()), default=1)


def is_optional(word: str) -> bool:
    """Tell whether a (folded) query word may be left unmatched."""
    return word in OPTIONAL_WORDS
