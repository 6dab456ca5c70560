"""Issue 15 item 6: open data that parses with standard tools, licensed and described (DCAT-AP.de)."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import jsonschema_rs
import pytest

from . import factories as f


@pytest.fixture
def world(session):
    """Two public listings (one a component without OZG-Leistung) and a draft."""
    net = f.network(session, "offen", f.FREIBURG)
    owner = f.user(session, "officer", f.FREIBURG)
    coord = f.user(session, "coordinator", f.KARLSRUHE, [net])
    dienst = f.listing(session, owner, coord, title="Hundesteuer online", tags=["Hundesteuer", "Steuern"],
                       reuse_offered=True, reuse_terms="Kostenfrei.")
    komponente = f.listing(session, owner, coord, kind="komponente", title="Formularbaukasten", ozg_ids=[],
                           leika_keys=[], tags=[], reifegrad=None, reifegrad_model=None, licence="EUPL-1.2",
                           phase=None)
    f.listing(session, owner, title="Geheimer Entwurf")
    return {"dienst": dienst, "komponente": komponente}


def test_csv_reads_with_dictreader_header_first(client, world):
    """csv.DictReader takes the first row as the header; licence in the Link header."""
    resp = client.get("/export/eintraege.csv")
    assert 'rel="license"' in resp.headers["Link"] and "/export/LIESMICH.txt" in resp.headers["Link"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    by_title = {r["titel"]: r for r in rows}
    assert set(by_title) == {"Hundesteuer online", "Formularbaukasten"}
    assert by_title["Hundesteuer online"]["ozg_ids"] == "10160"
    assert by_title["Hundesteuer online"]["schlagwoerter"] == "Hundesteuer, Steuern"
    assert by_title["Hundesteuer online"]["zur_nachnutzung"] == "ja"
    assert by_title["Formularbaukasten"]["reifegrad"] == "" and by_title["Formularbaukasten"]["ozg_ids"] == ""


def test_json_validates_against_its_json_schema(client, world):
    """The JSON export has the right types (lists are lists) and passes its published schema."""
    body = client.get("/export/eintraege.json").json
    schema = client.get("/export/eintraege.schema.json").json
    jsonschema_rs.validator_for(schema).validate(body)
    entries = {e["titel"]: e for e in body["eintraege"]}
    dienst, komponente = entries["Hundesteuer online"], entries["Formularbaukasten"]
    assert dienst["ozg_ids"] == [10160] and dienst["leika_schluessel"] == ["99102013000000"]
    assert dienst["schlagwoerter"] == ["Hundesteuer", "Steuern"] and dienst["zur_nachnutzung"] is True
    assert isinstance(dienst["reifegrad"], int) and isinstance(dienst["id"], int)
    assert komponente["ozg_ids"] == [] and komponente["reifegrad"] is None and komponente["phase"] is None
    # The schema is strict enough to catch the old mistake.
    broken = json.loads(json.dumps(body))
    broken["eintraege"][0]["ozg_ids"] = "10160"
    assert not jsonschema_rs.validator_for(schema).is_valid(broken)


def test_zip_holds_csv_json_and_a_readme_with_the_licence(client, world):
    """The archive carries the README with the licence and the columns beside the data."""
    resp = client.get("/export/eintraege.zip")
    assert resp.status_code == 200 and 'rel="license"' in resp.headers["Link"]
    archive = zipfile.ZipFile(io.BytesIO(resp.data))
    assert set(archive.namelist()) == {"LIESMICH.txt", "eintraege.csv", "eintraege.json", "eintraege.schema.json"}
    readme = archive.read("LIESMICH.txt").decode()
    assert "dl-de/by-2-0" in readme and "https://www.govdata.de/dl-de/by-2-0" in readme
    assert "ozg_ids" in readme and "Namensnennung" in readme
    assert len(json.loads(archive.read("eintraege.json"))["eintraege"]) == 2
    assert client.get("/export/LIESMICH.txt").get_data(as_text=True).startswith("Marktplatz")


def test_dcat_ap_de_metadata_at_a_stable_url(client, world):
    """One dataset with a CSV and a JSON distribution under the DCAT-AP.de licence URI."""
    resp = client.get("/export/dcat.jsonld")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/ld+json")
    catalog = resp.json
    assert catalog["@type"] == "dcat:Catalog" and catalog["@context"]["dcatde"] == "http://dcat-ap.de/def/dcatde/"
    (dataset,) = catalog["dcat:dataset"]
    assert dataset["@type"] == "dcat:Dataset" and dataset["dct:title"]
    assert dataset["dcat:contactPoint"]["vcard:hasEmail"]["@id"].startswith("mailto:")
    downloads = {d["dcat:downloadURL"]["@id"].rsplit("/", 1)[-1]: d for d in dataset["dcat:distribution"]}
    assert set(downloads) == {"eintraege.csv", "eintraege.json"}
    for dist in downloads.values():
        assert dist["dct:license"]["@id"] == "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
        assert "dl-de/by-2-0" in dist["dcatde:licenseAttributionByText"]
    assert downloads["eintraege.json"]["dct:conformsTo"]["@id"].endswith("/export/eintraege.schema.json")


def test_open_data_page_names_licence_and_links_the_descriptions(client, world):
    """The page states the licence and links README, schema, ZIP and DCAT."""
    html = client.get("/offene-daten").get_data(as_text=True)
    assert "Datenlizenz Deutschland – Namensnennung – Version 2.0" in html
    for href in ("/export/LIESMICH.txt", "/export/eintraege.schema.json", "/export/eintraege.zip",
                 "/export/dcat.jsonld"):
        assert f'href="{href}"' in html
