"""Demo process registers for Bad Salzuflen and its Kreis Lippe neighbours (issue 19 item 6).

The case numbers are DEMO FIGURES, not statistics: population (Destatis GV100AD in the
reference data) × an assumed rate per 1,000 inhabitants and year per Leistung (RATES below,
documented in docs/PROZESSREGISTER.md), varied by ±15 % per municipality with a fixed seed.
Every entry says so in its notes. Channels, solutions and statutes are invented but
plausible. Loading is idempotent: it does nothing once Bad Salzuflen has a register.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Listing, Organisation, ProcessRegister, User
from . import listings, moderation, process_register

DEMO_YEAR = 2025
DEMO_NOTE = ("Demo-Zahl, keine echte Statistik: Einwohnerzahl × {rate} Fälle je 1.000 Einwohner "
             "und Jahr (Annahme für die Demo).")


@dataclass(frozen=True)
class Rate:
    """An assumed yearly case rate for one Leistung, with the process as a municipality names it."""

    ozg_id: int
    key: str
    name: str
    unit: str
    per_1000: float
    statute: str  # the local statute that gives own regulatory competence, or ""


RATES: tuple[Rate, ...] = (
    Rate(10124, "33-01", "Wohnsitz an-, um- und abmelden", "Bürgerbüro", 90, ""),
    Rate(10119, "33-02", "Personalausweis beantragen", "Bürgerbüro", 60, ""),
    Rate(10110, "70-01", "Sperrmüllabholung anmelden", "Abfallwirtschaft", 40, "Abfallentsorgungssatzung"),
    Rate(10019, "51-01", "Kita-Platz anmelden und Elternbeitrag festsetzen", "Jugendamt / Kitas", 10,
         "Elternbeitragssatzung"),
    Rate(10294, "32-10", "Gewerbe an-, um- und abmelden", "Ordnungsamt", 9, ""),
    Rate(10160, "20-05", "Hund an- und abmelden (Hundesteuer)", "Steueramt", 8, "Hundesteuersatzung"),
    Rate(10244, "32-20", "Fundsachen melden und abholen", "Fundbüro", 6, ""),
    Rate(10173, "32-30", "Bewohnerparkausweis beantragen", "Straßenverkehrsbehörde", 5, ""),
    Rate(10348, "66-01", "Sondernutzung von Straßen beantragen", "Tiefbauamt", 2, "Sondernutzungssatzung"),
)
# Bad Salzuflen's own choices (the story of issue 19): online appointments and advice for
# the Bürgerbüro, the dog tax still on a PDF form.
SALZUFLEN_CHANNELS = {10124: "appointment", 10119: "appointment", 10160: "pdf", 10110: "online_form",
                      10019: "online_form", 10294: "pdf", 10244: "analog", 10173: "analog", 10348: "analog"}
# How likely a neighbour's process is still analog / PDF / online, per Leistung (demo).
CHANNEL_WEIGHTS = {"analog": 5, "pdf": 3, "online_form": 2, "end_to_end": 1, "appointment": 1}
SOLUTIONS = {"online_form": "Formularserver des Kreises (Demo)", "end_to_end": "Fachverfahren mit Online-Antrag (Demo)",
             "appointment": "Online-Terminvergabe (Demo)"}


def demo_registers_loaded(session: Session, salzuflen_ags: str = "05766008") -> bool:
    """Tell whether the demo registers are present (Bad Salzuflen has a register)."""
    org = session.scalar(select(Organisation).where(Organisation.ags == salzuflen_ags))
    return org is None or session.scalar(
        select(ProcessRegister.id).where(ProcessRegister.organisation_id == org.id)) is not None


def _officer(session: Session, org: Organisation) -> User | None:
    return session.scalar(select(User).where(User.organisation_id == org.id, User.role == "officer",
                                             User.active.is_(True)).order_by(User.id))


def load_demo_registers(session: Session, salzuflen_ags: str, neighbour_ags: list[str]) -> int:
    """Create the demo registers (once) and return how many processes they hold."""
    if demo_registers_loaded(session, salzuflen_ags):
        return 0
    from .accounts import create_user
    from .demo import DEMO_PASSWORD

    orgs = [session.scalar(select(Organisation).where(Organisation.ags == a)) for a in [salzuflen_ags] + neighbour_ags]
    admin = session.scalar(select(User).where(User.role == "admin").order_by(User.id))
    lemgo = next((o for o in orgs if o is not None and o.ags == "05766044"), None)
    offer = _fundsachen_offer(session, lemgo, admin) if lemgo is not None and admin is not None else None
    total = 0
    for org in orgs:
        if org is None:
            continue
        user = _officer(session, org) or create_user(
            session, f"register@{org.ags}.example", f"Prozessregister {org.short_name}", DEMO_PASSWORD,
            "officer", org)
        rng = random.Random(int(org.ags))
        rows = []
        for rate in RATES:
            if org.ags != salzuflen_ags and rng.random() < 0.12:
                continue  # not every municipality has recorded every process yet
            channel = SALZUFLEN_CHANNELS[rate.ozg_id] if org.ags == salzuflen_ags else rng.choices(
                list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0]
            cases = round((org.population or 0) * rate.per_1000 / 1000 * rng.uniform(0.85, 1.15))
            own = bool(rate.statute)
            row = {
                "process_key": rate.key, "name": rate.name, "ozg_id": rate.ozg_id, "unit": rate.unit,
                "cases": cases, "cases_year": DEMO_YEAR, "channel": channel,
                "solution_text": SOLUTIONS.get(channel, ""), "own_statute": own,
                "statute_ref": f"{rate.statute} {org.short_name} (Demo)" if own else "",
                "priority": rng.choice([None, 1, 2, 3, 4]),
                "notes": DEMO_NOTE.format(rate=f"{rate.per_1000:g}".replace(".", ",")),
            }
            if offer is not None and org.id == lemgo.id and rate.ozg_id == 10244:
                row.update(channel="end_to_end", solution_listing=offer.slug, solution_text="")
            rows.append((len(rows) + 2, row))
        process_register.upsert_entries(session, user, org, rows)
        process_register.set_visibility(session, user, org, {"visibility": "network"})
        total += len(rows)
    return total


def _fundsachen_offer(session: Session, lemgo: Organisation, admin: User) -> Listing | None:
    """Publish Lemgo's online lost-property service, offered for reuse (a second solution in the story)."""
    officer = _officer(session, lemgo)
    if officer is None:
        return None
    listing = listings.create_listing(session, officer, {
        "kind": "dienst", "title": "Fundbüro online",
        "summary": "Fundsachen online melden, suchen und die Abholung vereinbaren – für Kommunen im Kreis Lippe nachnutzbar.",
        "description": "Lemgo betreibt das Fundbüro online seit 2024. Andere Kommunen können das Verfahren "
                       "mit eigenem Mandanten übernehmen (Demo-Eintrag).",
        "tags": ["Fundbüro", "Bürgerservice"], "ozg_ids": [10244], "phase": "live",
        "reifegrad": 3, "reifegrad_model": "1.1", "reuse_offered": True, "cost_model": "cost_sharing",
        "reuse_terms": "Mandant auf unserer Plattform; Betriebskosten werden nach Einwohnerzahl geteilt.",
        "contact_name": officer.name, "contact_email": officer.email,
    })
    listings.submit_for_review(session, officer, listing)
    moderation.approve(session, admin, listing, "Geprüft (Demo).")
    return listing
