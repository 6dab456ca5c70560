"""Process registers: read, edit, bulk upsert (form, import and API share these).

Who may read a register is the visibility policy's (permissions.can_view_register and
register_visibility_filter); who may change it is the role table's ("register.edit").
Every write validates with ProcessEntrySchema and flushes; the edge commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import (
    LeikaLeistung,
    Listing,
    Organisation,
    OzgLeistung,
    ProcessEntry,
    ProcessRegister,
    User,
)
from ..permissions import can, can_view_listing, register_visibility_filter
from ..schemas.process import LABELS, ProcessEntrySchema, RegisterVisibilitySchema
from . import audit
from .common import flush, load, require
from .errors import Invalid, NotFound

log = logging.getLogger(__name__)

NOT_VISIBLE = "Dieses Prozessregister gibt es nicht oder Sie dürfen es nicht sehen."
#: The most rows one bulk call (import file or API request) may carry.
MAX_ROWS = 2000


def require_edit(user: Any, organisation: Organisation) -> None:
    """Raise Forbidden unless user may edit the organisation's register."""
    require(user, "register.edit", organisation)


def require_gaps(user: Any, organisation: Organisation) -> None:
    """Raise Forbidden unless user may see the organisation's gap view."""
    require(user, "register.view_gaps", organisation)


def find_register(session: Session, organisation: Organisation) -> ProcessRegister | None:
    """Return the organisation's register, or None if it has none yet (no permission check)."""
    return session.scalar(select(ProcessRegister).where(ProcessRegister.organisation_id == organisation.id))


def get_register(session: Session, user: Any, organisation: Organisation) -> ProcessRegister | None:
    """Return the register user may read; None if the municipality has none yet but user edits it.

    Raises NotFound when the register is hidden from user, or absent and user may not edit it.
    """
    register = find_register(session, organisation)
    if register is None:
        if can(user, "register.edit", organisation):
            return None
        raise NotFound(NOT_VISIBLE)
    if not can(user, "register.view", register):
        raise NotFound(NOT_VISIBLE)
    return register


def _ensure_register(session: Session, user: Any, organisation: Organisation) -> ProcessRegister:
    require(user, "register.edit", organisation)
    register = find_register(session, organisation)
    if register is None:
        register = ProcessRegister(organisation=organisation, visibility="private")
        session.add(register)
        session.flush()
    return register


def set_visibility(session: Session, user: User, organisation: Organisation, data: dict[str, Any]) -> ProcessRegister:
    """Set who may read the organisation's register."""
    clean = load(RegisterVisibilitySchema(), data)
    register = _ensure_register(session, user, organisation)
    if register.visibility != clean["visibility"]:
        old, register.visibility = register.visibility, clean["visibility"]
        audit.record(session, user, "register.visibility_changed", organisation, old=old, new=register.visibility)
    flush(session)
    return register


def entry_to_dict(user: Any, entry: ProcessEntry) -> dict[str, Any]:
    """Return an entry's fields as user may see them (the solution listing only if visible)."""
    listing = entry.solution_listing
    return {
        "process_key": entry.process_key, "name": entry.name, "ozg_id": entry.ozg_id,
        "leika_key": entry.leika_key, "unit": entry.unit, "cases": entry.cases,
        "cases_year": entry.cases_year, "channel": entry.channel,
        "solution_listing": listing.slug if listing is not None and can_view_listing(user, listing) else None,
        "solution_text": entry.solution_text, "own_statute": entry.own_statute,
        "statute_ref": entry.statute_ref, "priority": entry.priority, "notes": entry.notes,
    }


@dataclass
class _Catalogue:
    """The reference data a batch of rows refers to, looked up once."""

    ozg: set[int]
    leika: dict[str, int]  # key -> OZG-ID
    listings: dict[str, Listing]


def _catalogue(session: Session, user: Any, rows: list[dict[str, Any]]) -> _Catalogue:
    ozg_ids = sorted({r["ozg_id"] for r in rows if r.get("ozg_id") is not None})
    keys = sorted({r["leika_key"] for r in rows if r.get("leika_key")})
    slugs = sorted({r["solution_listing"] for r in rows if r.get("solution_listing")})
    ozg = set(session.scalars(select(OzgLeistung.id).where(OzgLeistung.id.in_(ozg_ids)))) if ozg_ids else set()
    leika = dict(session.execute(select(LeikaLeistung.key, LeikaLeistung.ozg_id).where(LeikaLeistung.key.in_(keys))).all()) if keys else {}
    found = list(session.scalars(select(Listing).where(Listing.slug.in_(slugs)))) if slugs else []
    return _Catalogue(ozg, leika, {li.slug: li for li in found if can_view_listing(user, li)})


def _resolve(row: dict[str, Any], cat: _Catalogue) -> dict[str, list[str]]:
    """Check a validated row against the reference data; set row['ozg_id'] from the LeiKa key."""
    errors: dict[str, list[str]] = {}
    ozg_id, key = row.get("ozg_id"), row.get("leika_key")
    if ozg_id is not None and ozg_id not in cat.ozg:
        errors["ozg_id"] = [f"Unbekannte OZG-ID {ozg_id}."]
    if key:
        if key not in cat.leika:
            errors["leika_key"] = [f"Unbekannter LeiKa-Schlüssel {key}."]
        elif ozg_id is None:
            row["ozg_id"] = cat.leika[key]
        elif cat.leika[key] != ozg_id:
            errors["leika_key"] = [f"Der LeiKa-Schlüssel gehört zur OZG-ID {cat.leika[key]}, nicht zu {ozg_id}."]
    slug = row.get("solution_listing")
    if slug and slug not in cat.listings:
        errors["solution_listing"] = [f"Einen Eintrag „{slug}“ gibt es nicht oder Sie dürfen ihn nicht sehen."]
    return errors


def _apply(entry: ProcessEntry, row: dict[str, Any], cat: _Catalogue) -> None:
    for name in ("process_key", "name", "ozg_id", "leika_key", "unit", "cases", "cases_year", "channel",
                 "solution_text", "own_statute", "statute_ref", "priority", "notes"):
        setattr(entry, name, row.get(name))
    entry.leika_key = row.get("leika_key") or None
    slug = row.get("solution_listing")
    entry.solution_listing = cat.listings[slug] if slug else None


def save_entry(session: Session, user: User, organisation: Organisation, data: dict[str, Any],
               entry: ProcessEntry | None = None) -> ProcessEntry:
    """Create an entry in the organisation's register, or update entry."""
    if entry is not None and entry.register.organisation_id != organisation.id:
        raise NotFound("Diesen Prozess gibt es nicht.")
    register = _ensure_register(session, user, organisation)
    row = load(ProcessEntrySchema(), data)
    cat = _catalogue(session, user, [row])
    errors = _resolve(row, cat)
    clash = session.scalar(select(ProcessEntry.id).where(
        ProcessEntry.register_id == register.id, ProcessEntry.process_key == row["process_key"]))
    if clash is not None and (entry is None or clash != entry.id):
        errors["process_key"] = ["Diesen Prozessschlüssel gibt es in Ihrem Register schon."]
    if errors:
        raise Invalid(errors)
    created = entry is None
    if entry is None:
        entry = ProcessEntry(register=register)
        session.add(entry)
    _apply(entry, row, cat)
    session.flush()
    audit.record(session, user, "register.entry_created" if created else "register.entry_updated",
                 organisation, entry_id=entry.id, process_key=entry.process_key)
    flush(session)
    return entry


def get_entry(session: Session, user: Any, organisation: Organisation, entry_id: int) -> ProcessEntry:
    """Return an entry of the organisation's register that user may edit, or raise NotFound."""
    entry = session.get(ProcessEntry, entry_id)
    if entry is None or entry.register.organisation_id != organisation.id:
        raise NotFound("Diesen Prozess gibt es nicht.")
    if not can(user, "register.edit", entry):
        if can(user, "register.view", entry.register):
            require(user, "register.edit", entry)
        raise NotFound("Diesen Prozess gibt es nicht.")
    return entry


def delete_entry(session: Session, user: User, entry: ProcessEntry) -> None:
    """Delete one process from a register."""
    require(user, "register.edit", entry)
    org = entry.register.organisation
    audit.record(session, user, "register.entry_deleted", org, process_key=entry.process_key)
    session.delete(entry)
    flush(session)


@dataclass
class UpsertResult:
    """What a bulk upsert did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        """Return how many rows the batch had."""
        return self.created + self.updated + self.unchanged


def upsert_entries(session: Session, user: User, organisation: Organisation,
                   rows: list[tuple[int, dict[str, Any]]],
                   known_errors: dict[int, dict[str, list[str]]] | None = None) -> UpsertResult:
    """Create or update entries by the municipality's own process key, all or nothing.

    rows are (line number, raw fields). Every row is validated first; if any fails, Invalid
    is raised with {"zeilen": {line: {field: [messages]}}} and nothing is written.
    known_errors are errors the caller found already (cells a spreadsheet could not convert);
    they are reported with the rest.
    """
    require(user, "register.edit", organisation)
    if len(rows) > MAX_ROWS:
        raise Invalid({"datei": [f"Höchstens {MAX_ROWS} Zeilen auf einmal; diese Daten haben {len(rows)}."]})
    if not rows:
        raise Invalid({"datei": ["Die Daten enthalten keine Prozesse."]})
    schema = ProcessEntrySchema()
    loaded: list[tuple[int, dict[str, Any]]] = []
    errors: dict[int, dict[str, list[str]]] = {line: dict(e) for line, e in (known_errors or {}).items()}
    for line, raw in rows:
        try:
            loaded.append((line, load(schema, {k: v for k, v in raw.items() if k not in errors.get(line, {})})))
        except Invalid as err:
            found = {k: list(v) if isinstance(v, list) else [str(v)] for k, v in err.errors.items()}
            errors[line] = {**found, **errors.get(line, {})}
    cat = _catalogue(session, user, [r for _, r in loaded])
    seen: dict[str, int] = {}
    for line, row in loaded:
        row_errors = _resolve(row, cat)
        key = row["process_key"]
        if key in seen:
            row_errors["process_key"] = [f"Der Prozessschlüssel „{key}“ steht schon in Zeile {seen[key]}."]
        else:
            seen[key] = line
        if row_errors:
            errors.setdefault(line, {}).update(row_errors)
    if errors:
        raise Invalid({"zeilen": dict(sorted(errors.items()))},
                      f"{len(errors)} Zeile(n) fehlerhaft; es wurde nichts übernommen.")
    register = _ensure_register(session, user, organisation)
    existing = {e.process_key: e for e in register.entries}
    result = UpsertResult()
    for _line, row in loaded:
        entry = existing.get(row["process_key"])
        if entry is None:
            entry = ProcessEntry(register=register)
            session.add(entry)
            _apply(entry, row, cat)
            result.created += 1
            continue
        before = entry_to_dict(user, entry)
        _apply(entry, row, cat)
        if entry_to_dict(user, entry) == before:
            result.unchanged += 1
        else:
            result.updated += 1
    audit.record(session, user, "register.imported", organisation, created=result.created,
                 updated=result.updated, unchanged=result.unchanged)
    flush(session)
    log.info("register %s: %s created, %s updated", register.id, result.created, result.updated)
    return result


def row_errors_text(err: Invalid) -> list[str]:
    """Return an import's errors as German sentences: line, field, message."""
    out: list[str] = []
    for key, msgs in err.errors.items():
        if key == "zeilen":
            for line, fields in msgs.items():
                for field, texts in fields.items():
                    label = LABELS.get(field, field)
                    out.extend(f"Zeile {line}, {label}: {t}" for t in texts)
        else:
            out.extend(msgs if isinstance(msgs, list) else [str(msgs)])
    return out


def visible_registers(session: Session, user: Any, organisation_ids: list[int] | None = None) -> list[ProcessRegister]:
    """Return the registers user may read, optionally of the given organisations only."""
    q = (select(ProcessRegister).where(register_visibility_filter(user))
         .options(selectinload(ProcessRegister.entries), selectinload(ProcessRegister.organisation)))
    if organisation_ids is not None:
        q = q.where(ProcessRegister.organisation_id.in_(organisation_ids or [-1]))
    return list(session.scalars(q))
