"""The open-data export described for machines and people: README text and DCAT-AP.de metadata.

The exports themselves are rows of services.listing_pages.export_row; this module says what
they are: their licence, their columns (from the JSON Schema built from the field
declarations) and the DCAT-AP.de dataset that GovData can harvest.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

DATA_LICENCE = "dl-de/by-2-0"
DATA_LICENCE_URL = "https://www.govdata.de/dl-de/by-2-0"
# The licence as DCAT-AP.de names it (its licence vocabulary).
DCAT_LICENCE = "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
ATTRIBUTION = (
    "Daten: Marktplatz kommunaler Digitalisierung und die veröffentlichenden Kommunen, "
    "Datenlizenz Deutschland – Namensnennung – Version 2.0 (dl-de/by-2-0), "
    + DATA_LICENCE_URL
)
TITLE = "Marktplatz kommunaler Digitalisierung: Dienste, Komponenten und Projekte der Kommunen"
DESCRIPTION = (
    "Alle öffentlichen, veröffentlichten Einträge des Marktplatzes: Online-Dienste, "
    "Open-Source-Komponenten und Digitalisierungsprojekte deutscher Kommunen mit OZG-Leistungen, "
    "LeiKa-Schlüsseln, Reifegrad, Lizenz und der Zahl ihrer Nachnutzungen."
)
KEYWORDS = ["OZG", "Onlinezugangsgesetz", "Nachnutzung", "Einer für Alle", "Kommunen", "Open Source",
            "Digitalisierung", "Verwaltung", "LeiKa"]


def readme_text(schema: Mapping[str, Any], urls: Mapping[str, str], generated: datetime) -> str:
    """Return the README of the export (German, plain text): licence, files and columns."""
    entry = schema["properties"]["eintraege"]["items"]["properties"]
    lines = [
        TITLE, "=" * len(TITLE), "",
        f"Stand: {generated.isoformat(timespec='seconds')}", "",
        "Lizenz", "------",
        "Datenlizenz Deutschland – Namensnennung – Version 2.0 (dl-de/by-2-0)",
        DATA_LICENCE_URL, "",
        f"Namensnennung: {ATTRIBUTION}", "",
        "Dateien", "-------",
        f"eintraege.csv   UTF-8 mit BOM, Semikolon-getrennt, erste Zeile: Spaltennamen ({urls['csv']})",
        f"eintraege.json  JSON; Listen sind Listen, fehlende Werte null ({urls['json']})",
        f"JSON Schema:    {urls['schema']}",
        f"DCAT-AP.de:     {urls['dcat']}", "",
        "Im CSV sind Schlagwörter durch Komma, OZG-IDs und LeiKa-Schlüssel durch Leerzeichen getrennt;",
        "ja/nein steht für wahr/falsch. Zellen, die eine Tabellenkalkulation als Formel lesen würde,",
        "beginnen mit einem Apostroph.", "",
        "Spalten", "-------",
    ]
    width = max(len(c) for c in entry)
    for column, prop in entry.items():
        kind = prop["type"] if isinstance(prop["type"], str) else " oder ".join(prop["type"])
        lines.append(f"{column.ljust(width)}  {prop.get('description', '')} ({kind})")
    return "\n".join(lines) + "\n"


def dcat_catalog(urls: Mapping[str, str], modified: datetime | None, contact_email: str,
                 count: int) -> dict[str, Any]:
    """Return the DCAT-AP.de catalogue of the export as JSON-LD (one dataset, CSV and JSON)."""
    publisher = {"@type": "foaf:Organization", "foaf:name": "Marktplatz kommunaler Digitalisierung",
                 "foaf:homepage": {"@id": urls["home"]}}

    def distribution(key: str, title: str, file_type: str, media_type: str) -> dict[str, Any]:
        out = {
            "@id": f"{urls[key]}#distribution",
            "@type": "dcat:Distribution",
            "dct:title": title,
            "dcat:accessURL": {"@id": urls["page"]},
            "dcat:downloadURL": {"@id": urls[key]},
            "dct:format": {"@id": f"http://publications.europa.eu/resource/authority/file-type/{file_type}"},
            "dcat:mediaType": {"@id": f"https://www.iana.org/assignments/media-types/{media_type}"},
            "dct:license": {"@id": DCAT_LICENCE},
            "dcatde:licenseAttributionByText": ATTRIBUTION,
        }
        if key == "json":
            out["dct:conformsTo"] = {"@id": urls["schema"]}
        return out

    dataset: dict[str, Any] = {
        "@id": urls["dataset"],
        "@type": "dcat:Dataset",
        "dct:identifier": urls["dataset"],
        "dct:title": TITLE,
        "dct:description": f"{DESCRIPTION} Derzeit {count} Einträge.",
        "dcat:keyword": KEYWORDS,
        "dcat:theme": [{"@id": "http://publications.europa.eu/resource/authority/data-theme/GOVE"}],
        "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/DEU"},
        "dct:publisher": publisher,
        "dct:creator": publisher,
        "dcat:contactPoint": {"@type": "vcard:Organization", "vcard:fn": "Marktplatz kommunaler Digitalisierung",
                              "vcard:hasEmail": {"@id": f"mailto:{contact_email}"}},
        "dct:spatial": {"@id": "http://publications.europa.eu/resource/authority/country/DEU"},
        "dcatde:politicalGeocodingLevelURI": {"@id": "http://dcat-ap.de/def/politicalGeocoding/Level/federal"},
        "dct:accrualPeriodicity": {"@id": "http://publications.europa.eu/resource/authority/frequency/CONT"},
        "dcat:landingPage": {"@id": urls["page"]},
        "foaf:page": {"@id": urls["readme"]},
        "dcat:distribution": [
            distribution("csv", "Einträge als CSV", "CSV", "text/csv"),
            distribution("json", "Einträge als JSON", "JSON", "application/json"),
        ],
    }
    if modified is not None:
        dataset["dct:modified"] = {"@value": modified.isoformat(timespec="seconds"), "@type": "xsd:dateTime"}
    return {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
            "dcatde": "http://dcat-ap.de/def/dcatde/", "foaf": "http://xmlns.com/foaf/0.1/",
            "vcard": "http://www.w3.org/2006/vcard/ns#", "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@id": urls["dcat"],
        "@type": "dcat:Catalog",
        "dct:title": "Offene Daten des Marktplatzes kommunaler Digitalisierung",
        "dct:description": DESCRIPTION,
        "dct:publisher": publisher,
        "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/DEU"},
        "foaf:homepage": {"@id": urls["home"]},
        "dcat:dataset": [dataset],
    }
