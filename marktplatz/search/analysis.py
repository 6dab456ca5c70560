"""German text analysis: folding of umlauts and ß, Snowball stemming, compounds, n-grams."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from whoosh.analysis import (
    Filter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
    Token,
)

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})
_GERMAN_STOP = frozenset(
    "der die das den dem des ein eine einer eines einem einen und oder aber in im ins an am "
    "auf aus bei mit nach von vom zu zum zur für fuer über ueber unter ist sind wird werden "
    "wir sie es er ich du ihr sich nicht auch als wie so dass daß noch nur schon".split()
)
# Words joined by hyphens ("Hunde-Steuer") plus plain words and digit runs (OZG-IDs, keys).
WORD_RE = re.compile(r"\w+(?:-\w+)*", re.UNICODE)


def fold(text: str) -> str:
    """Lower-case and fold umlauts, ß and accents to ASCII (Straße -> strasse)."""
    text = text.lower().translate(_FOLD)
    if text.isascii():  # nearly every word: nothing left to fold
        return text
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


class FoldFilter(Filter):
    """Fold umlauts, ß and accents so Müll and Muell are the same term."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:  # noqa: D102
        for t in tokens:
            t.text = fold(t.text)
            yield t


class CompoundFilter(Filter):
    """Emit the parts of hyphenated words and also the joined word (hunde-steuer -> hundesteuer).

    Positions are renumbered so that the parts keep consecutive positions (phrase queries
    on "Hunde Steuer" still match) and the joined word shares the last part's position.
    """

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:  # noqa: D102
        shift = 0
        for t in tokens:
            if t.positions:
                t.pos += shift
            t.joined = False
            if "-" not in t.text:
                yield t
                continue
            text = t.text
            parts = [p for p in text.split("-") if p]
            start = t.startchar if t.chars else 0
            pos = t.pos if t.positions else 0
            cursor = 0
            for i, part in enumerate(parts):
                t.text = part
                offset = text.find(part, cursor)
                cursor = offset + len(part)
                if t.chars:
                    t.startchar, t.endchar = start + offset, start + offset + len(part)
                if t.positions:
                    t.pos = pos + i
                yield t
            t.text = "".join(parts)
            t.joined = True  # its parts were just emitted: DecompoundFilter leaves it alone
            if t.chars:
                t.startchar, t.endchar = start, start + len(text)
            yield t
            shift += len(parts) - 1


class DecompoundFilter(Filter):
    """After each compound word, emit its dictionary parts at the same position (index only).

    The joined form of a hyphenated word (CompoundFilter) is not split again: its parts were
    emitted already, at their own positions.

    "Gewerbeanmeldung" is indexed as gewerbeanmeldung, gewerbe and anmeldung, so the words
    "Anmeldung" and "Gewerbe" find it. The dictionary (vocabulary.compound_dictionary) holds
    only shipped words, so index and query split alike.
    """

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:  # noqa: D102
        from .vocabulary import split_compound

        for t in tokens:
            whole = t.text  # read before yielding: later filters change the shared token
            joined = getattr(t, "joined", False)
            yield t
            if t.mode == "query" or joined or len(whole) < 7:
                continue
            for part in split_compound(whole):
                t.text = part
                t.stopped = False
                yield t


class NgramsFilter(Filter):
    """Replace each word by its 4-grams (short words stay whole) for compound matching."""

    def __init__(self, size: int = 4) -> None:
        self.size = size

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:  # noqa: D102
        for t in tokens:
            for gram in ngrams(t.text, self.size):
                t.text = gram
                yield t


class UniqueFilter(Filter):
    """Drop repeated terms of one field value (each n-gram once per document: tf = 1)."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:  # noqa: D102
        seen: set[str] = set()
        for t in tokens:
            if t.text not in seen:
                seen.add(t.text)
                yield t


def ngrams(word: str, size: int = 4) -> list[str]:
    """Return the distinct n-grams of word (the word itself when shorter than size)."""
    if len(word) <= size:
        return [word]
    seen: dict[str, None] = {}
    for i in range(len(word) - size + 1):
        seen.setdefault(word[i : i + size], None)
    return list(seen)


def _tokenizer() -> RegexTokenizer:
    return RegexTokenizer(WORD_RE)


def german_analyzer():
    """Return the analyzer for running German text: fold, split compounds, drop stop words, stem.

    Compounds without hyphens are split into their dictionary parts at index time only
    (DecompoundFilter); query building splits a query's compounds itself, as an And of
    the parts (query.py), which an analyzer's flat list of terms cannot express.
    """
    return _german(decompound=True)


def german_query_analyzer():
    """Return the German analyzer without dictionary decompounding (for query words)."""
    return _german(decompound=False)


def _german(decompound: bool):
    chain = _tokenizer() | LowercaseFilter() | FoldFilter() | CompoundFilter() | StopFilter(
        stoplist=_GERMAN_STOP, minsize=1)
    if decompound:
        chain = chain | DecompoundFilter()  # after the stop filter, which renumbers positions
    return chain | StemFilter(lang="de", cachesize=50000)


_STEMMER = None


def stem_key(words: tuple[str, ...]) -> tuple[str, ...]:
    """Return the stems of words (folded words) without stop words: how vocabulary terms match."""
    global _STEMMER
    if _STEMMER is None:
        _STEMMER = german_query_analyzer()
    out: list[str] = []
    for w in words:
        out.extend(terms(_STEMMER, w))
    return tuple(out)


def plain_analyzer():
    """Return the analyzer that folds but does not stem (spelling suggestions, exact words)."""
    return _tokenizer() | LowercaseFilter() | FoldFilter() | CompoundFilter()


def ngram_analyzer():
    """Return the analyzer producing word 4-grams of folded words and their joined compounds."""
    return _tokenizer() | LowercaseFilter() | FoldFilter() | CompoundFilter() | NgramsFilter(4) | UniqueFilter()



def terms(analyzer, text: str) -> list[str]:
    """Return the distinct terms analyzer produces for text, in order."""
    seen: dict[str, None] = {}
    for t in analyzer(text):
        seen.setdefault(t.text, None)
    return list(seen)
