"""Process register pages through the client: edit forms, import, exports, network and gap views."""

from __future__ import annotations

import io

import pytest

from marktplatz.services import process_files as files
from marktplatz.services import process_register as reg

from . import factories as f

HEADER = ";".join(c.header for c in files.COLUMNS)


def csv_file(*lines: str) -> tuple[io.BytesIO, str]:
    """Return an upload of a CSV file with the template's header."""
    return io.BytesIO(("\n".join((HEADER,) + lines) + "\n").encode("utf-8")), "register.csv"


def row(key="1", name="Hundesteuer", ozg="10160", cases="1.200", year="2025", channel="analog", **kw):
    """Return one CSV line in the template's column order."""
    values = {"process_key": key, "name": name, "ozg_id": ozg, "cases": cases, "cases_year": year,
              "channel": channel, **kw}
    return ";".join(str(values.get(c.name, "")) for c in files.COLUMNS)


@pytest.fixture
def world(session):
    net = f.network(session, "lippe-web", f.BAD_SALZUFLEN, f.LEMGO)
    return {"net": net, "sal": f.user(session, "officer", f.BAD_SALZUFLEN),
            "lemgo": f.user(session, "officer", f.LEMGO), "freiburg": f.user(session, "officer", f.FREIBURG),
            "admin": f.user(session, "admin", ags=None)}


def test_form_errors_stand_next_to_the_field_in_german(client, auth, world):
    auth.login(world["sal"].email)
    resp = client.post(f"/kommunen/{f.BAD_SALZUFLEN}/prozesse/neu",
                       data={"process_key": "", "name": "X", "channel": "analog", "cases": "viele"})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'id="process_key-error"' in page and 'id="cases-error"' in page and "ganze Zahl" in page
    resp = client.post(f"/kommunen/{f.BAD_SALZUFLEN}/prozesse/neu",
                       data={"process_key": "32-1", "name": "Hundesteuer", "ozg_id": "10160", "channel": "pdf",
                             "cases": "1.200", "cases_year": "2025", "own_statute": "1", "statute_ref": "§ 2"})
    assert resp.status_code == 302
    page = client.get(f"/kommunen/{f.BAD_SALZUFLEN}/prozesse").get_data(as_text=True)
    assert "Hundesteuer" in page and "1.200" in page


def test_other_officers_cannot_edit_or_import(client, auth, world, session):
    reg.save_entry(session, world["sal"], f.org(session, f.BAD_SALZUFLEN),
                   {"process_key": "1", "name": "Geheimprozess Zulu", "ozg_id": 10160, "channel": "analog"})
    entry_id = reg.find_register(session, f.org(session, f.BAD_SALZUFLEN)).entries[0].id
    auth.login(world["lemgo"].email)
    base = f"/kommunen/{f.BAD_SALZUFLEN}/prozesse"
    assert client.get(f"{base}/neu").status_code == 403
    assert client.post(f"{base}/import", data={"datei": csv_file(row())}).status_code == 403
    # The register is private: its page, exports and the edit form are unknown to Lemgo.
    for url in (base, f"{base}.csv", f"{base}.xlsx", f"{base}/{entry_id}/bearbeiten"):
        resp = client.get(url)
        assert resp.status_code == 404 and b"Geheimprozess" not in resp.data, url
    assert client.get(f"{base}/luecken").status_code == 403


def test_import_with_bad_rows_names_line_and_field_and_imports_nothing(client, auth, world, session):
    auth.login(world["sal"].email)
    url = f"/kommunen/{f.BAD_SALZUFLEN}/prozesse/import"
    bad = csv_file(row("1"), row("2", channel="Fax"), row("3", cases="zwölf"), row("4", ozg="", leika_key=""))
    resp = client.post(url, data={"datei": bad}, content_type="multipart/form-data")
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "Zeile 3, Heutiger Kanal" in page and "Zeile 4, Fallzahl pro Jahr" in page and "Zeile 5, OZG-ID" in page
    session.expire_all()
    assert reg.find_register(session, f.org(session, f.BAD_SALZUFLEN)) is None
    good = csv_file(row("1"), row("2", name="Wohnsitz anmelden", ozg="10124", cases="38.000",
                                  channel="Online-Formular"))
    resp = client.post(url, data={"datei": good}, content_type="multipart/form-data")
    assert resp.status_code == 302
    session.expire_all()
    entries = reg.find_register(session, f.org(session, f.BAD_SALZUFLEN)).entries
    assert {(e.process_key, e.cases, e.channel) for e in entries} == {("1", 1200, "analog"),
                                                                     ("2", 38000, "online_form")}


def test_import_refuses_unreadable_and_oversized_files(client, auth, world, monkeypatch):
    # A small bound keeps the upload in memory (werkzeug spools big ones to temporary files).
    monkeypatch.setattr(files, "MAX_BYTES", 4096)
    monkeypatch.setattr(reg, "MAX_ROWS", 20)
    auth.login(world["sal"].email)
    url = f"/kommunen/{f.BAD_SALZUFLEN}/prozesse/import"
    cases = [
        (io.BytesIO(b"PK\x03\x04kaputt"), "x.xlsx", "keine lesbare Excel-Datei"),
        (io.BytesIO(b"a;b\n1;2\n"), "x.csv", "Es fehlen die Spalten"),
        (io.BytesIO(b""), "x.csv", "Bitte wählen Sie eine Datei"),
        (io.BytesIO(b"x" * 5000), "x.csv", "größer als"),
        (io.BytesIO(b"\x00\x01"), "x.pdf", "CSV- oder XLSX"),
    ]
    for body, name, text in cases:
        resp = client.post(url, data={"datei": (body, name)}, content_type="multipart/form-data")
        assert resp.status_code == 422 and text in resp.get_data(as_text=True), name
    many = csv_file(*[row(str(i)) for i in range(reg.MAX_ROWS + 1)])
    resp = client.post(url, data={"datei": many}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "Höchstens" in resp.get_data(as_text=True)


def test_xlsx_template_round_trips_through_the_import(client, auth, world, session):
    from openpyxl import load_workbook

    resp = client.get("/prozessregister/vorlage.xlsx")
    assert resp.status_code == 200 and resp.mimetype == files.XLSX_TYPE
    sheet = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    assert [c.value for c in sheet[1]] == [c.header for c in files.COLUMNS] and sheet.max_row == 3
    assert client.get("/prozessregister/vorlage.csv").data.startswith("\ufeffprozessschluessel".encode())
    auth.login(world["sal"].email)
    resp = client.post(f"/kommunen/{f.BAD_SALZUFLEN}/prozesse/import",
                       data={"datei": (io.BytesIO(resp.data), "vorlage.xlsx")}, content_type="multipart/form-data")
    assert resp.status_code == 302
    session.expire_all()
    exported = client.get(f"/kommunen/{f.BAD_SALZUFLEN}/prozesse.csv").get_data(as_text=True)
    assert "32-001;Hundesteuer an- und abmelden;10160;99102013000000" in exported


def test_exports_defuse_spreadsheet_formulas(client, auth, world, session):
    reg.save_entry(session, world["sal"], f.org(session, f.BAD_SALZUFLEN),
                   {"process_key": "1", "name": "=HYPERLINK(\"x\")", "ozg_id": 10160, "channel": "analog"})
    auth.login(world["sal"].email)
    text = client.get(f"/kommunen/{f.BAD_SALZUFLEN}/prozesse.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text and ';"=HYPERLINK' not in text and ';=HYPERLINK' not in text


def test_network_view_page_and_export_count_only_shared_registers(client, auth, world, session):
    sal, lem = f.org(session, f.BAD_SALZUFLEN), f.org(session, f.LEMGO)
    reg.save_entry(session, world["sal"], sal, {"process_key": "1", "name": "H", "ozg_id": 10160,
                                                "channel": "analog", "cases": 3000, "cases_year": 2025})
    reg.set_visibility(session, world["sal"], sal, {"visibility": "network"})
    reg.save_entry(session, world["lemgo"], lem, {"process_key": "1", "name": "H", "ozg_id": 10160,
                                                  "channel": "analog", "cases": 777, "cases_year": 2025})
    session.commit()
    auth.login(world["sal"].email)  # Lemgo's register is private
    page = client.get("/netzwerke/lippe-web/prozesse").get_data(as_text=True)
    assert "3.000" in page and "3.777" not in page and "<svg" in page and "Wie die Punktzahl" in page
    export = client.get("/netzwerke/lippe-web/prozesse.csv?sortierung=faelle").get_data(as_text=True)
    assert ";3000;3000;1;1;" in export
    assert client.get("/netzwerke/lippe-web/prozesse.xlsx").status_code == 200
    assert client.get("/netzwerke/lippe-web/prozesse?themenfeld=abc&sortierung=x").status_code == 200
    auth.logout()
    auth.login(world["freiburg"].email)
    assert client.get("/netzwerke/lippe-web/prozesse").status_code == 403


def test_gap_view_offers_one_click_reuse_declaration(client, auth, world, session):
    offer = f.listing(session, world["freiburg"], publish_by=world["admin"], reuse_offered=True,
                      reuse_terms="Kostenfrei.", title="Hundesteuer digital Freiburg")
    reg.save_entry(session, world["sal"], f.org(session, f.BAD_SALZUFLEN),
                   {"process_key": "1", "name": "Hundesteuer", "ozg_id": 10160, "channel": "analog",
                    "cases": 1200, "cases_year": 2025})
    session.commit()
    auth.login(world["sal"].email)
    page = client.get(f"/kommunen/{f.BAD_SALZUFLEN}/prozesse/luecken").get_data(as_text=True)
    assert "Hundesteuer digital Freiburg" in page and f"/eintraege/{offer.slug}/nachnutzung" in page
    resp = client.post(f"/eintraege/{offer.slug}/nachnutzung",
                       data={"stage": "interested", "note": "Aus dem Prozessregister: Hundesteuer"})
    assert resp.status_code == 302
    page = client.get(f"/kommunen/{f.BAD_SALZUFLEN}/prozesse/luecken").get_data(as_text=True)
    assert "Ihre Nachnutzung: Interessiert" in page


def test_chart_downloads_as_svg_and_municipality_page_links_a_readable_register(client, auth, world, session):
    sal = f.org(session, f.BAD_SALZUFLEN)
    reg.save_entry(session, world["sal"], sal, {"process_key": "1", "name": "H", "ozg_id": 10160,
                                                "channel": "analog", "cases": 3000, "cases_year": 2025})
    session.commit()
    assert b"/kommunen/05766008/prozesse\"" not in client.get(f"/kommunen/{f.BAD_SALZUFLEN}").data  # private
    reg.set_visibility(session, world["sal"], sal, {"visibility": "public"})
    session.commit()
    assert b"Prozessregister von Bad Salzuflen" in client.get(f"/kommunen/{f.BAD_SALZUFLEN}").data
    auth.login(world["lemgo"].email)
    resp = client.get("/netzwerke/lippe-web/prozesse.svg")
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml" and b"Hundehaltung" in resp.data


def test_spreadsheet_reader_takes_comma_csv_in_windows_1252():
    body = (HEADER.replace(";", ",") + "\n" + "1,Fundbüro,10244,,,1.500,2025,Nur analog,,,nein,,,\n").encode("cp1252")
    rows, errors = files.read_upload("alt.csv", body)
    assert errors == {} and rows[0][1]["name"] == "Fundbüro" and rows[0][1]["cases"] == 1500
    assert rows[0][1]["channel"] == "analog" and rows[0][1]["own_statute"] is False
