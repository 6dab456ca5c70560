"""publiccode.yml (versions 0.2 to 0.7): parse, validate with field paths, import, export.

Errors are keyed by the path of the offending key in the file, e.g.
``description.de.shortDescription`` or ``maintenance.contacts[0].name``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import yaml
from sqlalchemy.orm import Session

from ..models import Listing, Organisation, User
from ..models.listing import KINDS
from ..schemas.listing import TAG_RE
from .errors import Invalid

MAX_BYTES = 512 * 1024
VERSION_RE = re.compile(r"^0(\.([2-7])(\.\d+)?)?$")
DEVELOPMENT_STATUS = ("concept", "development", "beta", "stable", "obsolete")
SOFTWARE_TYPES = (
    "standalone/mobile", "standalone/iot", "standalone/desktop", "standalone/web",
    "standalone/backend", "standalone/other", "addon", "library", "configurationFiles",
    # accepted by parsers for files of version 0.2
    "standalone",
)
MAINTENANCE_TYPES = ("internal", "contract", "community", "none")
CATEGORIES = frozenset("""
accounting agile-project-management applicant-tracking application-development
appointment-scheduling backup billing-and-invoicing blog budgeting business-intelligence
business-process-management cad call-center-management cloud-management collaboration
communications compliance-management contact-management content-management crm
customer-service-and-support data-analytics data-collection data-visualization
design design-system digital-asset-management digital-citizenship document-management donor-management e-commerce
e-signature educational-content email-management email-marketing employee-management
enterprise-project-management enterprise-social-networking erp event-management
facility-management feedback-and-reviews-management financial-reporting fleet-management
fundraising gamification geographic-information-systems grant-management graphic-design
help-desk hr ide identity-management instant-messaging integrated-library-system inventory-management
it-asset-management it-development it-management it-security it-service-management
knowledge-management laboratory-management learning-management-system local-government
marketing mind-mapping mobile-marketing mobile-payment network-management office
online-booking online-community payment-gateway payroll predictive-analysis procurement
productivity-suite project-collaboration project-management property-management
real-estate-management regulations-and-directives remote-support resource-management sales-management seo
service-desk service-desk-software social-media-management survey talent-management task-management
taxes-management test-management time-management time-tracking translation
video-conferencing video-editing visitor-management voip warehouse-management
web-collaboration web-conferencing website-builder whistleblowing workflow-management
""".split())
ISO639_1 = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu
hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb
lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om
or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw
ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
""".split())
LANG_RE = re.compile(r"^([A-Za-z]{2})(-[A-Za-z]{4})?(-([A-Za-z]{2}|\d{3}))?(-[A-Za-z0-9]{5,8})*$")
PHASE_FROM_STATUS = {"concept": "idea", "development": "in_progress", "beta": "in_progress",
                     "stable": "live", "obsolete": "stopped"}
STATUS_FROM_PHASE = {"idea": "concept", "planned": "concept", "in_progress": "development",
                     "live": "stable", "stopped": "obsolete"}
MAINTENANCE_FROM_TYPE = {"internal": "maintained", "contract": "maintained", "community": "active",
                         "none": "unmaintained"}


def valid_language(tag: Any) -> bool:
    """Tell whether tag is a BCP 47 tag with a known ISO 639-1 primary language."""
    if not isinstance(tag, str):
        return False
    m = LANG_RE.match(tag)
    return bool(m) and m.group(1).lower() in ISO639_1


def _is_url(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 2000:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _valid_licence(value: str) -> bool:
    from ..schemas.listing import normalise_licence

    if re.fullmatch(r"LicenseRef-[A-Za-z0-9.\-]+", value.strip()):
        return True
    try:
        normalise_licence(value)
    except Exception:  # noqa: BLE001 - any failure means "not a valid SPDX expression"
        return False
    return True


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)


MAX_NODES = 20_000  # YAML nodes (scalars, lists, mappings) of one file; real files have < 500
MAX_DEPTH = 40  # nesting of lists and mappings


class _Refused(yaml.YAMLError):
    """A document the bounded loader does not read (an alias, too many or too deep nodes)."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader refusing aliases and documents of more than MAX_NODES nodes.

    An alias (*name) repeats the node its anchor (&name) names: nine lines of aliases make a
    billion-element structure ("billion laughs"). Refused while composing, before anything
    is built.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused("YAML-Verweise (*name auf einen Anker &name) sind nicht erlaubt", event.start_mark)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Refused(f"Die Datei hat mehr als {MAX_NODES} Elemente", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"Die Datei ist tiefer als {MAX_DEPTH} Ebenen verschachtelt", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _label(value: Any, limit: int) -> str:
    """Return a short text naming an untrusted parsed value (never str() of a whole structure)."""
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return str(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10**limit else "(eine Zahl)"
    if isinstance(value, list):
        return "(eine Liste)"
    if isinstance(value, dict):
        return "(eine Zuordnung)"
    return "(" + type(value).__name__ + ")"


def safe_load(text: str) -> Any:
    """Parse YAML with the bounded loader (aliases refused, at most MAX_NODES nodes)."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_yaml(text: str | bytes) -> dict[str, Any]:
    """Parse YAML text into a mapping or raise Invalid."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise Invalid({"publiccode.yml": [f"Die Datei ist größer als {MAX_BYTES // 1024} KB."]})
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise Invalid({"publiccode.yml": ["Die Datei ist nicht UTF-8-kodiert."]}) from err
    if len(text) > MAX_BYTES:
        raise Invalid({"publiccode.yml": [f"Die Datei ist größer als {MAX_BYTES // 1024} KB."]})
    try:
        data = safe_load(text)
    except _Refused as err:
        where = f" (Zeile {err.mark.line + 1})" if err.mark is not None else ""
        raise Invalid({"publiccode.yml": [f"{err.message}{where}."]}) from err
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (Zeile {mark.line + 1})" if mark is not None else ""
        raise Invalid({"publiccode.yml": [f"Kein gültiges YAML{where}."]}) from err
    if not isinstance(data, dict):
        raise Invalid({"publiccode.yml": ["Erwartet wird eine YAML-Zuordnung mit Schlüsseln."]})
    return data


def validate(data: dict[str, Any]) -> list[str]:
    """Validate a parsed publiccode.yml; raise Invalid with field paths, return warnings."""
    e = _Errors()
    warnings: list[str] = []
    raw_version = data.get("publiccodeYmlVersion")
    version = str(raw_version) if isinstance(raw_version, (str, int, float)) and not isinstance(raw_version, bool) else None
    minor = 7
    if version is None:
        e.add("publiccodeYmlVersion", "Pflichtangabe fehlt.")
    else:
        m = VERSION_RE.match(version)
        if not m:
            e.add("publiccodeYmlVersion", f"Version {version[:20]!r} wird nicht unterstützt (0.2 bis 0.7).")
        elif m.group(2):
            minor = int(m.group(2))
            if minor < 7:
                warnings.append(f"publiccodeYmlVersion {version} ist veraltet; aktuell ist 0.7.")
    _req_str(e, data, "name")
    url = data.get("url")
    if url is None:
        e.add("url", "Pflichtangabe fehlt.")
    elif not _is_url(url):
        e.add("url", "Erwartet wird eine http(s)-Adresse des Repositorys.")
    if data.get("landingURL") is not None and not _is_url(data.get("landingURL")):
        e.add("landingURL", "Erwartet wird eine http(s)-Adresse.")
    platforms = data.get("platforms")
    if platforms is None:
        e.add("platforms", "Pflichtangabe fehlt.")
    elif not (isinstance(platforms, str) or (isinstance(platforms, list) and platforms and all(isinstance(p, str) for p in platforms))):
        e.add("platforms", "Erwartet wird eine Liste von Plattformen.")
    categories = data.get("categories")
    if categories is None:
        if minor < 7:
            warnings.append("categories fehlt (in Version 0.2 bis 0.6 vorgeschrieben).")
    elif not isinstance(categories, list):
        e.add("categories", "Erwartet wird eine Liste.")
    else:
        for i, cat in enumerate(categories):
            if not isinstance(cat, str) or cat not in CATEGORIES:
                e.add(f"categories[{i}]", f"Unbekannte Kategorie {_label(cat, 60)!r}.")
    status = data.get("developmentStatus")
    if status is None:
        e.add("developmentStatus", "Pflichtangabe fehlt.")
    elif status not in DEVELOPMENT_STATUS:
        e.add("developmentStatus", f"Erlaubt sind: {', '.join(DEVELOPMENT_STATUS)}.")
    stype = data.get("softwareType")
    if stype is None:
        e.add("softwareType", "Pflichtangabe fehlt.")
    elif stype not in SOFTWARE_TYPES:
        e.add("softwareType", f"Erlaubt sind: {', '.join(SOFTWARE_TYPES[:-1])}.")
    _validate_description(e, data.get("description"), strict_length=minor >= 5, warnings=warnings)
    legal = data.get("legal")
    if not isinstance(legal, dict):
        e.add("legal" if legal is not None else "legal.license", "Pflichtangabe fehlt." if legal is None else "Erwartet wird eine Zuordnung.")
    else:
        lic = legal.get("license")
        if not isinstance(lic, str) or not lic.strip():
            e.add("legal.license", "Pflichtangabe fehlt.")
        elif not _valid_licence(lic):
            e.add("legal.license", "Keine gültige SPDX-Lizenzangabe.")
    _validate_maintenance(e, data.get("maintenance"))
    loc = data.get("localisation")
    if not isinstance(loc, dict):
        e.add("localisation", "Pflichtangabe fehlt." if loc is None else "Erwartet wird eine Zuordnung.")
    else:
        if not isinstance(loc.get("localisationReady"), bool):
            e.add("localisation.localisationReady", "Erwartet wird true oder false.")
        langs = loc.get("availableLanguages")
        if not isinstance(langs, list) or not langs:
            e.add("localisation.availableLanguages", "Erwartet wird eine Liste von Sprachen.")
        else:
            for i, lang in enumerate(langs):
                if not valid_language(lang):
                    e.add(f"localisation.availableLanguages[{i}]", "Kein gültiger Sprachcode (BCP 47).")
    if e.errors:
        raise Invalid(e.errors)
    return warnings


def _req_str(e: _Errors, data: dict[str, Any], key: str, path: str | None = None) -> None:
    value = data.get(key)
    path = path or key
    if value is None:
        e.add(path, "Pflichtangabe fehlt.")
    elif not isinstance(value, str) or not value.strip():
        e.add(path, "Erwartet wird ein Text.")


def _validate_description(e: _Errors, desc: Any, strict_length: bool = True,
                          warnings: list[str] | None = None) -> None:
    if desc is None:
        e.add("description", "Pflichtangabe fehlt.")
        return
    if not isinstance(desc, dict) or not desc:
        e.add("description", "Erwartet wird eine Zuordnung Sprache → Beschreibung.")
        return
    has_long = has_features = False
    for lang, body in desc.items():
        path = f"description.{_label(lang, 20)}"
        if not valid_language(lang):
            e.add(path, f"{_label(lang, 20)!r} ist kein gültiger Sprachcode (BCP 47).")
            continue
        if not isinstance(body, dict):
            e.add(path, "Erwartet wird eine Zuordnung.")
            continue
        short = body.get("shortDescription")
        if short is None:
            e.add(f"{path}.shortDescription", "Pflichtangabe fehlt.")
        elif not isinstance(short, str) or not short.strip():
            e.add(f"{path}.shortDescription", "Erwartet wird ein Text.")
        elif len(short.strip()) > 150:
            e.add(f"{path}.shortDescription", "Höchstens 150 Zeichen.")
        long = body.get("longDescription")
        if long is not None:
            if not isinstance(long, str):
                e.add(f"{path}.longDescription", "Erwartet wird ein Text.")
            elif not 150 <= len(long.strip()) <= 10000:
                if strict_length or len(long.strip()) > 10000 or not long.strip():
                    e.add(f"{path}.longDescription", "Zwischen 150 und 10000 Zeichen.")
                else:  # files of versions 0.2 to 0.4 (even the official example) are shorter
                    (warnings if warnings is not None else []).append(
                        f"{path}.longDescription hat weniger als 150 Zeichen.")
                    has_long = True
            else:
                has_long = True
        features = body.get("features")
        if features is not None:
            if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
                e.add(f"{path}.features", "Erwartet wird eine Liste von Texten.")
            elif features:
                has_features = True
    if not e.errors:
        first = next(iter(desc))
        if not has_long:
            e.add(f"description.{first}.longDescription", "Pflichtangabe fehlt (für mindestens eine Sprache).")
        if not has_features:
            e.add(f"description.{first}.features", "Pflichtangabe fehlt (für mindestens eine Sprache).")


def _validate_maintenance(e: _Errors, maint: Any) -> None:
    if not isinstance(maint, dict):
        e.add("maintenance.type" if maint is None else "maintenance",
              "Pflichtangabe fehlt." if maint is None else "Erwartet wird eine Zuordnung.")
        return
    mtype = maint.get("type")
    if mtype not in MAINTENANCE_TYPES:
        e.add("maintenance.type", f"Erlaubt sind: {', '.join(MAINTENANCE_TYPES)}.")
        return
    if mtype == "contract":
        contractors = maint.get("contractors")
        if not isinstance(contractors, list) or not contractors:
            e.add("maintenance.contractors", "Pflichtangabe bei type contract.")
    if mtype in ("internal", "community"):
        contacts = maint.get("contacts")
        if not isinstance(contacts, list) or not contacts:
            e.add("maintenance.contacts", f"Pflichtangabe bei type {mtype}.")
            return
    for i, contact in enumerate(maint.get("contacts") or []):
        if not isinstance(contact, dict):
            e.add(f"maintenance.contacts[{i}]", "Erwartet wird eine Zuordnung.")
            continue
        _req_str(e, contact, "name", f"maintenance.contacts[{i}].name")


def parse(text: str | bytes) -> tuple[dict[str, Any], list[str]]:
    """Parse and validate publiccode.yml text; return (data, warnings) or raise Invalid."""
    data = load_yaml(text)
    return data, validate(data)


def _pick_language(desc: dict[str, Any]) -> str:
    langs = list(desc)
    for pref in ("de", "en"):
        for lang in langs:
            if lang.lower() == pref or lang.lower().startswith(pref + "-"):
                return lang
    return langs[0]


def _clean_text(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text.strip())


# ListingSchema field -> publiccode.yml path, to report listing errors where the user can fix them.
FIELD_PATHS = {
    "title": "name", "summary": "description.{lang}.shortDescription",
    "description": "description.{lang}.longDescription", "licence": "legal.license",
    "repository_url": "url", "website_url": "landingURL", "tags": "categories",
    "contact_name": "maintenance.contacts[0].name", "contact_email": "maintenance.contacts[0].email",
    "platform": "platforms", "external_id": "url",
}


def to_listing_input(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Map a validated publiccode.yml to listing input; return it with the language used."""
    desc = data["description"]
    lang = _pick_language(desc)
    body = desc[lang]
    long = body.get("longDescription") or next(
        (b.get("longDescription") for b in desc.values() if b.get("longDescription")), ""
    )
    features = body.get("features") or next((b.get("features") for b in desc.values() if b.get("features")), [])
    description = _clean_text(long)
    if features:
        description += "\n\n**Funktionen**\n\n" + "\n".join(f"- {_clean_text(f)}" for f in features)
    platforms = data["platforms"] if isinstance(data["platforms"], list) else [data["platforms"]]
    maint = data.get("maintenance") or {}
    contacts = maint.get("contacts") or []
    contact = contacts[0] if contacts and isinstance(contacts[0], dict) else {}
    licence = data["legal"]["license"].strip()
    tags = [c for c in (data.get("categories") or []) if TAG_RE.match(c)][:20]
    title = _clean_text(body.get("localisedName") or data["name"])[:200]
    item: dict[str, Any] = {
        "kind": "komponente",
        "title": title,
        "summary": _clean_text(body["shortDescription"]),
        "description": description[:50_000],
        "tags": tags,
        "phase": PHASE_FROM_STATUS.get(data["developmentStatus"]),
        "licence": None if licence.startswith("LicenseRef-") else licence,
        "repository_url": data["url"],
        "website_url": data.get("landingURL"),
        "contact_name": contact.get("name"),
        "contact_email": contact.get("email"),
        "platform": ", ".join(platforms)[:200],
        "maintenance": "archived" if data["developmentStatus"] == "obsolete" else MAINTENANCE_FROM_TYPE.get(maint.get("type")),
        "reuse_offered": True,
        "reuse_terms": f"Open Source unter der Lizenz {licence}.",
        "cost_model": "free",
        "external_id": ("publiccode:" + data["url"])[:200],
    }
    return item, lang


def import_publiccode(
    session: Session, user: User, organisation: Organisation, text: str | bytes
) -> tuple[Listing, str, list[str]]:
    """Create or update the organisation's component listing from publiccode.yml text."""
    from .sync import sync_listings

    data, warnings = parse(text)
    item, lang = to_listing_input(data)
    outcome = sync_listings(session, user, organisation, [item])
    result = outcome["results"][0]
    if result["result"] == "error":
        raise Invalid(
            {FIELD_PATHS.get(k, k).format(lang=lang): v for k, v in result["errors"].items()}
        )
    listing = session.get(Listing, result["id"])
    assert listing is not None
    return listing, result["result"], warnings


def fetch_and_import(
    session: Session, user: User, organisation: Organisation, url: str, policy: Any
) -> tuple[Listing, str, list[str]]:
    """Fetch publiccode.yml from a repository or file URL (SSRF-safe) and import it."""
    from ..core import outbound

    candidates = [url]
    if not url.rstrip("/").endswith((".yml", ".yaml")):
        base = url.rstrip("/")
        if base.endswith(".git"):
            base = base[:-4]
        candidates = [base + "/raw/HEAD/publiccode.yml", base + "/publiccode.yml"]
        if "github.com/" in base:
            owner_repo = base.split("github.com/", 1)[1]
            candidates.insert(0, f"https://raw.githubusercontent.com/{owner_repo}/HEAD/publiccode.yml")
    last_error = "Keine publiccode.yml gefunden."
    for candidate in candidates:
        try:
            resp = outbound.request("GET", candidate, policy)
        except outbound.OutboundRefused as err:
            raise Invalid({"url": [str(err)]}) from err
        except Exception as err:  # noqa: BLE001 - network errors become a field error
            last_error = f"Abruf fehlgeschlagen. {outbound.failure_reason(err, policy)}"
            continue
        if resp.status_code == 200:
            return import_publiccode(session, user, organisation, resp.content)
        last_error = f"Abruf von {candidate} ergab HTTP {resp.status_code}."
    raise Invalid({"url": [last_error]})


def export(listing: Listing, base_url: str = "") -> dict[str, Any]:
    """Return a valid publiccode.yml (version 0.4) mapping for a listing."""
    page = f"{base_url.rstrip('/')}/eintraege/{listing.slug}"
    summary = _clean_text(listing.summary or listing.title)
    if len(summary) > 150:
        summary = summary[:149].rsplit(" ", 1)[0].rstrip(" ,.;") + "…"
    long = _clean_text(f"{listing.summary}\n\n{listing.description}")
    filler = (
        f" Dieser Eintrag ({KINDS.get(listing.kind, listing.kind)}) stammt aus dem Marktplatz für "
        f"kommunale Digitalisierung und wird von {listing.organisation.name} gepflegt."
    )
    while len(long) < 150:
        long += filler
    long = long[:10000]
    categories = [t for t in listing.tags if t in CATEGORIES] or ["local-government"]
    platforms = [p.strip() for p in (listing.platform or "").split(",") if p.strip()] or ["web"]
    contact = {"name": listing.contact_name or listing.organisation.name}
    if listing.contact_email:
        contact["email"] = listing.contact_email
    mtype = {"unmaintained": "none", "archived": "none"}.get(listing.maintenance or "", "internal")
    maintenance: dict[str, Any] = {"type": mtype}
    if mtype == "internal":
        maintenance["contacts"] = [contact]
    out: dict[str, Any] = {
        "publiccodeYmlVersion": "0.4",
        "name": listing.title,
        "url": listing.repository_url or page,
        "landingURL": listing.website_url or page,
        "platforms": platforms,
        "categories": categories,
        "developmentStatus": STATUS_FROM_PHASE.get(listing.phase or "", "development"),
        "softwareType": "standalone/web",
        "description": {
            "de": {
                "localisedName": listing.title,
                "shortDescription": summary,
                "longDescription": long,
                "features": list(listing.tags) or [KINDS.get(listing.kind, listing.kind)],
            }
        },
        "legal": {"license": listing.licence or "LicenseRef-nicht-angegeben"},
        "maintenance": maintenance,
        "localisation": {"localisationReady": False, "availableLanguages": ["de"]},
    }
    if listing.organisation.website:
        out["legal"]["mainCopyrightOwner"] = listing.organisation.name
    return out


def export_yaml(listing: Listing, base_url: str | None = None) -> str:
    """Return the listing as publiccode.yml text."""
    if base_url is None:
        from flask import current_app

        base_url = current_app.config.get("BASE_URL", "")
    return yaml.safe_dump(export(listing, base_url or ""), allow_unicode=True, sort_keys=False, width=100)
