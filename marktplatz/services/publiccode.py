"""publiccode.yml (versions 0.2 to 0.7): tolerant parse with warnings by field path, import, export.

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


# --------------------------------------------------------------------------- tolerant reading
#
# A file is refused only when no useful listing can be made from it: no name, no repository
# URL, no description text in any language (and files that are not YAML, see load_yaml).
# Every other deviation from the standard is a warning named by its field path; the value is
# then left out, or mapped to the nearest meaning where the standard has one (see
# STATUS_SYNONYMS and MAINTENANCE_SYNONYMS).

TOP_LEVEL_KEYS = frozenset("""
publiccodeYmlVersion name applicationSuite url landingURL isBasedOn softwareVersion releaseDate
logo monochromeLogo inputTypes outputTypes platforms categories usedBy fundedBy roadmap
developmentStatus softwareType intendedAudience supports description legal maintenance
localisation dependsOn organisation
""".split())
DESCRIPTION_KEYS = frozenset("""
localisedName genericName shortDescription longDescription documentation apiDocumentation
features screenshots videos awards
""".split())
# Values outside the standard that real files use, mapped to the standard's nearest meaning.
# Anything else is left unset (with a warning).
STATUS_SYNONYMS = {
    "production": "stable", "prod": "stable", "released": "stable", "release": "stable",
    "live": "stable", "mature": "stable", "maintenance": "stable", "active": "stable",
    "alpha": "development", "wip": "development", "dev": "development", "in development": "development",
    "in-development": "development", "experimental": "development", "prototype": "development",
    "pilot": "beta", "test": "beta", "testing": "beta", "preview": "beta", "rc": "beta",
    "deprecated": "obsolete", "archived": "obsolete", "discontinued": "obsolete",
    "unmaintained": "obsolete", "retired": "obsolete", "end-of-life": "obsolete",
    "idea": "concept", "planning": "concept", "planned": "concept", "draft": "concept",
}
MAINTENANCE_SYNONYMS = {
    "commercial": "contract", "external": "contract", "vendor": "contract", "contracted": "contract",
    "in-house": "internal", "inhouse": "internal", "own": "internal",
    "open-source": "community", "opensource": "community",
    "unmaintained": "none", "no": "none", "nobody": "none",
}
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
MAX_WARNINGS = 200  # bounded output for hostile files with thousands of bad entries


class Report:
    """Refusals (field path -> German messages) and warnings ({"path", "message"}) of one file."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}
        self.warnings: list[dict[str, str]] = []

    def refuse(self, path: str, message: str) -> None:
        """Record why the file cannot become a listing."""
        self.errors.setdefault(path, []).append(message)

    def warn(self, path: str, message: str) -> None:
        """Record a deviation the import tolerates (at most MAX_WARNINGS)."""
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append({"path": path, "message": message})
        elif len(self.warnings) == MAX_WARNINGS:
            self.warnings.append({"path": "publiccode.yml", "message": "Weitere Hinweise ausgelassen."})


def _text(value: Any) -> str | None:
    """Return a stripped non-empty string, or None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _shorten(text: str, limit: int) -> str:
    text = _clean_text(text).replace("\n", " ")
    text = re.sub(r"\s+", " ", text)
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


def _is_email(value: Any) -> bool:
    from marshmallow import ValidationError
    from marshmallow.validate import Email

    if not isinstance(value, str) or len(value) > 254:
        return False
    try:
        Email()(value)
    except ValidationError:
        return False
    return True


def _normalised_licence(value: str) -> str | None:
    from ..schemas.listing import normalise_licence

    try:
        out = normalise_licence(value)
    except Exception:  # noqa: BLE001 - any failure means "not a valid SPDX expression"
        return None
    return out if isinstance(out, str) and len(out) <= 80 else None


def read(data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Read a parsed publiccode.yml tolerantly; return (values used, warnings) or raise Invalid.

    The values: name, url, landing_url, platforms, categories, status, lang, body (short,
    long, features, title of the chosen language), licence (SPDX or None), maintenance (a
    standard type or None), contact_name, contact_email.
    """
    r = Report()
    out: dict[str, Any] = {}
    minor = _read_version(r, data.get("publiccodeYmlVersion"))
    for key in data:
        if not isinstance(key, str) or (key not in TOP_LEVEL_KEYS and not re.fullmatch(r"[A-Za-z]{2}", key)):
            r.warn(_label(key, 60), "Unbekannter Schlüssel (nicht im Standard); wird ignoriert.")
    out["url"] = url = data.get("url")
    if url is None:
        r.refuse("url", "Pflichtangabe fehlt: die Adresse des Repositorys.")
    elif not _is_url(url):
        r.refuse("url", "Erwartet wird eine http(s)-Adresse des Repositorys.")
    elif len(url) > 500:
        r.refuse("url", "Die Adresse ist länger als 500 Zeichen.")
    landing = data.get("landingURL")
    out["landing_url"] = None
    if landing is not None:
        if _is_url(landing) and len(landing) <= 500:
            out["landing_url"] = landing
        else:
            r.warn("landingURL", "Keine gültige http(s)-Adresse; wird nicht übernommen.")
    out["platforms"] = _read_platforms(r, data.get("platforms"))
    out["categories"] = _read_categories(r, data.get("categories"), minor)
    out["status"] = _read_status(r, data.get("developmentStatus"))
    stype = data.get("softwareType")
    if stype is None:
        r.warn("softwareType", "Pflichtangabe fehlt.")
    elif stype not in SOFTWARE_TYPES:
        r.warn("softwareType", f"Unbekannter Wert {_label(stype, 40)!r}; erlaubt sind: {', '.join(SOFTWARE_TYPES[:-1])}.")
    _read_dates(r, data)
    _read_audience(r, data.get("intendedAudience"))
    _read_description(r, data.get("description"), minor, out)
    name = _text(data.get("name"))
    if name is None:
        fallback = _text((out.get("body") or {}).get("localisedName"))
        if data.get("name") is None and fallback:
            r.warn("name", f"Pflichtangabe fehlt; verwendet wird description.{out['lang']}.localisedName.")
            name = fallback
        elif data.get("name") is None:
            r.refuse("name", "Pflichtangabe fehlt: der Name der Software.")
        else:
            r.refuse("name", "Erwartet wird ein Text: der Name der Software.")
    out["name"] = name
    out["licence"] = _read_legal(r, data.get("legal"))
    _read_maintenance(r, data.get("maintenance"), out)
    _read_localisation(r, data.get("localisation"))
    out["used_by"] = _read_used_by(r, data.get("usedBy"))
    if r.errors:
        raise Invalid(r.errors)
    return out, r.warnings


def validate(data: dict[str, Any]) -> list[dict[str, str]]:
    """Check a parsed publiccode.yml; raise Invalid (field paths) if refused, return warnings."""
    return read(data)[1]


def _read_version(r: Report, raw: Any) -> int:
    if raw is None:
        r.warn("publiccodeYmlVersion", "Pflichtangabe fehlt; gelesen wird nach Version 0.7.")
        return 7
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        r.warn("publiccodeYmlVersion", "Erwartet wird ein Text wie \"0.4\"; gelesen wird nach Version 0.7.")
        return 7
    version = str(raw)
    if not isinstance(raw, str):
        r.warn("publiccodeYmlVersion", f"Als Zahl angegeben; erwartet wird ein Text in Anführungszeichen (\"{version[:20]}\").")
    m = VERSION_RE.match(version.strip())
    if not m:
        r.warn("publiccodeYmlVersion", f"Version {version[:20]!r} ist unbekannt (0.2 bis 0.7); gelesen wird nach Version 0.7.")
        return 7
    minor = int(m.group(2)) if m.group(2) else 7
    if minor < 7 and m.group(2):
        r.warn("publiccodeYmlVersion", f"Version {version[:20]} ist veraltet; aktuell ist 0.7.")
    return minor


def _read_platforms(r: Report, platforms: Any) -> list[str]:
    if platforms is None:
        r.warn("platforms", "Pflichtangabe fehlt.")
        return []
    if isinstance(platforms, str) and platforms.strip():
        r.warn("platforms", "Erwartet wird eine Liste; der Text wird als eine Plattform übernommen.")
        return [platforms.strip()]
    if not isinstance(platforms, list):
        r.warn("platforms", "Erwartet wird eine Liste von Plattformen; wird nicht übernommen.")
        return []
    out = []
    for i, p in enumerate(platforms[:50]):
        if _text(p):
            out.append(p.strip())
        else:
            r.warn(f"platforms[{i}]", "Erwartet wird ein Text; wird nicht übernommen.")
    return out


def _read_categories(r: Report, categories: Any, minor: int) -> list[str]:
    if categories is None:
        if minor < 7:
            r.warn("categories", "Fehlt (in Version 0.2 bis 0.6 vorgeschrieben).")
        return []
    if not isinstance(categories, list):
        r.warn("categories", "Erwartet wird eine Liste; wird nicht übernommen.")
        return []
    out = []
    for i, cat in enumerate(categories):
        if isinstance(cat, str) and cat in CATEGORIES:
            if cat not in out:
                out.append(cat)
        else:
            r.warn(f"categories[{i}]", f"Unbekannte Kategorie {_label(cat, 60)!r}; wird nicht als Schlagwort übernommen.")
    return out[:20]


def _read_status(r: Report, status: Any) -> str | None:
    if status is None:
        r.warn("developmentStatus", "Pflichtangabe fehlt; die Phase bleibt leer.")
        return None
    if status in DEVELOPMENT_STATUS:
        return status
    key = status.strip().lower() if isinstance(status, str) else None
    if key in DEVELOPMENT_STATUS:
        r.warn("developmentStatus", f"Schreibweise {_label(status, 40)!r}; erwartet wird {key!r}.")
        return key
    if key in STATUS_SYNONYMS:
        nearest = STATUS_SYNONYMS[key]
        r.warn("developmentStatus", f"{_label(status, 40)!r} ist kein Wert des Standards; übernommen als {nearest!r}.")
        return nearest
    r.warn("developmentStatus", f"{_label(status, 40)!r} ist kein Wert des Standards "
           f"({', '.join(DEVELOPMENT_STATUS)}); die Phase bleibt leer.")
    return None


def _read_dates(r: Report, data: dict[str, Any]) -> None:
    import datetime as dt

    value = data.get("releaseDate")
    if isinstance(value, (dt.date, dt.datetime)):
        r.warn("releaseDate", "Datum ohne Anführungszeichen; erwartet wird ein Text wie \"2024-01-31\".")
    elif value is not None and not (isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip())):
        r.warn("releaseDate", "Erwartet wird ein Datum im Format JJJJ-MM-TT.")


def _read_audience(r: Report, audience: Any) -> None:
    if not isinstance(audience, dict):
        if audience is not None:
            r.warn("intendedAudience", "Erwartet wird eine Zuordnung; wird ignoriert.")
        return
    for key in ("countries", "unsupportedCountries"):
        codes = audience.get(key)
        if codes is None:
            continue
        if not isinstance(codes, list):
            r.warn(f"intendedAudience.{key}", "Erwartet wird eine Liste von Ländercodes.")
            continue
        for i, code in enumerate(codes[:300]):
            if isinstance(code, str) and COUNTRY_RE.match(code.strip().upper()) and not COUNTRY_RE.match(code):
                r.warn(f"intendedAudience.{key}[{i}]",
                       f"Ländercode {_label(code, 10)!r} in Kleinbuchstaben; erwartet wird {code.strip().upper()!r} (ISO 3166-1).")
            elif not (isinstance(code, str) and COUNTRY_RE.match(code)):
                r.warn(f"intendedAudience.{key}[{i}]", "Kein Ländercode nach ISO 3166-1 (zwei Buchstaben).")


def _read_description(r: Report, desc: Any, minor: int, out: dict[str, Any]) -> None:
    """Pick the language used (de, then en, then the first with text) and collect its texts."""
    if desc is None:
        r.refuse("description", "Pflichtangabe fehlt: eine Beschreibung in mindestens einer Sprache.")
        return
    if not isinstance(desc, dict) or not desc:
        r.refuse("description", "Erwartet wird eine Zuordnung Sprache → Beschreibung (z. B. de: shortDescription …).")
        return
    usable: dict[str, dict[str, Any]] = {}
    with_features = []
    for lang, body in list(desc.items())[:50]:
        path = f"description.{_label(lang, 20)}"
        if not valid_language(lang):
            r.warn(path, f"{_label(lang, 20)!r} ist kein gültiger Sprachcode (BCP 47); der Text wird trotzdem gelesen.")
        if not isinstance(body, dict):
            r.warn(path, "Erwartet wird eine Zuordnung; wird ignoriert.")
            continue
        for key in body:
            if key not in DESCRIPTION_KEYS:
                r.warn(f"{path}.{_label(key, 40)}", "Unbekannter Schlüssel (nicht im Standard); wird ignoriert.")
        short = _text(body.get("shortDescription"))
        if short is None:
            r.warn(f"{path}.shortDescription", "Pflichtangabe fehlt.")
        elif len(short) > 150:
            r.warn(f"{path}.shortDescription", "Länger als 150 Zeichen; wird gekürzt.")
        elif len(short) < 10:
            r.warn(f"{path}.shortDescription", "Kürzer als 10 Zeichen; für die Kurzbeschreibung wird der Name vorangestellt.")
        long = body.get("longDescription")
        if long is not None and not isinstance(long, str):
            r.warn(f"{path}.longDescription", "Erwartet wird ein Text; wird nicht übernommen.")
            long = None
        long = _text(long)
        if long is not None and not 150 <= len(long) <= 10000:
            r.warn(f"{path}.longDescription", "Erwartet werden 150 bis 10000 Zeichen.")
        features = body.get("features")
        clean_features: list[str] = []
        if features is not None:
            if not isinstance(features, list):
                r.warn(f"{path}.features", "Erwartet wird eine Liste von Texten; wird nicht übernommen.")
            else:
                for i, feat in enumerate(features[:100]):
                    if _text(feat):
                        clean_features.append(feat.strip())
                    else:
                        r.warn(f"{path}.features[{i}]", "Erwartet wird ein Text; wird nicht übernommen.")
        if clean_features:
            with_features.append(lang)
        title = _text(body.get("localisedName"))
        if body.get("localisedName") is not None and title is None:
            r.warn(f"{path}.localisedName", "Erwartet wird ein Text; verwendet wird name.")
        if short or long:
            usable[_label(lang, 20)] = {"short": short, "long": long, "features": clean_features, "localisedName": title,
                            "path": path}
    if not usable:
        r.refuse("description", "Keine Beschreibung in irgendeiner Sprache (shortDescription oder longDescription).")
        return
    for body in usable.values():
        if with_features and not body["features"]:
            r.warn(f"{body['path']}.features", "Fehlt in dieser Sprache (vorhanden in: "
                   + ", ".join(_label(w, 20) for w in with_features[:5]) + ").")
    if not with_features:
        first = next(iter(usable))
        r.warn(f"{usable[first]['path']}.features", "Pflichtangabe fehlt (für mindestens eine Sprache).")
    if not any(b["long"] for b in usable.values()):
        first = next(iter(usable))
        r.warn(f"{usable[first]['path']}.longDescription", "Pflichtangabe fehlt (für mindestens eine Sprache).")
    lang = _pick_language(usable)
    out["lang"] = _label(lang, 20)
    body = dict(usable[lang])
    # Texts missing in the chosen language come from another language that has them.
    for key in ("long", "features"):
        if not body[key]:
            body[key] = next((b[key] for b in usable.values() if b[key]), body[key])
    out["body"] = body


def _read_legal(r: Report, legal: Any) -> str | None:
    if not isinstance(legal, dict):
        r.warn("legal.license" if legal is None else "legal",
               "Pflichtangabe fehlt; die Lizenz bleibt leer." if legal is None else "Erwartet wird eine Zuordnung.")
        return None
    lic = _text(legal.get("license"))
    if lic is None:
        r.warn("legal.license", "Pflichtangabe fehlt; die Lizenz bleibt leer.")
        return None
    if re.fullmatch(r"LicenseRef-[A-Za-z0-9.\-]+", lic):
        return None
    spdx = _normalised_licence(lic)
    if spdx is None:
        r.warn("legal.license", f"{_label(lic, 60)!r} ist keine gültige SPDX-Lizenzangabe; die Lizenz bleibt leer.")
    return spdx


def _read_maintenance(r: Report, maint: Any, out: dict[str, Any]) -> None:
    out["maintenance"] = out["contact_name"] = out["contact_email"] = None
    if not isinstance(maint, dict):
        r.warn("maintenance.type" if maint is None else "maintenance",
               "Pflichtangabe fehlt." if maint is None else "Erwartet wird eine Zuordnung.")
        return
    mtype = maint.get("type")
    key = mtype.strip().lower() if isinstance(mtype, str) else None
    if mtype is None:
        r.warn("maintenance.type", "Pflichtangabe fehlt; die Wartung bleibt leer.")
    elif mtype in MAINTENANCE_TYPES:
        out["maintenance"] = mtype
    elif key in MAINTENANCE_TYPES or key in MAINTENANCE_SYNONYMS:
        out["maintenance"] = key if key in MAINTENANCE_TYPES else MAINTENANCE_SYNONYMS[key]
        r.warn("maintenance.type", f"{_label(mtype, 40)!r} ist kein Wert des Standards; übernommen als {out['maintenance']!r}.")
    else:
        r.warn("maintenance.type", f"{_label(mtype, 40)!r} ist kein Wert des Standards "
               f"({', '.join(MAINTENANCE_TYPES)}); die Wartung bleibt leer.")
    mtype = out["maintenance"]
    if mtype == "contract":
        contractors = maint.get("contractors")
        if not isinstance(contractors, list) or not contractors:
            r.warn("maintenance.contractors", "Fehlt (vorgeschrieben bei type contract).")
    contacts = maint.get("contacts")
    if contacts is None or contacts == []:
        if mtype in ("internal", "community"):
            r.warn("maintenance.contacts", f"Fehlt (vorgeschrieben bei type {mtype}); keine Ansprechperson.")
        return
    if not isinstance(contacts, list):
        r.warn("maintenance.contacts", "Erwartet wird eine Liste; wird nicht übernommen.")
        return
    for i, contact in enumerate(contacts[:50]):
        path = f"maintenance.contacts[{i}]"
        if not isinstance(contact, dict):
            r.warn(path, "Erwartet wird eine Zuordnung (name, email); wird nicht übernommen.")
            continue
        name = _text(contact.get("name"))
        email = contact.get("email")
        if name is None:
            r.warn(f"{path}.name", "Pflichtangabe fehlt.")
        if email is not None and not _is_email(email):
            r.warn(f"{path}.email", "Keine gültige E-Mail-Adresse; wird nicht übernommen.")
            email = None
        if out["contact_name"] is None and out["contact_email"] is None and (name or email):
            out["contact_name"] = name[:200] if name else None
            out["contact_email"] = email


def _read_localisation(r: Report, loc: Any) -> None:
    if not isinstance(loc, dict):
        r.warn("localisation", "Pflichtangabe fehlt." if loc is None else "Erwartet wird eine Zuordnung.")
        return
    if not isinstance(loc.get("localisationReady"), bool):
        r.warn("localisation.localisationReady", "Erwartet wird true oder false.")
    langs = loc.get("availableLanguages")
    if not isinstance(langs, list) or not langs:
        r.warn("localisation.availableLanguages", "Erwartet wird eine Liste von Sprachen.")
        return
    for i, lang in enumerate(langs[:100]):
        if not valid_language(lang):
            r.warn(f"localisation.availableLanguages[{i}]", "Kein gültiger Sprachcode (BCP 47).")


def _read_used_by(r: Report, used_by: Any) -> list[str]:
    """Return the names of usedBy (see services/reuse_suggestions.py for what becomes of them)."""
    from .reuse_suggestions import used_by_names
    from .usedby import MAX_NAME_LENGTH, MAX_NAMES

    if used_by is None:
        return []
    if not isinstance(used_by, list):
        r.warn("usedBy", "Erwartet wird eine Liste von Namen; wird ignoriert.")
        return []
    if len(used_by) > MAX_NAMES:
        r.warn("usedBy", f"Mehr als {MAX_NAMES} Namen; gelesen werden die ersten {MAX_NAMES}.")
    for i, name in enumerate(used_by[:MAX_NAMES]):
        if not _text(name):
            r.warn(f"usedBy[{i}]", "Erwartet wird ein Name (Text); wird nicht übernommen.")
        elif len(name.strip()) > MAX_NAME_LENGTH:
            r.warn(f"usedBy[{i}]", f"Länger als {MAX_NAME_LENGTH} Zeichen; wird gekürzt.")
    return used_by_names(used_by)


def parse(text: str | bytes) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Parse and check publiccode.yml text; return (data, warnings) or raise Invalid."""
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
FEATURES_HEADING = "\n\n**Funktionen**\n\n"
# The sentence export() appends to reach the standard's 150 characters; removed on import.
FILLER_START = "Dieser Eintrag ("
FILLER_RE = re.compile(r"Dieser Eintrag \([^()\n]{1,40}\) stammt aus dem Marktplatz für kommunale "
                       r"Digitalisierung und wird von [^\n]{1,300} gepflegt\.")


def _strip_filler(text: str) -> str:
    """Remove the filler sentences export() appended, one at a time from the end (linear cost)."""
    for _ in range(100):
        if not text.endswith(" gepflegt."):
            break
        start = text.rfind(FILLER_START)
        if start < 0 or len(text) - start > 500 or not FILLER_RE.fullmatch(text, start):
            break
        text = text[:start].rstrip()
    return text


MAINTENANCE_FROM_TYPE = {"internal": "maintained", "contract": "maintained", "community": "active",
                         "none": "unmaintained"}
TYPE_FROM_MAINTENANCE = {"maintained": "internal", "active": "community", "unmaintained": "none",
                         "archived": "none"}


def _summary(body: dict[str, Any], name: str) -> str:
    """Return the listing summary: shortDescription, else the start of longDescription."""
    text = body["short"] or body["long"] or ""
    summary = _shorten(text, 150)
    if len(summary) < 10:  # the listing needs 10 characters; name the software in front
        summary = _shorten(f"{name}: {summary}", 150) if summary else _shorten(name, 150)
    return summary


def to_listing_input(read_out: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Map the values read() returned to listing input; return it with the language used."""
    body = read_out["body"]
    lang = read_out["lang"]
    name = read_out["name"]
    long = _strip_filler(_clean_text(body["long"] or ""))
    features = [_clean_text(f) for f in body["features"]]
    description = long
    # A feature list that only repeats the short description (as export() writes for a
    # listing without one) adds nothing.
    if features and features != [_clean_text(body["short"] or "")]:
        description = (description + FEATURES_HEADING if description else FEATURES_HEADING.lstrip()) \
            + "\n".join(f"- {f}" for f in features)
    licence = read_out["licence"]
    status = read_out["status"]
    mtype = read_out["maintenance"]
    item: dict[str, Any] = {
        "kind": "komponente",
        "title": _clean_text(body["localisedName"] or name)[:200],
        "summary": _summary(body, name),
        "description": description[:50_000],
        "tags": read_out["categories"],
        "phase": PHASE_FROM_STATUS.get(status) if status else None,
        "licence": licence,
        "repository_url": read_out["url"],
        "website_url": read_out["landing_url"],
        "contact_name": read_out["contact_name"],
        "contact_email": read_out["contact_email"],
        "platform": ", ".join(read_out["platforms"])[:200] or None,
        "maintenance": "archived" if status == "obsolete" else MAINTENANCE_FROM_TYPE.get(mtype),
        "reuse_offered": True,
        "reuse_terms": f"Open Source unter der Lizenz {licence}." if licence
        else "Open Source; die Lizenz ist im Repository angegeben.",
        "cost_model": "free",
        "external_id": ("publiccode:" + read_out["url"])[:200],
    }
    return item, lang


def import_publiccode(
    session: Session, user: User, organisation: Organisation, text: str | bytes
) -> tuple[Listing, str, list[dict[str, str]]]:
    """Create or update the organisation's component listing from publiccode.yml text.

    Returns the listing, the result (created, updated, unchanged) and the warnings, each a
    {"path", "message"} naming the field of the file that deviates from the standard. The
    usedBy names become suggested reuses (services/reuse_suggestions.py).
    """
    from .sync import sync_listings

    data = load_yaml(text)
    read_out, warnings = read(data)
    item, lang = to_listing_input(read_out)
    outcome = sync_listings(session, user, organisation, [item])
    result = outcome["results"][0]
    if result["result"] == "error":
        raise Invalid(
            {FIELD_PATHS.get(k, k).format(lang=lang): v for k, v in result["errors"].items()}
        )
    listing = session.get(Listing, result["id"])
    assert listing is not None
    from .reuse_suggestions import record_used_by

    # usedBy names become suggested reuses of the named municipalities (never declared ones).
    record_used_by(session, listing, read_out["used_by"])
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


def _split_features(description: str) -> tuple[str, list[str]]:
    """Split the features block import_publiccode() appended off a description."""
    if description.startswith(FEATURES_HEADING.lstrip()):
        head, sep, tail = "", FEATURES_HEADING, description[len(FEATURES_HEADING.lstrip()):]
    else:
        head, sep, tail = description.rpartition(FEATURES_HEADING)
    lines = tail.split("\n")
    if sep and lines and all(line.startswith("- ") and line[2:].strip() for line in lines):
        return head, [line[2:] for line in lines]
    return description, []


def export(listing: Listing, base_url: str = "") -> dict[str, Any]:
    """Return a publiccode.yml (version 0.7) mapping for a listing, valid against the standard.

    Importing it again gives the same listing, except where the listing leaves empty what the
    standard requires: an empty phase is written as developmentStatus "development", an empty
    maintenance as type "internal", and type internal or community needs a contact, which
    is then the publishing municipality.
    """
    page = f"{base_url.rstrip('/')}/eintraege/{listing.slug}"
    summary = _shorten(listing.summary or listing.title, 150)
    long, features = _split_features(listing.description or "")
    long = _clean_text(long)
    filler = (
        f" Dieser Eintrag ({KINDS.get(listing.kind, listing.kind)}) stammt aus dem Marktplatz für "
        f"kommunale Digitalisierung und wird von {listing.organisation.name} gepflegt."
    )
    while len(long) < 150:  # import_publiccode() removes these sentences again
        long = (long + filler).lstrip()
    long = long[:10000]
    categories = [t for t in listing.tags if t in CATEGORIES]
    platforms = [p.strip() for p in (listing.platform or "").split(",") if p.strip()] or ["web"]
    mtype = TYPE_FROM_MAINTENANCE.get(listing.maintenance or "", "internal")
    maintenance: dict[str, Any] = {"type": mtype}
    if mtype in ("internal", "community") or listing.contact_name or listing.contact_email:
        contact = {"name": listing.contact_name or listing.organisation.name}
        if listing.contact_email:
            contact["email"] = listing.contact_email
        maintenance["contacts"] = [contact]
    out: dict[str, Any] = {
        "publiccodeYmlVersion": "0.7",
        "name": listing.title,
        "url": listing.repository_url or page,
    }
    if listing.website_url:
        out["landingURL"] = listing.website_url
    out["platforms"] = platforms
    if categories:
        out["categories"] = categories
    out.update({
        "developmentStatus": STATUS_FROM_PHASE.get(listing.phase or "", "development"),
        "softwareType": "standalone/web",
        "description": {
            "de": {
                "localisedName": listing.title,
                "shortDescription": summary,
                "longDescription": long,
                "features": features or [summary],
            }
        },
        "legal": {"license": listing.licence or "LicenseRef-nicht-angegeben"},
        "maintenance": maintenance,
        "localisation": {"localisationReady": False, "availableLanguages": ["de"]},
    })
    if listing.organisation.website:
        out["legal"]["mainCopyrightOwner"] = listing.organisation.name
    return out


def export_yaml(listing: Listing, base_url: str | None = None) -> str:
    """Return the listing as publiccode.yml text."""
    if base_url is None:
        from flask import current_app

        base_url = current_app.config.get("BASE_URL", "")
    return yaml.safe_dump(export(listing, base_url or ""), allow_unicode=True, sort_keys=False, width=100)
