"""Tolerant publiccode.yml import: every fixture imports or is refused for a stated reason.

Warnings name the field path of each deviation from the standard; only a file without a
name, a repository URL or any description (or one that is not YAML) is refused. An export
is valid against the standard (no warnings) and imports again as the same listing.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from marktplatz.services import publiccode
from marktplatz.services.errors import Invalid
from tests import factories as f
from tests.test_api_core import bearer, make_token

FIXTURES = Path(__file__).parent / "fixtures" / "publiccode"

# Every fixture: None if it imports, else the refused paths; with the warning paths expected.
EXPECTED: dict[str, tuple[set[str] | None, set[str]]] = {
    "_official_example_v0.4.0__publiccode.minimal.yml": (None, {"publiccodeYmlVersion"}),
    "_official_example_v0.4.0__publiccode.yml": (None, {
        "publiccodeYmlVersion", "intendedAudience.countries[0]", "intendedAudience.countries[1]",
        "intendedAudience.unsupportedCountries[0]", "description.en.longDescription"}),
    "_official_example_v0.7__publiccode.minimal.yml": (None, set()),
    "_official_example_v0.7__publiccode.yml": (None, set()),
    "parser-testdata/invalid/categories_invalid.yml": (None, {"categories[0]"}),
    "parser-testdata/invalid/description_en_longDescription_too_short.yml": (None, {"description.en.longDescription"}),
    "parser-testdata/invalid/description_en_shortDescription_missing.yml": (None, {"description.en.shortDescription"}),
    "parser-testdata/invalid/description_invalid_language.yml": (None, {"description.xxx"}),
    "parser-testdata/invalid/developmentStatus_invalid.yml": (None, {"developmentStatus"}),
    "parser-testdata/invalid/developmentStatus_missing.yml": (None, {"developmentStatus"}),
    "parser-testdata/valid/dependsOn.yml": (None, {"releaseDate"}),
    "parser-testdata/valid/valid.minimal.yml": (None, set()),
    "parser-testdata/valid/valid.yml": (None, {"releaseDate"}),
    "parser-testdata/valid/valid_with_fundedBy.yml": (None, set()),
    "parser-testdata/valid/valid_with_organisation.yml": (None, set()),
    "parser-testdata/valid/valid_with_supports.yml": (None, set()),
    "parser-testdata/valid_with_warnings/valid.minimal.v0.2.yml": (None, {"publiccodeYmlVersion"}),
    "parser-testdata/valid_with_warnings/valid.minimal.v0.3.yml": (None, {"publiccodeYmlVersion"}),
    "parser-testdata/valid_with_warnings/valid.minimal.v0.4.yml": (None, {"publiccodeYmlVersion", "categories"}),
    "parser-testdata/valid_with_warnings/valid_with_IT_riuso_codiceIPA.yml": (None, {"releaseDate"}),
    "parser-testdata/valid_with_warnings/valid_with_lowercase_countries.yml": (None, {
        "releaseDate", "intendedAudience.countries[0]", "intendedAudience.countries[1]",
        "intendedAudience.unsupportedCountries[0]"}),
}
ALL = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.yml"))
IMPORTING = [name for name in ALL if EXPECTED.get(name, (1, None))[0] is None]


def test_table_covers_every_fixture():
    """The table names every .yml under tests/fixtures/publiccode, and only those."""
    assert set(EXPECTED) == set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_fixture_imports_or_is_refused_with_reasons(name):
    """Each fixture either reads with exactly the expected warning paths or is refused by path."""
    refused, warned = EXPECTED[name]
    raw = (FIXTURES / name).read_bytes()
    if refused is not None:
        with pytest.raises(Invalid) as err:
            publiccode.parse(raw)
        assert set(err.value.errors) == refused
        return
    _data, warnings = publiccode.parse(raw)
    assert {w["path"] for w in warnings} == warned, warnings
    assert all(set(w) == {"path", "message"} and w["message"] for w in warnings)


BASE = """\
publiccodeYmlVersion: "0.7"
name: Hundesteuer
url: https://github.com/example/hundesteuer
platforms: [web]
developmentStatus: stable
softwareType: standalone/web
description:
  de:
    shortDescription: Hundesteuer online anmelden und abmelden.
    longDescription: >-
      Die Komponente nimmt An- und Abmeldungen zur Hundesteuer online entgegen, prüft sie
      und übergibt sie an das Fachverfahren der Steuerverwaltung, ohne Termin im Rathaus.
    features: [Anmeldung, Abmeldung]
legal:
  license: EUPL-1.2
maintenance:
  type: internal
  contacts:
    - name: Erika Mustermann
      email: erika@example.org
localisation:
  localisationReady: false
  availableLanguages: [de]
"""


def _warnings(text: str) -> dict[str, str]:
    _data, warnings = publiccode.parse(text)
    return {w["path"]: w["message"] for w in warnings}


def test_base_document_has_no_warnings():
    """The document the cases below vary is valid against the standard."""
    assert _warnings(BASE) == {}


@pytest.mark.parametrize("old,new,path,field,value", [
    ("platforms: [web]", "platforms: [web]\ncategories: [citizen-services, it-security]",
     "categories[0]", "tags", ["it-security"]),
    ("""  contacts:
    - name: Erika Mustermann
      email: erika@example.org
""", "", "maintenance.contacts", "contact_name", None),
    ("    - name: Erika Mustermann\n", "    - email: erika@example.org\n", "maintenance.contacts[0].name",
     "contact_email", "erika@example.org"),
    ('publiccodeYmlVersion: "0.7"', "publiccodeYmlVersion: 0.7", "publiccodeYmlVersion", None, None),
    ("platforms: [web]", "platforms: [web]\nintendedAudience:\n  countries: [de, at]",
     "intendedAudience.countries[0]", None, None),
    ("platforms: [web]", "platforms: [web]\nreleaseDate: 2024-01-31", "releaseDate", None, None),
    ("platforms: [web]", "platforms: [web]\nlicence_fr: MIT\norganisme: Ville de Paris",
     "licence_fr", None, None),
    ("developmentStatus: stable", "developmentStatus: production", "developmentStatus", "phase", "live"),
    ("developmentStatus: stable", "developmentStatus: irgendwas", "developmentStatus", "phase", None),
    ("type: internal", "type: commercial", "maintenance.type", "maintenance", "maintained"),
    ("type: internal", "type: gelegentlich", "maintenance.type", "maintenance", None),
    ("  license: EUPL-1.2", "  license: Eigene Lizenz", "legal.license", "licence", None),
    ("shortDescription: Hundesteuer online anmelden und abmelden.", "shortDescription: Steuer",
     "description.de.shortDescription", "summary", "Hundesteuer: Steuer"),
    ("softwareType: standalone/web", "softwareType: webapp", "softwareType", None, None),
    ("      email: erika@example.org", "      email: keine-adresse", "maintenance.contacts[0].email",
     "contact_email", None),
])
def test_deviation_is_a_warning_by_path(old, new, path, field, value):
    """Each tolerated deviation is a warning on its path; the listing input takes the stated value."""
    text = BASE.replace(old, new)
    assert text != BASE
    warnings = _warnings(text)
    assert path in warnings, warnings
    if field:
        item, _lang = publiccode.to_listing_input(publiccode.read(publiccode.load_yaml(text))[0])
        assert item[field] == value


def test_features_missing_in_one_language_is_a_warning():
    """features present in one language and missing in another warns on that language."""
    text = BASE.replace("legal:", "  it:\n    shortDescription: Tassa sui cani online.\nlegal:")
    assert "description.it.features" in _warnings(text)


FRENCH_VARIANT = """\
publiccodeYmlVersion: "0.2"
name: rendez-vous/rendez-vous
url: https://github.com/example/rendez-vous
landingURL: https://rendez-vous.example.fr
isBasedOn: false
creationDate: 2019-03-01
latestCommitDate: 2024-05-02
logo: ""
usedBy: []
softwareType: ""
description:
  fr:
    shortDescription: "Prise de rendez-vous en ligne pour les services publics "
    documentation: ""
legal:
  license: agpl-3.0
  authorsFile: ""
maintenance:
  type: ""
  contacts:
    - name: ""
      email: ""
dependsOn: {}
metadataFiles:
  readme: README.md
score: 3
"""


def test_french_variant_imports_with_warnings(session):
    """The code.gouv.fr variant (its own keys, empty strings, no platforms or status) imports;
    each extra key and each gap is a warning on its path."""
    warnings = _warnings(FRENCH_VARIANT)
    for path in ("creationDate", "latestCommitDate", "metadataFiles", "score", "platforms", "developmentStatus",
                 "softwareType", "maintenance.type", "maintenance.contacts[0].name",
                 "maintenance.contacts[0].email", "description.fr.features", "localisation"):
        assert path in warnings, (path, warnings)
    assert "usedBy" not in warnings and "dependsOn" not in warnings
    officer = f.user(session)
    listing, result, _w = publiccode.import_publiccode(session, officer, officer.organisation, FRENCH_VARIANT)
    assert result == "created" and listing.title == "rendez-vous/rendez-vous"
    assert listing.licence == "AGPL-3.0-only" and listing.website_url == "https://rendez-vous.example.fr"
    assert listing.phase is None and listing.maintenance is None and listing.contact_email is None


def test_summary_comes_from_long_description_when_short_is_missing():
    """Without shortDescription the summary is the start of longDescription, at most 150 characters."""
    text = BASE.replace("    shortDescription: Hundesteuer online anmelden und abmelden.\n", "")
    data = publiccode.load_yaml(text)
    item, _ = publiccode.to_listing_input(publiccode.read(data)[0])
    assert item["summary"].startswith("Die Komponente nimmt") and len(item["summary"]) <= 150


@pytest.mark.parametrize("text,path,word", [
    (BASE.replace("name: Hundesteuer\n", ""), "name", "Pflichtangabe"),
    (BASE.replace("name: Hundesteuer", "name: [a, b]"), "name", "Text"),
    (BASE.replace("url: https://github.com/example/hundesteuer\n", ""), "url", "Pflichtangabe"),
    (BASE.replace("url: https://github.com/example/hundesteuer", "url: git@github.com:example/x.git"), "url",
     "http(s)"),
    (BASE.split("description:")[0] + "legal:" + BASE.split("legal:")[1], "description", "Pflichtangabe"),
    (BASE.split("description:")[0] + "description:\n  de:\n    features: [x]\nlegal:" + BASE.split("legal:")[1],
     "description", "Keine Beschreibung"),
    ("just: [unclosed", "publiccode.yml", "Kein gültiges YAML"),
    ("- a list\n- not a mapping\n", "publiccode.yml", "Zuordnung"),
])
def test_refusals_say_why_by_path_in_german(text, path, word):
    """Only a missing name, URL or description, or a file that is not YAML, is refused."""
    with pytest.raises(Invalid) as err:
        publiccode.parse(text)
    assert path in err.value.errors, err.value.errors
    assert word in " ".join(err.value.errors[path])


def test_name_falls_back_to_localised_name():
    """A file without name but with a localisedName imports under it, with a warning on name."""
    text = BASE.replace("name: Hundesteuer\n", "").replace("  de:\n", "  de:\n    localisedName: Hundesteuer BW\n")
    assert "name" in _warnings(text)


def test_filler_removal_is_linear():
    """Thousands of export filler sentences in a longDescription are read in bounded time."""
    import time

    filler = (" Dieser Eintrag (Komponente) stammt aus dem Marktplatz für kommunale Digitalisierung und wird "
              "von St. Georgen gepflegt.")
    for tail in ("", " x"):
        long = ("Text." + filler * 3000 + tail).replace("\n", " ")
        text = BASE.replace("    longDescription: >-", "    longDescription: |-\n      " + long + "\n    unused: >-")
        began = time.monotonic()
        data = publiccode.load_yaml(text)
        item, _ = publiccode.to_listing_input(publiccode.read(data)[0])
        assert time.monotonic() - began < 2
        assert item["description"].startswith("Text.")
    short = BASE.replace("    longDescription: >-", "    longDescription: |-\n      Text." + filler + filler
                         + "\n    unused: >-")
    item, _ = publiccode.to_listing_input(publiccode.read(publiccode.load_yaml(short))[0])
    assert item["description"].startswith("Text.\n\n**Funktionen**")


def test_many_bad_entries_give_a_bounded_warning_list():
    """A file with thousands of unknown categories answers with at most MAX_WARNINGS + 1 warnings."""
    cats = ", ".join(f"c{i}" for i in range(3000))
    warnings = _warnings(BASE.replace("platforms: [web]", f"platforms: [web]\ncategories: [{cats}]"))
    assert len(warnings) <= publiccode.MAX_WARNINGS + 1


FIELDS = ("kind", "title", "summary", "description", "tags", "phase", "licence", "repository_url",
          "website_url", "contact_name", "contact_email", "platform", "maintenance", "reuse_offered",
          "reuse_terms", "cost_model", "external_id")


def _snapshot(listing) -> dict:
    return {k: (list(v) if isinstance(v := getattr(listing, k), list | tuple) else v) for k in FIELDS}


@pytest.mark.parametrize("name", IMPORTING)
def test_export_is_valid_and_reimports_as_the_same_listing(session, name):
    """Import, export, import the export: the export has no warnings and the listing is the same.

    Only where the standard requires what the listing leaves empty may a field change, as
    export() documents: an empty phase, maintenance, platform or contact.
    """
    officer = f.user(session)
    org = officer.organisation
    listing, result, _w = publiccode.import_publiccode(session, officer, org, (FIXTURES / name).read_bytes())
    assert result == "created"
    before = _snapshot(listing)
    text = publiccode.export_yaml(listing, "https://marktplatz.example")
    _data, warnings = publiccode.parse(text)
    assert warnings == [], warnings
    again, result, _w = publiccode.import_publiccode(session, officer, org, text)
    assert again.id == listing.id
    after = _snapshot(again)
    allowed = set()
    if before["phase"] is None:
        allowed.add("phase")
    if before["maintenance"] is None:
        allowed |= {"maintenance", "contact_name"}
    if before["platform"] is None:
        allowed.add("platform")
    if before["contact_name"] is None and before["maintenance"] in ("maintained", "active"):
        allowed.add("contact_name")
    changed = {k for k in FIELDS if before[k] != after[k]}
    assert changed <= allowed, {k: (before[k], after[k]) for k in changed}
    assert result == ("unchanged" if not changed else "updated")


def test_full_listing_round_trips_unchanged(session):
    """A file with every mapped field set re-imports from its export as "unchanged"."""
    officer = f.user(session)
    listing, _r, _w = publiccode.import_publiccode(session, officer, officer.organisation, BASE)
    text = publiccode.export_yaml(listing, "https://marktplatz.example")
    assert publiccode.parse(text)[1] == []
    _again, result, _w = publiccode.import_publiccode(session, officer, officer.organisation, text)
    assert result == "unchanged"


def test_api_returns_warnings_by_path(client, session):
    """The API answers 200 with the listing and its warnings as {path, message}."""
    _o, secret = make_token(session)
    body = BASE.replace("type: internal", "type: commercial").encode()
    resp = client.post("/api/v1/sync/publiccode", data=body,
                       headers={**bearer(secret), "Content-Type": "application/yaml"})
    assert resp.status_code == 200, resp.json
    assert resp.json["result"] == "created"
    assert {"path": "maintenance.type", "message": resp.json["warnings"][0]["message"]} in resp.json["warnings"]
    refused = client.post("/api/v1/sync/publiccode", data=BASE.replace("name: Hundesteuer\n", "").encode(),
                          headers={**bearer(secret), "Content-Type": "application/yaml"})
    assert refused.status_code == 422 and "name" in refused.json["errors"]


def test_openapi_documents_warnings_with_an_example(client):
    """The OpenAPI document describes the warnings and shows an example."""
    spec = client.get("/api/v1/openapi.json").json
    schema = spec["components"]["schemas"]["PubliccodeResult"]["properties"]["warnings"]
    assert schema["example"][0]["path"] and "Pfad" in str(spec["components"]["schemas"]["PubliccodeWarning"])


def test_web_upload_shows_warnings(client, session, auth):
    """The web upload answers with a result page listing each warning's path and message."""
    officer = f.user(session)
    auth.login(officer.email)
    body = (FIXTURES / "parser-testdata" / "invalid" / "categories_invalid.yml").read_bytes()
    resp = client.post("/konto/publiccode", data={"file": (io.BytesIO(body), "publiccode.yml")},
                       content_type="multipart/form-data")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "categories[0]" in page and "Unbekannte Kategorie" in page and "angelegt" in page


pytestmark = pytest.mark.sqlite_only
