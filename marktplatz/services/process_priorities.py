"""The network view and the gap view of process registers, and the priority score.

The priority score of an OZG-Leistung in a network (documented in docs/PROZESSREGISTER.md):

    score = open cases × share without a solution × boost

- open cases: the cases per year of the members' processes still handled analog or by PDF
  form (channel "analog" or "pdf");
- share without a solution: the members with the Leistung whose processes name no solution
  in use (neither a listing nor free text), divided by the members with the Leistung;
- boost: REUSE_BOOST when at least one solution offered for reuse exists for the Leistung
  (a published listing the viewer may see, with "zur Nachnutzung angeboten"), else 1.

Only registers the viewer may read enter the figures (permissions.register_visibility_filter),
and only listings the viewer may see are named as solutions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import (
    Listing,
    ListingStatus,
    Network,
    Organisation,
    OzgLeistung,
    ProcessEntry,
    Reuse,
    Themenfeld,
)
from ..models.listing import COST_MODELS, listing_ozg
from ..models.process_register import CHANNELS
from ..permissions import listing_visibility_filter
from .common import require
from .process_register import get_register, visible_registers

REUSE_BOOST = 1.5
SORTS = {
    "prioritaet": "Priorität (Punktzahl)",
    "faelle": "Fälle insgesamt",
    "offen": "Fälle noch nicht online",
    "analog": "Kommunen noch analog",
    "name": "Name der Leistung",
}


@dataclass
class Solution:
    """A listing offered for reuse for an OZG-Leistung, as the views show it."""

    listing: Listing
    reifegrad: str  # "3/4 (Modell 1.1)" or ""
    reusers: int
    cost_model: str


@dataclass
class Priority:
    """The figures of one OZG-Leistung across a network's readable registers."""

    ozg: OzgLeistung
    cases: int = 0
    open_cases: int = 0
    municipalities: int = 0
    analog: int = 0
    own_statute: int = 0
    without_solution: int = 0
    cases_by_channel: dict[str, int] = field(default_factory=lambda: {k: 0 for k in CHANNELS})
    solutions: list[Solution] = field(default_factory=list)

    @property
    def share_without_solution(self) -> float:
        """Return the share of members with the Leistung that name no solution in use."""
        return self.without_solution / self.municipalities if self.municipalities else 0.0

    @property
    def boost(self) -> float:
        """Return the boost for an existing reusable solution."""
        return REUSE_BOOST if self.solutions else 1.0

    @property
    def score(self) -> int:
        """Return the priority score (see the module docstring)."""
        return round(self.open_cases * self.share_without_solution * self.boost)


def score(open_cases: int, municipalities: int, without_solution: int, has_reusable: bool) -> int:
    """Return the priority score for these figures (the formula of Priority.score)."""
    share = without_solution / municipalities if municipalities else 0.0
    return round(open_cases * share * (REUSE_BOOST if has_reusable else 1.0))


def reifegrad_text(listing: Listing) -> str:
    """Return "3/4 (Modell 1.1)" for a listing's Reifegrad, or an empty string."""
    if listing.reifegrad is None or listing.reifegrad_model is None:
        return ""
    top = {"1.1": 4, "2.0": 7}.get(listing.reifegrad_model, 0)
    return f"{listing.reifegrad}/{top} (Modell {listing.reifegrad_model})"


def reusable_solutions(session: Session, user: Any, ozg_ids: list[int],
                       exclude_org: int | None = None) -> dict[int, list[Solution]]:
    """Return per OZG-ID the published listings offered for reuse that user may see."""
    if not ozg_ids:
        return {}
    q = (select(listing_ozg.c.ozg_id, Listing)
         .join(Listing, Listing.id == listing_ozg.c.listing_id)
         .where(listing_ozg.c.ozg_id.in_(sorted(set(ozg_ids))), Listing.reuse_offered.is_(True),
                Listing.status == ListingStatus.PUBLISHED.value, listing_visibility_filter(user))
         .options(selectinload(Listing.reuses).selectinload(Reuse.organisation), selectinload(Listing.organisation)))
    if exclude_org is not None:
        q = q.where(Listing.organisation_id != exclude_org)
    out: dict[int, list[Solution]] = defaultdict(list)
    for ozg_id, listing in session.execute(q).all():
        out[ozg_id].append(Solution(listing, reifegrad_text(listing), listing.active_reuse_count,
                                    COST_MODELS.get(listing.cost_model or "", "")))
    for sols in out.values():
        sols.sort(key=lambda s: (-(s.listing.reifegrad or -1), -s.reusers, s.listing.title))
    return out


@dataclass
class NetworkView:
    """The network's process figures per OZG-Leistung, ranked."""

    network: Network
    members: int
    registers: list[Organisation]  # municipalities whose registers entered the figures
    priorities: list[Priority]
    themenfelder: list[Themenfeld]

    @property
    def register_ags(self) -> list[str]:
        """Return the AGS (or keys) of the municipalities whose registers entered the figures."""
        return [o.ags or o.key for o in self.registers]

    @property
    def cases(self) -> int:
        """Return the combined cases per year of every listed Leistung."""
        return sum(p.cases for p in self.priorities)

    @property
    def open_cases(self) -> int:
        """Return the combined cases still handled analog or by PDF form."""
        return sum(p.open_cases for p in self.priorities)


def network_view(session: Session, user: Any, network: Network, themenfeld: int | None = None,
                 sort: str = "prioritaet") -> NetworkView:
    """Add up the readable registers of a network's members per OZG-Leistung."""
    require(user, "network.view_registers", network)
    member_ids = [m.organisation_id for m in network.memberships]
    registers = visible_registers(session, user, member_ids)
    per: dict[int, Priority] = {}
    per_org: dict[tuple[int, int], list[ProcessEntry]] = defaultdict(list)
    ozg = {o.id: o for o in session.scalars(select(OzgLeistung).where(OzgLeistung.id.in_(
        sorted({e.ozg_id for r in registers for e in r.entries}) or [-1])))}
    for register in registers:
        for entry in register.entries:
            per_org[(entry.ozg_id, register.organisation_id)].append(entry)
    for (ozg_id, _org), entries in per_org.items():
        p = per.setdefault(ozg_id, Priority(ozg[ozg_id]))
        p.municipalities += 1
        for e in entries:
            p.cases += e.cases or 0
            p.cases_by_channel[e.channel] += e.cases or 0
            if e.not_online:
                p.open_cases += e.cases or 0
        p.analog += any(e.not_online for e in entries)
        p.own_statute += any(e.own_statute for e in entries)
        p.without_solution += not any(e.has_solution for e in entries)
    solutions = reusable_solutions(session, user, list(per))
    for ozg_id, p in per.items():
        p.solutions = solutions.get(ozg_id, [])
    themen = sorted({p.ozg.themenfeld for p in per.values()}, key=lambda t: t.name)
    items = [p for p in per.values() if themenfeld is None or p.ozg.themenfeld_id == themenfeld]
    keys = {
        "prioritaet": lambda p: (-p.score, -p.open_cases, p.ozg.name),
        "faelle": lambda p: (-p.cases, p.ozg.name),
        "offen": lambda p: (-p.open_cases, p.ozg.name),
        "analog": lambda p: (-p.analog, -p.open_cases, p.ozg.name),
        "name": lambda p: p.ozg.name.lower(),
    }
    items.sort(key=keys.get(sort, keys["prioritaet"]))
    orgs = sorted((r.organisation for r in registers), key=lambda o: o.short_name)
    return NetworkView(network, len(member_ids), orgs, items, themen)


@dataclass
class Gap:
    """One of a municipality's processes still handled analog, with reusable solutions."""

    entry: ProcessEntry
    solutions: list[Solution]
    own_reuses: dict[int, Reuse]  # listing id -> the municipality's reuse of it


def gaps(session: Session, user: Any, organisation: Organisation, min_cases: int = 0) -> list[Gap]:
    """Return the organisation's analog processes with many cases that have a reusable solution."""
    require(user, "register.view_gaps", organisation)
    register = get_register(session, user, organisation)
    if register is None:
        return []
    open_entries = [e for e in register.entries if e.not_online and (e.cases or 0) >= min_cases]
    solutions = reusable_solutions(session, user, [e.ozg_id for e in open_entries], exclude_org=organisation.id)
    reuses = {r.listing_id: r for r in session.scalars(select(Reuse).where(Reuse.organisation_id == organisation.id))}
    out = [Gap(e, solutions[e.ozg_id], {s.listing.id: reuses[s.listing.id] for s in solutions[e.ozg_id]
                                         if s.listing.id in reuses})
           for e in open_entries if solutions.get(e.ozg_id)]
    out.sort(key=lambda g: (-(g.entry.cases or 0), g.entry.name))
    return out
