"""Load realistic demo content built on the real reference data.

Everything is created through the services (as a user would), then back-dated so the
timelines look lived-in. Demo accounts exist only together with the demo content.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import (
    Listing,
    Network,
    NetworkMembership,
    Organisation,
    Reuse,
    StatusUpdate,
    User,
    utcnow,
)
from . import accounts, listings, moderation, reuse
from .reference import read_json

DEMO_PASSWORD = "marktplatz-demo"

ANDI = [
    "08311000",  # Freiburg im Breisgau
    "08222000",  # Mannheim
    "08435016",  # Friedrichshafen
    "08421000",  # Ulm
    "08335043",  # Konstanz
    "08215017",  # Ettlingen
    "08212000",  # Karlsruhe
    "08221000",  # Heidelberg
    "08111000",  # Stuttgart
    "08416041",  # Tübingen
    "08118048",  # Ludwigsburg
    "08415061",  # Reutlingen
    "08231000",  # Pforzheim
    "08121000",  # Heilbronn
    "08116019",  # Esslingen am Neckar
    "08317096",  # Offenburg
    "08215009",  # Bruchsal
]
LIPPE_NEIGHBOURS = [
    "05766004", "05766012", "05766016", "05766020", "05766024", "05766028", "05766032",
    "05766036", "05766040", "05766044", "05766048", "05766052", "05766056", "05766060",
]
BAD_SALZUFLEN, TANGERHUETTE, MUENCHEN, BERLIN = "05766008", "15090546", "09162000", "11000000"
# The municipalities of the stories above; the demo catalogue (demo_catalogue.py) leaves them alone.
STORY_AGS = frozenset(ANDI + LIPPE_NEIGHBOURS + [BAD_SALZUFLEN, TANGERHUETTE, MUENCHEN, BERLIN])

# (AGS, kind, phase, reifegrad_model, reifegrad, title suffix, platform)
DOG_TAX = [
    ("08311000", "dienst", "live", "2.0", 5, "Hundesteuer-Anmeldung online", "Service-BW"),
    ("08222000", "dienst", "live", "1.1", 3, "Hundesteuer online an- und abmelden", "Eigenentwicklung auf Basis Formular-Server"),
    ("08435016", "projekt", "in_progress", "2.0", 2, "Digitale Hundesteuer", None),
    ("08421000", "dienst", "live", "1.1", 4, "Hundesteuer-Service", "Service-BW"),
    ("08212000", "dienst", "live", "2.0", 4, "Hundesteuer digital", "civento"),
    ("08221000", "projekt", "planned", None, None, "Hundesteuer Ende-zu-Ende digital", None),
    ("08111000", "dienst", "live", "1.1", 3, "Hundesteuer: Anmeldung, Abmeldung, Befreiung", "Stuttgart Service-Portal"),
    ("08416041", "projekt", "idea", None, None, "Hundesteuer-Marke digital", None),
    ("08118048", "dienst", "in_progress", "2.0", 3, "Hundesteuer-Onlineantrag", "Service-BW"),
    ("08415061", "projekt", "in_progress", "1.1", 2, "Hundesteuer online", None),
    ("08231000", "dienst", "live", "1.1", 2, "Hundesteuer-Formular", "PDF-Formular mit Online-Versand"),
    ("08121000", "projekt", "stopped", None, None, "Hundesteuer-App", None),
    ("08116019", "dienst", "live", "2.0", 4, "Hundesteuer online", "Service-BW"),
    ("08317096", "projekt", "planned", None, None, "Hundesteuer im Bürgerportal", None),
]
DOG_TAX_REUSERS = [("08215017", "production"), ("08335043", "pilot")]  # Ettlingen, Konstanz

TANGERHUETTE_SERVICES = [
    (10124, "Wohnsitz an- und abmelden", "Meldebescheinigung und Wohnsitzanmeldung online, mit Online-Ausweis."),
    (10160, "Hund anmelden", "Hundesteuer-Anmeldung im Digitalen Rathaus, ohne Termin."),
    (10294, "Gewerbe anmelden", "Gewerbeanzeige online einreichen, Bestätigung per E-Mail."),
    (10173, "Bewohnerparkausweis beantragen", "Parkausweis für Anwohnende online beantragen und bezahlen."),
]

BERLIN_LICENCE_FIX = {"GPL-3.0": "GPL-3.0-only", "AGPL-3.0": "AGPL-3.0-only", "EUPL": "EUPL-1.2"}

Progress = Callable[[str, int], None]


def _noop(_label: str, _n: int) -> None:
    pass


def demo_loaded(session: Session) -> bool:
    """Tell whether the demo content is present."""
    return session.scalar(select(func.count(Network.id))) != 0


def _org(session: Session, ags: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.ags == ags))
    if org is None:
        raise RuntimeError(f"Reference data missing municipality {ags}; run 'marktplatz data load-reference'.")
    return org


def _website(org: Organisation) -> str:
    base = org.short_name.lower().split(" ")[0]
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        base = base.replace(a, b)
    return f"https://www.{base}.de"


def _backdate(session: Session, listing: Listing, days_ago: int) -> None:
    when = utcnow() - timedelta(days=days_ago)
    listing.created_at = when
    if listing.submitted_at is not None:
        listing.submitted_at = when + timedelta(days=1)
    if listing.published_at is not None:
        listing.published_at = when + timedelta(days=3)
    listing.updated_at = when + timedelta(days=5)


def _publish(session: Session, officer: User, reviewer: User, listing: Listing, fallback: User | None = None) -> None:
    """Submit and approve; four-eyes: a coordinator's own municipality is approved by fallback."""
    listings.submit_for_review(session, officer, listing)
    if reviewer.organisation_id == listing.organisation_id and fallback is not None:
        reviewer = fallback
    moderation.approve(session, reviewer, listing, "Geprüft, danke!")


def load_demo(session: Session, progress: Progress = _noop) -> dict[str, int]:
    """Create the demo networks, accounts, listings, timelines and reuses (once)."""
    if demo_loaded(session):
        progress("Demo-Inhalte bereits vorhanden", 0)
        return {}
    rng = random.Random(10160)
    now = utcnow()

    # Networks and memberships
    andi = Network(
        slug="andi",
        name="ANDI – Agiles Netzwerk Digitale Innovation",
        description="Netzwerk baden-württembergischer Kommunen, die Digitalisierungsprojekte teilen und gemeinsam nachnutzen.",
    )
    lippe = Network(
        slug="lippe-digital",
        name="Digitale Verwaltung Lippe",
        description="Bad Salzuflen und die Nachbarkommunen im Kreis Lippe tauschen ihr Prozessregister aus und setzen Prioritäten nach Fallzahlen und Satzungsrecht.",
    )
    session.add_all([andi, lippe])
    for i, ags in enumerate(ANDI):
        andi.memberships.append(NetworkMembership(organisation=_org(session, ags), joined_at=now - timedelta(days=700 - i * 20)))
    lippe.memberships.append(NetworkMembership(organisation=_org(session, BAD_SALZUFLEN), joined_at=now - timedelta(days=400)))
    for ags in LIPPE_NEIGHBOURS:
        lippe.memberships.append(NetworkMembership(organisation=_org(session, ags), joined_at=now - timedelta(days=380)))
    kreis_lippe = session.scalar(select(Organisation).where(Organisation.key == "05766"))
    if kreis_lippe is not None:
        lippe.memberships.append(NetworkMembership(organisation=kreis_lippe, joined_at=now - timedelta(days=380)))
    for ags in ANDI + [BAD_SALZUFLEN, TANGERHUETTE, MUENCHEN, BERLIN] + LIPPE_NEIGHBOURS:
        org = _org(session, ags)
        org.website = org.website or _website(org)
        org.contact_email = org.contact_email or f"digital@{_website(org).removeprefix('https://www.')}"
    session.flush()
    progress("Netzwerke", 2)

    # Accounts, one per role
    def officer(ags: str, email: str, name: str) -> User:
        return accounts.create_user(session, email, name, DEMO_PASSWORD, "officer", _org(session, ags))

    admin = accounts.create_user(session, "admin@marktplatz.example", "Plattform-Administration", DEMO_PASSWORD, "admin")
    coord_andi = accounts.create_user(
        session, "koordination@andi.example", "Katrin Vogel (ANDI)", DEMO_PASSWORD, "coordinator", _org(session, "08212000"), [andi]
    )
    coord_lippe = accounts.create_user(
        session, "koordination@lippe.example", "Jens Brinkmann (Lippe)", DEMO_PASSWORD, "coordinator",
        # The Kreis coordinates: Bad Salzuflen's own entries need another pair of eyes.
        kreis_lippe or _org(session, LIPPE_NEIGHBOURS[0]), [lippe]
    )
    freiburg = officer("08311000", "digital@freiburg.example", "Martin Albrecht")
    officers: dict[str, User] = {"08311000": freiburg}
    names = ["Sabine Keller", "Thomas Wagner", "Julia Schneider", "Andreas Becker", "Petra Hoffmann",
             "Michael Braun", "Claudia Richter", "Stefan Wolf", "Anja Neumann", "Frank Schwarz",
             "Birgit Zimmermann", "Markus Krüger", "Nicole Hartmann", "Ralf Lange", "Heike Schmitt", "Uwe Krause"]
    for i, ags in enumerate(a for a in ANDI if a != "08311000"):
        org = _org(session, ags)
        slug = _website(org).removeprefix("https://www.").removesuffix(".de")
        officers[ags] = officer(ags, f"digital@{slug}.example", names[i % len(names)])
    salzuflen = officer(BAD_SALZUFLEN, "digital@bad-salzuflen.example", "Lena Niemeyer")
    tangerhuette = officer(TANGERHUETTE, "digital@tangerhuette.example", "Olaf Behrendt")
    muenchen = officer(MUENCHEN, "opensource@muenchen.example", "it@M Open Source")
    berlin = officer(BERLIN, "opensource@berlin.example", "Open Source Berlin")
    lemgo = officer("05766044", "digital@lemgo.example", "Carsten Meier")
    progress("Konten", session.scalar(select(func.count(User.id))) or 0)

    created = 0
    # The dog-tax story: 14 BW municipalities, one offers reuse, two reuse it.
    hundesteuer_leika = ["99102013000000", "99102013002000", "99102013010000"]
    offered: Listing | None = None
    for i, (ags, kind, phase, model, grad, title, platform) in enumerate(DOG_TAX):
        user = officers[ags]
        org = user.organisation
        is_offer = ags == "08311000"
        data: dict[str, Any] = {
            "kind": kind,
            "title": title,
            "summary": (
                f"{org.short_name}: Hundehalterinnen und Hundehalter melden ihren Hund online an, "
                "ab oder beantragen eine Steuerbefreiung."
            ),
            "description": _dog_description(org.short_name, kind, platform, is_offer),
            "tags": ["Hundesteuer", "Steuern", "Bürgerservice"] + (["Service-BW"] if platform == "Service-BW" else []),
            "ozg_ids": [10160],
            "leika_keys": hundesteuer_leika[: 1 + i % 3],
            "phase": phase,
            "reifegrad": grad,
            "reifegrad_model": model,
            "platform": platform,
            "contact_name": user.name,
            "contact_email": user.email,
            "website_url": _website(org) + "/hundesteuer",
            "reuse_offered": is_offer,
            "reuse_terms": (
                "Nachnutzung über Service-BW ohne Lizenzkosten; wir teilen Prozessmodell, "
                "Formularvorlage und Bescheidtexte. Einrichtung ca. 2 Personentage."
            ) if is_offer else "",
            "cost_model": "free" if is_offer else None,
            "looking_for_partners": kind == "projekt" and phase in ("idea", "planned"),
        }
        listing = listings.create_listing(session, user, data)
        _publish(session, user, coord_andi, listing, fallback=admin)
        _backdate(session, listing, 600 - i * 35)
        _timeline(session, user, listing, rng)
        if is_offer:
            offered = listing
        created += 1
    session.flush()
    assert offered is not None
    for ags, stage in DOG_TAX_REUSERS:
        user = officers[ags]
        r = reuse.declare_reuse(session, user, offered, {"stage": "interested", "note": "Wir prüfen die Übernahme."})
        for nxt in ("evaluating", "pilot", "production"):
            reuse.change_reuse_stage(session, user, r, {"stage": nxt, "note": _reuse_note(nxt)})
            if nxt == stage:
                break
        _backdate_reuse(r, 200 if stage == "production" else 90)
    progress("Hundesteuer-Geschichte", created)

    # Tangerhütte's Digitales Rathaus, sorted by OZG-Leistungen.
    rathaus = listings.create_listing(session, tangerhuette, {
        "kind": "projekt",
        "title": "Digitales Rathaus Tangerhütte",
        "summary": "Alle Online-Dienste der Stadt an einem Ort, sortiert nach OZG-Leistungen – mit Fokus auf einfache Bedienung statt Abhaken der OZG-Liste.",
        "description": (
            "## Worum es geht\n\nDas Digitale Rathaus bündelt die Online-Dienste der Einheitsgemeinde "
            "Tangerhütte. Wir sortieren nach OZG-Leistungen, aber **gestalten jede Seite so, dass auch "
            "ältere Menschen sie ohne Hilfe nutzen können**.\n\n## Was wir teilen\n\n"
            "- Seitenstruktur und Texte in Leichter Sprache\n- Erfahrungen mit kleinen Verwaltungen\n"
        ),
        "tags": ["Bürgerportal", "Barrierefreiheit", "Kleine Kommune"],
        "ozg_ids": [t[0] for t in TANGERHUETTE_SERVICES],
        "phase": "live",
        "looking_for_partners": True,
        "partners": "Landkreis Stendal (Beratung)",
        "contact_name": tangerhuette.name,
        "contact_email": tangerhuette.email,
    })
    _publish(session, tangerhuette, admin, rathaus)
    _backdate(session, rathaus, 420)
    _timeline(session, tangerhuette, rathaus, rng)
    for ozg_id, title, summary in TANGERHUETTE_SERVICES:
        svc = listings.create_listing(session, tangerhuette, {
            "kind": "dienst", "title": title, "summary": summary,
            "description": f"Teil des Digitalen Rathauses Tangerhütte. {summary}",
            "tags": ["Digitales Rathaus"], "ozg_ids": [ozg_id], "phase": "live",
            "reifegrad": 3, "reifegrad_model": "1.1", "platform": "Digitales Rathaus Tangerhütte",
            "website_url": "https://www.tangerhuette.de/rathaus",
        })
        _publish(session, tangerhuette, admin, svc)
        _backdate(session, svc, rng.randint(60, 380))
        created += 1

    # Bad Salzuflen's process register, first shared with the Lippe network only.
    register = listings.create_listing(session, salzuflen, {
        "kind": "projekt",
        "title": "Gemeinsames Prozessregister Lippe",
        "summary": "Bad Salzuflen und 14 Nachbarkommunen pflegen ein gemeinsames Prozessregister und leiten Digitalisierungsprioritäten aus Fallzahlen und Satzungen ab.",
        "description": (
            "Wir erfassen alle Verwaltungsprozesse mit **Fallzahlen pro Jahr** und der örtlichen "
            "Satzungslage. Daraus ergibt sich, welche Leistungen sich zuerst lohnen.\n\n"
            "Zunächst nur im Netzwerk geteilt, bis die Datenqualität stimmt."
        ),
        "tags": ["Prozessregister", "Priorisierung", "Interkommunale Zusammenarbeit"],
        "visibility": "network", "phase": "in_progress", "looking_for_partners": True,
        "partners": ", ".join(_org(session, a).short_name for a in LIPPE_NEIGHBOURS),
        "contact_name": salzuflen.name, "contact_email": salzuflen.email,
    })
    _publish(session, salzuflen, coord_lippe, register)
    _backdate(session, register, 300)
    _timeline(session, salzuflen, register, rng)
    reuse.declare_reuse(session, lemgo, register, {"stage": "pilot", "note": "Wir übernehmen die Struktur für unsere Fachbereiche."})
    waste = listings.create_listing(session, salzuflen, {
        "kind": "dienst", "title": "Sperrmüll-Termin online", "summary": "Sperrmüllabholung online beantragen und Termin wählen.",
        "description": "Bürgerinnen und Bürger wählen ihren Abholtermin selbst.", "tags": ["Abfall"],
        "ozg_ids": [10110], "phase": "live", "reifegrad": 3, "reifegrad_model": "1.1",
    })
    listings.submit_for_review(session, salzuflen, waste)  # waits in the Lippe coordinator's queue
    created += 2

    # Real open-source components of München and Berlin.
    created += _components(session, muenchen, berlin, admin, rng)
    progress("Einträge", created)
    from .demo_catalogue import load_demo_catalogue

    catalogue = load_demo_catalogue(session, admin, DEMO_PASSWORD, STORY_AGS)
    created += catalogue.get("listings", 0)
    progress("Beispiel-Katalog (Demo)", catalogue.get("listings", 0))
    from .demo_registers import load_demo_registers

    progress("Prozessregister (Demo-Zahlen)", load_demo_registers(session, BAD_SALZUFLEN, LIPPE_NEIGHBOURS))
    return {"listings": created, "users": session.scalar(select(func.count(User.id))) or 0}


def load_missing_catalogue(session: Session) -> int:
    """Add the demo catalogue to a demo loaded before it existed; return how many listings it added."""
    from .demo_catalogue import catalogue_loaded, load_demo_catalogue

    admin = session.scalar(select(User).where(User.email == "admin@marktplatz.example", User.role == "admin"))
    if admin is None or catalogue_loaded(session):
        return 0
    return load_demo_catalogue(session, admin, DEMO_PASSWORD, STORY_AGS).get("listings", 0)


def _dog_description(city: str, kind: str, platform: str | None, is_offer: bool) -> str:
    text = (
        f"## Ausgangslage\n\nIn {city} wurden An- und Abmeldungen zur Hundesteuer bisher auf Papier "
        "bearbeitet. Pro Jahr gehen mehrere tausend Vorgänge ein.\n\n"
    )
    if kind == "dienst":
        text += f"## Lösung\n\nDer Online-Dienst läuft auf **{platform}**. Bescheide gehen digital ins Steuerverfahren.\n\n"
    else:
        text += "## Vorhaben\n\nWir wollen die Hundesteuer Ende-zu-Ende digitalisieren und suchen Partner.\n\n"
    if is_offer:
        text += "## Nachnutzung\n\nAndere Kommunen können den Dienst übernehmen. Sprechen Sie uns an!\n"
    return text


def _timeline(session: Session, user: User, listing: Listing, rng: random.Random) -> None:
    steps = {
        "idea": [("Idee vorgestellt", "Im Fachbereich vorgestellt, Zustimmung der Amtsleitung.")],
        "planned": [("Idee vorgestellt", "Bedarf erhoben."), ("Planung abgeschlossen", "Zeitplan und Budget stehen.")],
        "in_progress": [("Projektstart", "Kick-off mit Fachamt und IT."), ("Prototyp fertig", "Erste Tests mit Bürgerinnen und Bürgern.")],
        "live": [("Projektstart", "Kick-off mit Fachamt und IT."), ("Pilotbetrieb", "Vier Wochen Pilot mit ausgewählten Nutzenden."), ("Online", "Der Dienst ist für alle freigeschaltet.")],
        "stopped": [("Projektstart", "Kick-off."), ("Projekt eingestellt", "Wir nutzen stattdessen eine Landeslösung.")],
    }.get(listing.phase or "", [])
    # The history ends shortly before the listing was published (call after _backdate).
    last = (listing.published_at or utcnow()) - timedelta(days=rng.randint(1, 30))
    for n, (title, body) in enumerate(steps):
        when = last - timedelta(days=40 * (len(steps) - 1 - n))
        upd = StatusUpdate(listing=listing, author=user, title=title, body=body, created_at=when)
        session.add(upd)
    session.flush()


def _reuse_note(stage: str) -> str:
    return {
        "evaluating": "Fachamt und Datenschutz prüfen die Unterlagen.",
        "pilot": "Pilot mit dem Bürgerbüro gestartet.",
        "production": "Seit diesem Monat für alle Bürgerinnen und Bürger in Betrieb.",
    }[stage]


def _backdate_reuse(r: Reuse, days: int) -> None:
    start = utcnow() - timedelta(days=days)
    r.created_at = start
    for n, change in enumerate(r.history):
        change.changed_at = start + timedelta(days=20 * n)
    r.updated_at = r.history[-1].changed_at


def _components(session: Session, muenchen: User, berlin: User, admin: User, rng: random.Random) -> int:
    created = 0
    mdata = read_json("oss_muenchen_it-at-m.json")
    for item in mdata["items"]:
        if not item.get("in_house_development"):
            continue
        licence = {"EUPL": "EUPL-1.2"}.get(item.get("license") or "", item.get("license"))
        tags = [t for t in item.get("tags", []) if t not in ("eigenentwicklung",) and not t.startswith("start")]
        archived = "archive" in tags
        code = item.get("code") or None
        listing = listings.create_listing(session, muenchen, {
            "kind": "komponente",
            "title": item["title"],
            "summary": _clip(item.get("summary_de") or item.get("summary_en") or item["title"]),
            "description": (item.get("summary_de") or "") + "\n\nQuelle: opensource.muenchen.de (it@M).",
            "tags": [t for t in tags if t != "archive"][:8] + ["Open Source"],
            "licence": licence,
            "repository_url": code if code and code.startswith("https://github.com/it-at-m/") else None,
            "website_url": code,
            "maintenance": "archived" if archived else "active",
            "technologies": "Kubernetes" if "k8s" in tags else None,
            "reuse_offered": not archived,
            "reuse_terms": "" if archived else f"Open Source unter {licence}; Nachnutzung ausdrücklich erwünscht.",
            "cost_model": "free",
            "external_id": f"it-at-m/{item['slug']}",
        })
        _publish(session, muenchen, admin, listing)
        _backdate(session, listing, rng.randint(30, 900))
        created += 1
    bdata = read_json("oss_berlin_portal.json")
    for item in bdata["items"]:
        licence = item.get("license") or (item.get("github") or {}).get("license")
        licence = BERLIN_LICENCE_FIX.get(licence or "", licence)
        try:
            from ..schemas.listing import normalise_licence

            licence = normalise_licence(licence) if licence else None
        except Exception:  # noqa: BLE001 - an unknown licence string is dropped, not guessed
            licence = None
        archived = bool((item.get("github") or {}).get("is_archived"))
        listing = listings.create_listing(session, berlin, {
            "kind": "komponente",
            "title": item["title"],
            "summary": _clip(item.get("abstract") or item["title"]),
            "description": (item.get("summary_de") or item.get("abstract") or "")
            + "\n\nQuelle: Berlin Open Source Portal (Technologiestiftung Berlin).",
            "tags": [t for t in item.get("tags", [])][:8] + ["Open Source"],
            "licence": licence,
            "repository_url": item.get("repository") or None,
            "website_url": item.get("link") or None,
            "technologies": ", ".join(item.get("languages") or []) or None,
            "maintenance": "archived" if archived else "maintained",
            "partners": ", ".join(item.get("backers") or []),
            "reuse_offered": bool(licence) and not archived,
            "reuse_terms": f"Open Source unter {licence}." if licence and not archived else "",
            "cost_model": "free",
            "external_id": f"berlin-oss/{item['id']}",
        })
        _publish(session, berlin, admin, listing)
        _backdate(session, listing, rng.randint(30, 900))
        created += 1
    session.flush()
    return created


def _clip(text: str, n: int = 300) -> str:
    text = " ".join(text.split())
    if len(text) < 10:
        text = (text + " – Open-Source-Komponente").strip()
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"
