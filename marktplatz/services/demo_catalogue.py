"""A lived-in demo catalogue: about 240 invented listings on 64 real municipalities (issue 15 item 7).

The municipalities, their Land, Kreis and population are real (Destatis GV100AD in the
reference data), and so are the OZG-Leistungen and LeiKa names the listings are tied to.
The listings themselves are INVENTED EXAMPLES: every description says "Beispieleintrag
(Demo)", and every figure in it that is not from the reference data is marked as a
Demo-Zahl. Nothing here touches the dog-tax story (no OZG 10160, no "Hund"), and the
Leistungen the search relevance set is built on (Wohnsitz, Gewerbe, Parkausweis, Kita,
Wahlen, Meldebescheinigung) are left out so that set still measures the same thing.

Everything goes through the services (accounts, listings, moderation, reuse) and is then
back-dated: status history before publication, reuse after it. A fixed seed keeps the
catalogue the same on every load; it is loaded once (it does nothing when its listings exist).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import LeikaLeistung, Listing, Organisation, OzgLeistung, StatusUpdate, User
from . import accounts, listings, reuse

SEED = 20260715
EXTERNAL_PREFIX = "demo-katalog/"
DEMO_MARK = ("_Beispieleintrag (Demo): ein erfundenes Beispiel auf einer realen Kommune. Name, Land, "
             "Kreis und Einwohnerzahl stammen aus dem Gemeindeverzeichnis (Destatis GV100AD); "
             "alle übrigen Zahlen sind Demo-Zahlen, keine echte Statistik._")
# Municipalities per Land: (Land code, how many of the largest, how many smaller towns).
QUOTAS = [
    ("01", 2, 2), ("02", 1, 0), ("03", 3, 3), ("04", 2, 0), ("05", 4, 4), ("06", 3, 2), ("07", 2, 2),
    ("08", 3, 3), ("09", 3, 4), ("10", 1, 1), ("12", 2, 2), ("13", 2, 1), ("14", 3, 2), ("15", 2, 1),
    ("16", 2, 2),
]
REUSES_PER_STAGE = 65
STAGE_PATHS = {
    "interested": ["interested"],
    "evaluating": ["interested", "evaluating"],
    "pilot": ["interested", "evaluating", "pilot"],
    "production": ["interested", "evaluating", "pilot", "production"],
}
DISCONTINUED_REASONS = [
    "Die Landeslösung deckt den Bedarf inzwischen ab.",
    "Die Schnittstelle zu unserem Fachverfahren war zu aufwendig.",
    "Nach dem Pilot zu wenige Fälle, der Aufwand lohnt sich für uns nicht.",
    "Der Kreis stellt eine gemeinsame Lösung für alle kreisangehörigen Kommunen bereit.",
    "Datenschutzprüfung nicht bestanden; wir warten auf die nächste Version.",
]
STAGE_NOTES = {
    "interested": ["Klingt passend, wir sehen uns die Unterlagen an.", "Interesse im Fachbereich, Gespräch vereinbart.",
                   "Vorgestellt im Arbeitskreis, wir melden uns."],
    "evaluating": ["Fachamt und Datenschutz prüfen die Unterlagen.", "Wir prüfen Schnittstellen und Kosten.",
                   "Testmandant eingerichtet, Prüfung läuft."],
    "pilot": ["Pilot mit einem Fachbereich gestartet.", "Pilot mit ausgewählten Bürgerinnen und Bürgern läuft.",
              "Pilotbetrieb seit diesem Quartal."],
    "production": ["Für alle Bürgerinnen und Bürger in Betrieb.", "Im Regelbetrieb, Rückmeldungen sind gut.",
                   "Läuft produktiv, wir teilen gern unsere Erfahrungen."],
}
FIRST = ["Anna", "Jonas", "Miriam", "Tobias", "Katharina", "Florian", "Sandra", "Daniel", "Melanie", "Christian",
         "Susanne", "Matthias", "Kerstin", "Sebastian", "Tanja", "Oliver", "Ines", "Patrick", "Silke", "Marco"]
LAST = ["Bauer", "Fischer", "Weber", "Meyer", "Schulz", "Koch", "Klein", "Schröder", "Lorenz", "Hahn",
        "Vogt", "Franke", "Busch", "Winter", "Haas", "Sommer", "Graf", "Kuhn", "Roth", "Brandt"]


@dataclass(frozen=True)
class Template:
    """One kind of entry a municipality might publish, tied to a real OZG-Leistung."""

    ozg_id: int
    kind: str  # dienst | projekt | komponente
    title: str
    what: str  # what it does, for the summary (German, no trailing full stop)
    unit: str  # the office that runs it
    per_1000: float  # assumed yearly cases per 1,000 inhabitants (Demo-Zahl)
    tags: tuple[str, ...]


TEMPLATES: tuple[Template, ...] = (
    Template(10110, "dienst", "Sperrmüllabholung online beantragen", "Sperrmüll online anmelden und den Abholtag wählen",
             "Abfallwirtschaft", 40, ("Abfall", "Umwelt")),
    Template(10244, "dienst", "Fundsachen online suchen und melden", "Verlorenes online suchen, Funde melden und die Rückgabe abstimmen",
             "Fundbüro", 6, ("Fundbüro", "Bürgerservice")),
    Template(10348, "dienst", "Sondernutzungserlaubnis für Straßen online", "Sondernutzung öffentlicher Straßen für Gerüste, Container und Außengastronomie beantragen",
             "Tiefbauamt", 2, ("Straßen", "Sondernutzung")),
    Template(10112, "dienst", "Baumfällantrag online", "Fällgenehmigung nach der Baumschutzsatzung online beantragen, mit Fotos und Lageplan",
             "Grünflächenamt", 1.5, ("Umwelt", "Baumschutz")),
    Template(10117, "dienst", "Grundsteuer: Bescheid und Lastschrift digital", "Grundsteuerbescheide digital empfangen und das Lastschriftmandat online erteilen",
             "Steueramt", 30, ("Steuern", "Grundsteuer")),
    Template(10126, "dienst", "Zweitwohnungsteuer online erklären", "die Zweitwohnungsteuer-Erklärung online abgeben und Nachweise hochladen",
             "Steueramt", 3, ("Steuern",)),
    Template(10092, "dienst", "Wohngeldantrag online", "Wohngeld online beantragen, Nachweise hochladen und den Bearbeitungsstand sehen",
             "Wohngeldstelle", 8, ("Soziales", "Wohngeld")),
    Template(10119, "dienst", "Personalausweis: Antrag vorbereiten und Abholstatus abfragen", "den Personalausweis-Antrag vorbereiten und online sehen, wann das Dokument abholbereit ist",
             "Einwohnermeldeamt", 60, ("Ausweise", "Bürgerservice")),
    Template(10177, "dienst", "Reisepass: Abholbereitschaft online prüfen", "online prüfen, ob der Reisepass abholbereit ist, und den Express-Antrag vorbereiten",
             "Einwohnermeldeamt", 25, ("Ausweise", "Reisen")),
    Template(10026, "dienst", "Eheschließung online vorbereiten", "die Unterlagen zur Eheschließung online einreichen und den Trauort wählen",
             "Standesamt", 4, ("Standesamt", "Familie")),
    Template(10557, "dienst", "Geburtsurkunde online bestellen", "Geburtsurkunden und beglaubigte Registerausdrucke online bestellen und bezahlen",
             "Standesamt", 15, ("Standesamt", "Urkunden")),
    Template(10237, "dienst", "Sterbeurkunde online anfordern", "Sterbeurkunden für Angehörige und Bestatter online anfordern",
             "Standesamt", 12, ("Standesamt", "Urkunden")),
    Template(10227, "dienst", "Grabstelle und Bestattung digital beantragen", "Grabnutzungsrechte verlängern und Bestattungen mit dem Bestatter digital abstimmen",
             "Friedhofsverwaltung", 11, ("Friedhof", "Bestattung")),
    Template(10136, "dienst", "Mängelmelder für Straßen und Grünflächen", "Schlaglöcher, defekte Laternen und wilden Müll mit Foto und Standort melden",
             "Bauhof", 20, ("Mängelmelder", "Straßen")),
    Template(10148, "dienst", "Fischereischein online beantragen", "den Fischereischein online beantragen und die Gebühr direkt bezahlen",
             "Ordnungsamt", 1, ("Freizeit", "Ordnungsamt")),
    Template(10349, "dienst", "Veranstaltungen online anzeigen", "Straßenfeste, Umzüge und Märkte online anzeigen, mit Sicherheitskonzept als Anlage",
             "Ordnungsamt", 1.2, ("Veranstaltungen", "Ordnungsamt")),
    Template(10377, "dienst", "Vergnügungsteuer-Erklärung online", "die monatliche Vergnügungsteuer-Erklärung für Spielgeräte online abgeben",
             "Steueramt", 0.3, ("Steuern",)),
    Template(10519, "dienst", "Digitaler Bauantrag", "Bauanträge und Bauvoranfragen digital einreichen und den Stand des Verfahrens verfolgen",
             "Bauordnungsamt", 4, ("Bauen", "Bauantrag")),
    Template(10525, "dienst", "Denkmalrechtliche Genehmigung online beantragen", "Veränderungen an Kulturdenkmalen online beantragen, mit Plänen und Fotos",
             "Untere Denkmalschutzbehörde", 0.4, ("Denkmalschutz", "Bauen")),
    Template(10123, "dienst", "Wasserzählerstand online melden", "den Stand des Wasserzählers online melden und Abschläge anpassen",
             "Stadtwerke / Abwasserbetrieb", 300, ("Wasser", "Gebühren")),
    Template(10023, "dienst", "Musikschule: Anmeldung online", "Kinder und Erwachsene online zum Unterricht an der Musikschule anmelden",
             "Musikschule", 5, ("Kultur", "Bildung")),
    Template(10014, "dienst", "Bibliotheksausweis online beantragen", "den Bibliotheksausweis online beantragen und Medien sofort digital ausleihen",
             "Stadtbibliothek", 10, ("Bibliothek", "Kultur")),
    Template(10040, "dienst", "Hortplatz online anmelden", "einen Hortplatz für Grundschulkinder online anmelden und Betreuungszeiten wählen",
             "Schulverwaltungsamt", 3, ("Schule", "Familie")),
    Template(10042, "dienst", "Schülerfahrkarte online beantragen", "die Erstattung oder Ausgabe der Schülerfahrkarte online beantragen",
             "Schulverwaltungsamt", 12, ("Schule", "Mobilität")),
    Template(10105, "dienst", "Seniorenpass digital", "den Seniorenpass online beantragen und Vergünstigungen digital nachweisen",
             "Seniorenbüro", 6, ("Senioren", "Soziales")),
    Template(10016, "dienst", "Familienpass online beantragen", "den Familienpass für Vergünstigungen bei Bädern, Museen und Kursen online beantragen",
             "Familienbüro", 7, ("Familie", "Soziales")),
    Template(10417, "dienst", "Abgeschleppte Fahrzeuge online finden", "nach dem Kennzeichen suchen, wohin ein Fahrzeug gebracht wurde, und die Kosten online bezahlen",
             "Ordnungsamt", 2, ("Mobilität", "Ordnungsamt")),
    Template(10418, "dienst", "Ausnahmegenehmigung für den Lieferverkehr", "Ausnahmegenehmigungen für Lieferfahrten in die Fußgängerzone online beantragen",
             "Straßenverkehrsbehörde", 1.5, ("Mobilität", "Verkehr")),
    Template(10147, "dienst", "Brauchtumsfeuer online anzeigen", "Oster- und Brauchtumsfeuer online anzeigen, mit Lageplan und verantwortlicher Person",
             "Ordnungsamt", 0.5, ("Ordnungsamt", "Brauchtum")),
    Template(10257, "dienst", "Einbürgerung: Antrag online vorbereiten", "den Einbürgerungsantrag online vorbereiten und Unterlagen vorab prüfen lassen",
             "Staatsangehörigkeitsbehörde", 2, ("Einbürgerung", "Migration")),
    Template(10571, "dienst", "Beglaubigungen online beantragen", "amtliche Beglaubigungen von Abschriften online beantragen und per Post erhalten",
             "Bürgeramt", 9, ("Urkunden", "Bürgerservice")),
    Template(10522, "dienst", "Bodenrichtwertauskunft online", "Bodenrichtwerte und Grundstücksmarktberichte des Gutachterausschusses online abrufen",
             "Gutachterausschuss", 1, ("Bauen", "Geoinformation")),
    Template(10108, "dienst", "Vorkaufsrechtsanfrage für Notariate", "Notariate fragen das gemeindliche Vorkaufsrecht online an und erhalten das Negativzeugnis digital",
             "Liegenschaftsamt", 3, ("Bauen", "Notariate")),
    Template(10035, "dienst", "Unterhaltsvorschuss online beantragen", "Unterhaltsvorschuss für Alleinerziehende online beantragen",
             "Jugendamt", 2, ("Familie", "Soziales")),
    Template(10227, "projekt", "E-Akte in der Friedhofsverwaltung", "Grabakten, Nutzungsrechte und Gebührenbescheide in die E-Akte überführen",
             "Friedhofsverwaltung", 11, ("E-Akte", "Friedhof")),
    Template(10519, "projekt", "Digitale Bauakte", "das Baugenehmigungsverfahren vom Antrag bis zum Bescheid medienbruchfrei führen",
             "Bauordnungsamt", 4, ("Bauen", "E-Akte")),
    Template(10244, "projekt", "Fundbüro Ende-zu-Ende digital", "Fundsachen vom Eingang bis zur Versteigerung in einem Verfahren führen",
             "Fundbüro", 6, ("Fundbüro", "Ende-zu-Ende")),
    Template(10557, "projekt", "Standesamt ohne Papier", "Urkundenbestellungen und Anmeldungen im Standesamt vollständig digital bearbeiten",
             "Standesamt", 15, ("Standesamt", "E-Akte")),
    Template(10110, "projekt", "Abfall-App mit Erinnerungsfunktion", "Abfuhrtermine, Sperrmüll und Wertstoffhöfe in einer App mit Erinnerung bündeln",
             "Abfallwirtschaft", 40, ("Abfall", "App")),
    Template(10348, "projekt", "Baustellenkoordination digital", "Sondernutzungen und Aufbrüche im Straßenraum gemeinsam mit Leitungsträgern planen",
             "Tiefbauamt", 2, ("Straßen", "Koordination")),
    Template(10117, "projekt", "Steuerbescheide digital zustellen", "Grundsteuer- und Abgabenbescheide über das Postfach des Nutzerkontos zustellen",
             "Steueramt", 30, ("Steuern", "Postfach")),
    Template(10092, "projekt", "Wohngeld-Antragsstrecke Ende-zu-Ende", "Wohngeldanträge vom Online-Antrag bis zum Bescheid ohne Medienbruch bearbeiten",
             "Wohngeldstelle", 8, ("Soziales", "Ende-zu-Ende")),
    Template(10136, "komponente", "Mängelmelder-Modul (Open Source)", "ein Open-Source-Modul für Meldungen mit Foto, Karte und Rückmeldung an die Meldenden",
             "Bauhof", 20, ("Mängelmelder", "Open Source")),
    Template(10110, "komponente", "Abfallkalender-Widget (Open Source)", "ein einbettbares Widget für Abfuhrtermine mit iCal-Export und Erinnerung",
             "Abfallwirtschaft", 40, ("Abfall", "Open Source")),
    Template(10227, "komponente", "Friedhofsplan-Viewer (Open Source)", "eine Kartenansicht für Grabfelder und freie Grabstellen auf Basis offener Geodaten",
             "Friedhofsverwaltung", 11, ("Friedhof", "Open Source")),
    Template(10244, "komponente", "Fundsachen-Datenbank (Open Source)", "eine schlanke Datenbank für Fundsachen mit öffentlicher Suche und Export",
             "Fundbüro", 6, ("Fundbüro", "Open Source")),
)
LICENCES = ["EUPL-1.2", "EUPL-1.2", "MIT", "AGPL-3.0-only", "Apache-2.0"]
PLATFORMS = ["Serviceportal {land}", "Formularserver des Landes", "Fachverfahren mit Online-Antrag",
             "Eigenentwicklung", "Serviceportal {land}"]
PROJECT_PHASES = ["idea", "planned", "in_progress", "in_progress", "live", "stopped"]
STEPS = {
    "idea": [("Idee vorgestellt", "Im Fachbereich {unit} vorgestellt; die Amtsleitung unterstützt das Vorhaben.")],
    "planned": [("Bedarf erhoben", "Gespräche mit dem Fachbereich {unit} und der IT."),
                ("Planung abgeschlossen", "Zeitplan und Budget für {city} stehen.")],
    "in_progress": [("Projektstart", "Kick-off in {city} mit dem Fachbereich {unit} und der IT."),
                    ("Prototyp fertig", "Erste Tests mit Beschäftigten aus dem Fachbereich {unit}.")],
    "live": [("Projektstart", "Kick-off in {city} mit dem Fachbereich {unit} und der IT."),
             ("Pilotbetrieb", "Vier Wochen Pilot mit ausgewählten Nutzenden in {city}."),
             ("Freigeschaltet", "Für alle freigeschaltet; der Fachbereich {unit} bearbeitet die Eingänge digital.")],
    "stopped": [("Projektstart", "Kick-off in {city}."),
                ("Projekt eingestellt", "Wir schließen uns stattdessen einer Lösung des Landes {land} an.")],
}


def catalogue_loaded(session: Session) -> bool:
    """Tell whether the demo catalogue is present (any of its listings exists)."""
    return session.scalar(select(Listing.id).where(Listing.external_id.like(EXTERNAL_PREFIX + "%")).limit(1)) is not None


def _slug(text: str) -> str:
    text = text.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def _pick_municipalities(session: Session, rng: random.Random, used: frozenset[str]) -> list[Organisation]:
    """Return the real municipalities of the catalogue: per Land the largest and a few smaller towns."""
    chosen: list[Organisation] = []
    for land, large, small in QUOTAS:
        rows = session.scalars(
            select(Organisation).where(Organisation.land_code == land, Organisation.ags.is_not(None),
                                       Organisation.kind.in_(("stadt", "gemeinde")), Organisation.population > 0)
            .order_by(Organisation.population.desc(), Organisation.ags)
        ).all()
        rows = [o for o in rows if o.ags not in used and not o.ags.startswith("05766")]
        chosen += rows[:large]
        towns = [o for o in rows[large:] if 8000 <= (o.population or 0) <= 60000]
        chosen += rng.sample(towns, min(small, len(towns)))
    return chosen


def _where(org: Organisation, kreise: dict[str, Organisation]) -> str:
    """Describe where org lies, e.g. 'Landkreis Stendal, Sachsen-Anhalt' or 'kreisfreie Stadt, Hessen'."""
    if org.land_code in ("02", "04") and org.kreis_key == org.ags[:5]:
        first = "Stadtstaat" if org.land_code == "02" else "kreisfreie Stadt"
    elif org.type_label in ("Kreisfreie Stadt", "Stadtkreis"):
        first = "Stadtkreis" if org.type_label == "Stadtkreis" else "kreisfreie Stadt"
    else:
        kreis = kreise.get(org.kreis_key or "")
        label = (kreis.type_label or "Kreis") if kreis is not None else "Kreis"
        name = kreis.short_name if kreis is not None else (org.kreis or "").split(",")[0]
        # "Hochsauerlandkreis", "Märkischer Kreis", "Region Hannover" name themselves.
        first = name if "kreis" in name.lower() or name.startswith("Region") else f"{label} {name}"
    return f"{first}, {org.land}"


def _number(n: float) -> str:
    return f"{round(n):,}".replace(",", ".")


def load_demo_catalogue(session: Session, admin: User, password: str, used_ags: frozenset[str]) -> dict[str, int]:
    """Create the catalogue (once): officers, listings, their timelines and reuses; return counts."""
    from .demo import _backdate, _backdate_reuse, _publish

    if catalogue_loaded(session):
        return {}
    rng = random.Random(SEED)
    orgs = _pick_municipalities(session, rng, used_ags)
    kreise = {o.key: o for o in session.scalars(select(Organisation).where(
        Organisation.kind == "kreis", Organisation.key.in_({o.kreis_key for o in orgs if o.kreis_key})))}
    ozg = {o.id: o for o in session.scalars(select(OzgLeistung).where(OzgLeistung.id.in_({t.ozg_id for t in TEMPLATES})))}
    leika: dict[int, list[LeikaLeistung]] = {}
    for row in session.scalars(select(LeikaLeistung).where(LeikaLeistung.ozg_id.in_(list(ozg))).order_by(LeikaLeistung.key)):
        leika.setdefault(row.ozg_id, []).append(row)
    taken = {e.lower() for e in session.scalars(select(User.email))}
    officers: dict[int, User] = {}
    for org in orgs:
        email = f"digital@{_slug(org.short_name)}.example"
        if email in taken:
            email = f"digital@{_slug(org.short_name)}-{org.ags}.example"
        taken.add(email)
        officers[org.id] = accounts.create_user(session, email, f"{rng.choice(FIRST)} {rng.choice(LAST)}", password,
                                                "officer", org)
        org.website = org.website or f"https://www.{_slug(org.short_name)}.de"
    summaries: set[str] = set(session.scalars(select(Listing.summary)))
    offered: list[tuple[Listing, int]] = []  # (listing, days since creation)
    created = 0
    for org in orgs:
        user = officers[org.id]
        count = 3 + (org.population or 0) // 150000 + rng.randint(0, 1)
        for n, tpl in enumerate(rng.sample(TEMPLATES, min(count, 5))):
            listing, days = _listing(session, rng, user, org, tpl, n, ozg[tpl.ozg_id], leika.get(tpl.ozg_id, []),
                                     _where(org, kreise), summaries)
            _publish(session, user, admin, listing)
            _backdate(session, listing, days)
            _history(session, rng, user, listing, tpl, org)
            if listing.reuse_offered:
                offered.append((listing, days))
            created += 1
    session.flush()
    reuses = _reuses(session, rng, offered, officers, orgs, _backdate_reuse)
    return {"listings": created, "municipalities": len(orgs), "reuses": reuses}


def _listing(session: Session, rng: random.Random, user: User, org: Organisation, tpl: Template, n: int,
             ozg: OzgLeistung, leika: list[LeikaLeistung], where: str, summaries: set[str]) -> tuple[Listing, int]:
    city = org.short_name
    keys = rng.sample(leika, min(len(leika), rng.randint(1, 2))) if leika else []
    pop = org.population or 0
    cases = pop * tpl.per_1000 / 1000 * rng.uniform(0.8, 1.2)
    kind = tpl.kind
    data: dict[str, Any] = {"kind": kind, "title": tpl.title, "ozg_ids": [tpl.ozg_id],
                            "leika_keys": [k.key for k in keys], "tags": list(tpl.tags),
                            "contact_name": user.name, "contact_email": user.email,
                            "external_id": f"{EXTERNAL_PREFIX}{org.ags}/{n + 1}"}
    leika_text = f", LeiKa „{keys[0].name}“" if keys else ""
    lead = f"{city} ({where}, {_number(pop)} Einw.): {tpl.what}"
    if kind == "dienst":
        phase = "live" if rng.random() < 0.8 else "in_progress"
        model = rng.choice(["1.1", "2.0", "2.0"])
        grad = rng.randint(2, 4) if model == "1.1" else rng.randint(2, 6)
        platform = rng.choice(PLATFORMS).format(land=org.land)
        offer = rng.random() < 0.45 and phase == "live"
        data.update(phase=phase, reifegrad=grad, reifegrad_model=model, platform=platform,
                    website_url=f"{org.website}/{_slug(tpl.title)}", reuse_offered=offer)
        tail = f". OZG-Leistung „{ozg.name}“{leika_text}; Reifegrad {grad} (Modell {model})."
        body = (f"## Ausgangslage\n\nIm Fachbereich {tpl.unit} von {city} gehen rund {_number(cases)} Vorgänge "
                f"im Jahr ein (Demo-Zahl: Einwohnerzahl × {tpl.per_1000:g} je 1.000, Annahme).\n\n"
                f"## Lösung\n\nDer Online-Dienst läuft auf **{platform}**; die Anträge gehen digital in das Fachverfahren.\n\n")
    elif kind == "projekt":
        phase = rng.choice(PROJECT_PHASES)
        offer = False
        data.update(phase=phase, looking_for_partners=phase in ("idea", "planned", "in_progress"))
        tail = f". Projekt zur OZG-Leistung „{ozg.name}“{leika_text}."
        body = (f"## Vorhaben\n\n{city} will {tpl.what}. Betroffen sind rund {_number(cases)} Vorgänge im Jahr "
                f"(Demo-Zahl: Einwohnerzahl × {tpl.per_1000:g} je 1.000, Annahme).\n\n")
        if data["looking_for_partners"]:
            body += "## Partner gesucht\n\nWir suchen Kommunen mit ähnlichen Fallzahlen, die mitmachen oder mitfinanzieren.\n\n"
    else:
        licence = rng.choice(LICENCES)
        offer = True
        data.update(licence=licence, maintenance=rng.choice(["active", "maintained"]),
                    technologies=rng.choice(["Python, PostgreSQL", "TypeScript, Vue.js", "Java, Spring Boot", "PHP, MariaDB"]))
        tail = f". Open Source ({licence}), passend zur OZG-Leistung „{ozg.name}“."
        body = (f"## Worum es geht\n\n{city} hat {tpl.what} entwickelt und im Fachbereich {tpl.unit} im Einsatz.\n\n"
                "## Technik\n\nBetrieb im eigenen Rechenzentrum oder beim kommunalen IT-Dienstleister.\n\n")
    if offer:
        cost = "free" if kind == "komponente" else rng.choice(["free", "cost_sharing", "on_request"])
        data["cost_model"] = cost
        data["reuse_terms"] = {
            "free": f"Nachnutzung kostenfrei; {city} teilt Ablaufbeschreibung, Vorlagen und Erfahrungen.",
            "cost_sharing": "Mandant auf unserer Plattform; Betriebskosten werden nach Einwohnerzahl geteilt (Demo).",
            "on_request": "Sprechen Sie uns an; Konditionen stimmen wir mit dem IT-Dienstleister ab.",
        }[cost]
        body += "## Nachnutzung\n\n" + data["reuse_terms"] + "\n\n"
    data["reuse_offered"] = offer
    summary = lead + tail
    if len(summary) > 300:
        summary = (lead + ".")[:300]
    if summary in summaries:  # cannot happen with one template per municipality; keep the rule anyway
        summary = summary[:290] + f" ({org.ags})"
    summaries.add(summary)
    data["summary"] = summary
    data["description"] = body + DEMO_MARK
    listing = listings.create_listing(session, user, data)
    # Offered solutions are old enough to have been taken up; others are spread over two years.
    days = rng.randint(220, 900) if offer else rng.randint(20, 900)
    return listing, days


def _history(session: Session, rng: random.Random, user: User, listing: Listing, tpl: Template, org: Organisation) -> None:
    """Add the status timeline of the listing's phase, all of it before its publication."""
    steps = STEPS.get(listing.phase or "", []) if listing.kind != "komponente" else []
    if listing.kind == "dienst" and rng.random() < 0.5:
        steps = steps[-1:]  # many services show only the last step
    assert listing.published_at is not None
    last = listing.published_at - timedelta(days=rng.randint(1, 20))
    for n, (title, body) in enumerate(steps):
        when = last - timedelta(days=35 * (len(steps) - 1 - n))
        session.add(StatusUpdate(listing=listing, author=user, phase=listing.phase, title=title,
                                 body=body.format(unit=tpl.unit, city=org.short_name, land=org.land), created_at=when))


def _reuses(session: Session, rng: random.Random, offered: list[tuple[Listing, int]], officers: dict[int, User],
            orgs: list[Organisation], backdate: Any) -> int:
    """Declare REUSES_PER_STAGE reuses in every stage, spread over the offered listings."""
    stages = [s for s in ("interested", "evaluating", "pilot", "production", "discontinued") for _ in range(REUSES_PER_STAGE)]
    rng.shuffle(stages)
    by_land: dict[str, list[Organisation]] = {}
    for org in orgs:
        by_land.setdefault(org.land_code or "", []).append(org)
    pairs: set[tuple[int, int]] = set()
    made = 0
    for i, stage in enumerate(stages):
        listing, days = offered[i % len(offered)]
        near = [o for o in by_land.get(listing.organisation.land_code or "", []) if o.id != listing.organisation_id]
        pool = near if near and rng.random() < 0.4 else orgs
        candidates = [o for o in pool if o.id != listing.organisation_id and (listing.id, o.id) not in pairs]
        if not candidates:
            candidates = [o for o in orgs if o.id != listing.organisation_id and (listing.id, o.id) not in pairs]
        org = rng.choice(candidates)
        pairs.add((listing.id, org.id))
        user = officers[org.id]
        if stage == "discontinued":
            path = STAGE_PATHS[rng.choice(["interested", "evaluating", "pilot", "production"])]
        else:
            path = STAGE_PATHS[stage]
        r = reuse.declare_reuse(session, user, listing, {"stage": "interested", "note": rng.choice(STAGE_NOTES["interested"])})
        for nxt in path[1:]:
            reuse.change_reuse_stage(session, user, r, {"stage": nxt, "note": rng.choice(STAGE_NOTES[nxt])})
        if stage == "discontinued":
            reuse.change_reuse_stage(session, user, r, {"stage": "discontinued", "reason": rng.choice(DISCONTINUED_REASONS)})
        steps = len(r.history)
        # Declared at least a week after publication (days - 3 ago), every step 20 days apart, before today.
        latest, earliest = days - 3 - 7, 20 * (steps - 1) + 1
        backdate(r, rng.randint(earliest, max(earliest, latest)))
        made += 1
    session.flush()
    return made
