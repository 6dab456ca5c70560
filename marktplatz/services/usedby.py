"""Match the names a publiccode.yml lists under usedBy to municipalities and Kreise.

A name is matched when exactly one organisation of the reference data (GV100AD Gemeinden
and Kreise) carries it, after these readings:

- the name as written, against the short name ("Halle (Saale)") and the official name
  ("Bad Salzuflen, Stadt") of every Gemeinde and Kreis;
- without a type in front or behind: "Landeshauptstadt", "Stadt", "Hansestadt",
  "Kreisstadt", "Stadtkreis" (then only cities), "Gemeinde" (any municipality), "Markt"
  (only a Markt), "Landkreis", "Kreis" (then only Kreise);
- without a Land hint at the end, "(Bayern)", ", NRW", " - BW": then only in that Land.

Spelling is compared loosely (case, umlauts as ae/oe/ue, punctuation, "a.d." for "an
der"), never by similarity. A name several organisations carry, with no type or Land
deciding between them, is *not* guessed: it stays unmatched, as does a name no organisation
carries ("Comune di Roma"). A kreisfreie Stadt is one body with two rows (Gemeinde and
Kreis); both readings lead to the Gemeinde. A Landkreis is taken only when the name says
Kreis (by a type word, or its own name: "Rhein-Sieg-Kreis", "Region Hannover"), so the bare
"München" is the city, not the Landkreis München.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Land, Organisation

MAX_NAMES = 100  # usedBy entries read per file; real files name a handful
MAX_NAME_LENGTH = 200

_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
# Abbreviations of the official names (mostly Bavarian: "Neustadt a.d.Donau") and their
# long forms are read as the same words on both sides.
_WORDS = {"an": "a", "am": "a", "der": "d", "dem": "d", "den": "d", "im": "i", "in": "i", "bei": "b",
          "ob": "o", "sankt": "st", "st": "st", "und": "u"}

# Type words in front of a name (or behind it after a comma) and what they allow.
CITY, MUNICIPAL, MARKT, KREIS = "city", "municipal", "markt", "kreis"
_TYPE_WORDS: dict[str, str] = {
    "freie und hansestadt": CITY, "landeshauptstadt": CITY, "hansestadt": CITY, "stadt": CITY,
    "kreisstadt": CITY, "grosse kreisstadt": CITY, "kreisfreie stadt": CITY, "stadtkreis": CITY,
    "universitaetsstadt": CITY, "stadtverwaltung": CITY,
    "gemeinde": MUNICIPAL, "gemeindeverwaltung": MUNICIPAL, "ortsgemeinde": MUNICIPAL,
    "flecken": MUNICIPAL,
    "markt": MARKT, "marktgemeinde": MARKT, "marktflecken": MARKT,
    "landkreis": KREIS, "kreis": KREIS, "kreisverwaltung": KREIS, "lkr": KREIS,
}
# Behind a comma also the abbreviations of the official names ("Stein, St", "Wartenberg, M").
_SUFFIX_WORDS = {**_TYPE_WORDS, "st": CITY, "gkst": CITY, "m": MARKT}
_CACHE: dict[tuple, NameIndex] = {}  # one per database and state of its reference rows
_CITY_KREIS_TYPES = {"Kreisfreie Stadt", "Stadtkreis"}
# A Landkreis whose own name says it is one is matched without a type word.
_SELF_MARKED = re.compile(r"kreis|^region |^staedteregion |^regionalverband ")
_MARKT_NAME = re.compile(r", (M|Markt|Marktgemeinde|Marktflecken)$")
# Land hints beyond the official names and the GV100 abbreviations (SH, NI, NW, BY, ...).
_LAND_ALIASES = {"nrw": "05", "freistaat bayern": "09", "freistaat sachsen": "14", "freistaat thueringen": "16",
                 "rlp": "07", "bawue": "08", "ba wue": "08", "saar": "10", "meckpomm": "13"}
_HINT = re.compile(r"^(?P<base>.+?)\s*(?:\((?P<paren>[^()]+)\)|[,/–-]\s*(?P<tail>[^,/()–-]+(?:-[^,/()–-]+)*))\s*$")


def normalise(text: str) -> str:
    """Return text as compared: lower case, umlauts spelled out, words joined by single spaces."""
    text = unicodedata.normalize("NFC", text).casefold().translate(_TRANSLIT)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    return " ".join(_WORDS.get(w, w) for w in words)


_PREFIXES = {normalise(k): v for k, v in _TYPE_WORDS.items()}
_SUFFIXES = {normalise(k): v for k, v in _SUFFIX_WORDS.items()}


def clean(raw: object) -> str | None:
    """Return a usedBy entry as kept (stripped, single spaces, bounded), or None if it is no name."""
    if not isinstance(raw, str):
        return None
    text = re.sub(r"\s+", " ", raw).strip()
    return text[:MAX_NAME_LENGTH] or None


@dataclass(frozen=True)
class _Org:
    id: int
    kind: str
    type_label: str
    land_code: str | None
    ags: str | None
    kreis_key: str | None
    name: str

    @property
    def is_city_kreis(self) -> bool:
        return self.kind == "kreis" and self.type_label in _CITY_KREIS_TYPES

    @property
    def is_landkreis(self) -> bool:
        return self.kind == "kreis" and not self.is_city_kreis


@dataclass
class NameIndex:
    """The Gemeinden and Kreise by normalised name, and the Land hints."""

    by_name: dict[str, list[_Org]] = field(default_factory=dict)
    by_ags: dict[str, _Org] = field(default_factory=dict)
    lands: dict[str, str] = field(default_factory=dict)

    @classmethod
    def current(cls, session: Session) -> NameIndex:
        """Return the index of the database's Gemeinden and Kreise, built again when they changed.

        Building it normalises about 23,000 names (a third of a second); the reference data
        changes about once a year, so one cheap aggregate decides whether the kept one holds.
        """
        count, last_id, last_update = session.execute(
            select(func.count(Organisation.id), func.max(Organisation.id), func.max(Organisation.updated_at))
        ).one()
        key = (str(session.get_bind().url), count, last_id, str(last_update))
        idx = _CACHE.get(key)
        if idx is None:
            idx = cls.load(session)
            _CACHE.clear()
            _CACHE[key] = idx
        return idx

    @classmethod
    def load(cls, session: Session) -> NameIndex:
        """Read every Gemeinde and Kreis of the database (about 11,400 rows, a few columns)."""
        idx = cls(lands=dict(_LAND_ALIASES))
        for code, short, name in session.execute(select(Land.code, Land.short, Land.name)):
            idx.lands[normalise(short)] = code
            idx.lands[normalise(name)] = code
        rows = session.execute(
            select(Organisation.id, Organisation.kind, Organisation.type_label, Organisation.land_code,
                   Organisation.ags, Organisation.kreis_key, Organisation.name, Organisation.short_name)
            .where(Organisation.kind.in_(("gemeinde", "stadt", "kreis")))
        )
        for oid, kind, type_label, land_code, ags, kreis_key, name, short_name in rows:
            org = _Org(oid, kind, type_label or "", land_code, ags, kreis_key, name)
            if ags:
                idx.by_ags[ags] = org
            for key in {normalise(short_name), normalise(name)}:
                if key:
                    idx.by_name.setdefault(key, []).append(org)
        return idx

    def land_of(self, hint: str) -> str | None:
        """Return the Land code a hint such as "Bayern", "NRW" or "BW" names, or None."""
        return self.lands.get(normalise(hint))

    def _canonical(self, org: _Org) -> _Org:
        """Return the Gemeinde row of a kreisfreie Stadt's Kreis row (one body, two rows)."""
        if org.is_city_kreis and org.kreis_key:
            return self.by_ags.get(org.kreis_key + "000", org)
        return org

    def lookup(self, name: str, kind: str | None, land: str | None) -> list[_Org]:
        """Return the distinct organisations name may mean, given the type word and Land hint."""
        found: dict[int, _Org] = {}
        for org in self.by_name.get(normalise(name), []):
            if kind == KREIS:
                if not org.is_landkreis:
                    continue
            elif org.is_landkreis and not _SELF_MARKED.search(normalise(org.name)):
                continue
            org = self._canonical(org)
            if kind == CITY and org.kind != "stadt":
                continue
            if kind in (CITY, MUNICIPAL, MARKT) and org.kind == "kreis":
                continue
            if kind == MARKT and not _MARKT_NAME.search(org.name):
                continue
            if land is not None and org.land_code != land:
                continue
            found[org.id] = org
        return list(found.values())


@dataclass(frozen=True)
class Match:
    """The outcome for one name: the organisation id, or how many carry it (0, or 2 and more)."""

    name: str
    organisation_id: int | None
    candidates: int


def _split_type(text: str) -> tuple[str | None, str]:
    """Return (type, rest) for a name with a type word in front ("Stadt X") or behind ("X, Stadt")."""
    words = text.split(" ")
    for n in (3, 2, 1):
        head = normalise(" ".join(words[:n]))
        if len(words) > n and head in _PREFIXES:
            return _PREFIXES[head], " ".join(words[n:])
    head, sep, tail = text.rpartition(",")
    if sep and head.strip() and normalise(tail) in _SUFFIXES:
        return _SUFFIXES[normalise(tail)], head.strip()
    return None, text


def _split_land(text: str, idx: NameIndex) -> tuple[str, str | None]:
    """Return (rest, Land code) for a name ending in a Land hint, else (text, None)."""
    m = _HINT.match(text)
    if m is None:
        return text, None
    hint = m.group("paren") or m.group("tail") or ""
    code = idx.land_of(hint)
    return (m.group("base").strip(), code) if code else (text, None)


def match_name(name: str, idx: NameIndex) -> Match:
    """Match one usedBy name; several candidates or none leave it unmatched."""
    readings: list[tuple[str, str | None]] = [(name, None)]
    base, land = _split_land(name, idx)
    if land is not None:
        readings.append((base, land))
    best = 0
    for text, land_code in readings:
        found = idx.lookup(text, None, land_code)
        kind, rest = _split_type(text)
        if not found and kind is not None and rest:
            found = idx.lookup(rest, kind, land_code)
        if len(found) == 1:
            return Match(name, found[0].id, 1)
        best = max(best, len(found))
    return Match(name, None, best)


def match_names(session: Session, names: list[str]) -> list[Match]:
    """Match each of names (cleaned, distinct) against the reference data."""
    if not names:
        return []
    idx = NameIndex.current(session)
    return [match_name(n, idx) for n in names]
