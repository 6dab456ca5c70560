"""Password rules: length, not a common password, not the e-mail address or the municipality's name."""

from __future__ import annotations

import functools
import gzip
import os
import re

MIN_LENGTH = 12
# 19,640 common passwords, lowercased (Django 5.2.19, from Royce Williams' list; see NOTICE).
COMMON_PASSWORDS_FILE = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "data", "common_passwords_django-5.2.19.txt.gz"
)
# Words of municipality names that say nothing about the place ("Stadt", "Landkreis", ...).
_GENERIC_NAME_WORDS = {
    "stadt", "gemeinde", "markt", "landkreis", "kreis", "kreisfreie", "hansestadt", "freie",
    "samtgemeinde", "verbandsgemeinde", "amt", "flecken", "große", "grosse", "kreisstadt",
    "landeshauptstadt", "universitätsstadt", "universitaetsstadt", "wissenschaftsstadt", "bad",
    "sankt", "der", "die", "das", "und", "bei", "ober", "unter", "an", "am", "im", "in", "vor",
}
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

TOO_SHORT = f"Das Passwort muss mindestens {MIN_LENGTH} Zeichen lang sein."
TOO_COMMON = ("Dieses Passwort steht auf einer Liste häufig benutzter Passwörter "
              "(auch mit angehängten Zahlen oder Zeichen). Bitte wählen Sie ein anderes.")
HAS_EMAIL = "Das Passwort darf die E-Mail-Adresse oder Teile davon (vor dem @) nicht enthalten."
HAS_MUNICIPALITY = "Das Passwort darf den Namen der Kommune nicht enthalten."


@functools.cache
def common_passwords() -> frozenset[str]:
    """Return the shipped list of common passwords (lowercase)."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def _forms(text: str) -> set[str]:
    """Return text lowercased, as written and with umlauts spelled out (München, Muenchen)."""
    low = text.casefold()
    return {low, low.translate(_UMLAUTS)}


def _email_parts(email: str) -> set[str]:
    """Return the local part of the address and its longer pieces (anna.schmidt: anna, schmidt)."""
    local = (email or "").split("@", 1)[0].casefold()
    parts = {local} if len(local) >= 3 else set()
    parts.update(p for p in re.split(r"[._+\-]+", local) if len(p) >= 4)
    return parts


def _name_parts(name: str) -> set[str]:
    """Return the telling words of a municipality's name ("Freiburg im Breisgau, Stadt": freiburg, breisgau)."""
    words = re.split(r"[^\w]+", (name or "").casefold())
    return {w for w in words if len(w) >= 4 and not w.isdigit() and w not in _GENERIC_NAME_WORDS}


def problems(password: str, email: str = "", municipality: str = "") -> list[str]:
    """Return the German messages of every rule the password breaks (empty when it is fine)."""
    password = password or ""
    found: list[str] = []
    if len(password) < MIN_LENGTH:
        found.append(TOO_SHORT)
    forms = _forms(password)
    common = common_passwords()
    # "sommer2024!!" is "sommer" with digits and signs around it: as easy to guess.
    cores = {re.sub(r"^[\W\d_]+|[\W\d_]+$", "", form) for form in forms}
    if any(form in common for form in forms) or any(core and core in common for core in cores):
        found.append(TOO_COMMON)
    if any(part in form for part in _email_parts(email) for form in forms):
        found.append(HAS_EMAIL)
    names = {form for word in _name_parts(municipality) for form in _forms(word)}
    if any(name in form for name in names for form in forms):
        found.append(HAS_MUNICIPALITY)
    return found
