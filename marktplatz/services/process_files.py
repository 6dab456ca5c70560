"""Spreadsheet files of process registers: read CSV/XLSX uploads, write exports and the template.

The columns are schemas/process.py's COLUMNS (header row: their ``header`` names). Reading
is bounded (bytes, rows, columns) and never raises anything but Invalid with German
messages; validation of the values is the bulk upsert's (services/process_register.py).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from ..models.process_register import CHANNELS
from ..schemas.process import COLUMNS, HEADERS
from . import process_register
from .errors import Invalid

MAX_BYTES = 2 * 1024 * 1024
MAX_COLUMNS = 40
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_TRUE = {"ja", "j", "x", "1", "true", "wahr", "yes"}
_FALSE = {"nein", "n", "0", "false", "falsch", "no", ""}
_THOUSANDS = re.compile(r"^\d{1,3}(\.\d{3})+$")  # German 38.000
_CHANNEL_BY_LABEL = {v.lower(): k for k, v in CHANNELS.items()}

EXAMPLE_ROWS: list[dict[str, Any]] = [
    {"process_key": "32-001", "name": "Hundesteuer an- und abmelden", "ozg_id": 10160,
     "leika_key": "99102013000000", "unit": "Steueramt", "cases": 1200, "cases_year": 2025,
     "channel": "pdf", "solution_listing": None, "solution_text": "", "own_statute": True,
     "statute_ref": "Hundesteuersatzung, § 2", "priority": 2, "notes": "Beispielzeile: bitte ersetzen."},
    {"process_key": "33-010", "name": "Wohnsitz anmelden", "ozg_id": 10124, "leika_key": None,
     "unit": "Bürgerbüro", "cases": 4100, "cases_year": 2025, "channel": "appointment",
     "solution_listing": None, "solution_text": "Online-Terminvergabe", "own_statute": False,
     "statute_ref": "", "priority": 1, "notes": "Beispielzeile: bitte ersetzen."},
]


def _spreadsheet_text(value: Any) -> Any:
    """Defuse text a spreadsheet would run as a formula (=, +, -, @ at the start)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _cell(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if name == "own_statute":
        return "ja" if value else "nein"
    return _spreadsheet_text(value)


def table(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """Return the header row and one row per entry dict, in COLUMNS order."""
    return [[c.header for c in COLUMNS]] + [[_cell(c.name, r.get(c.name)) for c in COLUMNS] for r in rows]


def to_csv(rows: list[list[Any]]) -> bytes:
    """Return rows as CSV for German spreadsheets (semicolon, UTF-8 with BOM)."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerows([[_spreadsheet_text(v) if isinstance(v, str) else v for v in r] for r in rows])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(rows: list[list[Any]], title: str, notes: list[str] | None = None) -> bytes:
    """Return rows as an XLSX workbook (one sheet, header row frozen; notes on a second sheet)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    for r in rows:
        ws.append([_spreadsheet_text(v) if isinstance(v, str) else v for v in r])
    ws.freeze_panes = "A2"
    if notes:
        info = wb.create_sheet("Hinweise")
        for line in notes:
            info.append([line])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def template_notes() -> list[str]:
    """Return the template's explanation of each column (German)."""
    return ["Vorlage Prozessregister – eine Zeile je Prozess, Kopfzeile nicht ändern."] + [
        f"{c.header}: {c.label}{' – ' + c.help if c.help else ''}" for c in COLUMNS]


def _int(name: str, value: Any, errors: dict[str, list[str]]) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        errors[name] = ["Bitte eine ganze Zahl angeben."]
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        errors[name] = ["Bitte eine ganze Zahl angeben."]
        return None
    text = str(value).strip().replace(" ", "").replace("\u00a0", "")
    if _THOUSANDS.match(text):
        text = text.replace(".", "")
    if not re.fullmatch(r"-?\d{1,9}", text):
        errors[name] = [f"„{str(value)[:40]}“ ist keine ganze Zahl."]
        return None
    return int(text)


def coerce(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Turn spreadsheet cells (or form fields) into schema input; return it with conversion errors.

    Numbers may carry German thousands dots (38.000), the channel its German label, the
    statute flag ja/nein.
    """
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {}
    for c in COLUMNS:
        value = raw.get(c.name)
        if c.name in ("ozg_id", "cases", "cases_year", "priority"):
            data[c.name] = _int(c.name, value, errors)
        elif c.name == "own_statute":
            text = str(value if value is not None else "").strip().lower()
            if isinstance(value, bool):
                data[c.name] = value
            elif text in _TRUE or text in _FALSE:
                data[c.name] = text in _TRUE
            else:
                errors[c.name] = ["Bitte ja oder nein angeben."]
        elif c.name == "channel":
            text = str(value if value is not None else "").strip()
            data[c.name] = _CHANNEL_BY_LABEL.get(text.lower(), text.lower() if text.lower() in CHANNELS else text)
        elif c.name == "leika_key" and isinstance(value, (int, float)) and not isinstance(value, bool):
            data[c.name] = str(int(value))  # Excel turns the 14 digits into a number
        else:
            data[c.name] = "" if value is None else str(value)
    return data, errors


def _rows_from_table(cells: list[list[Any]]) -> list[tuple[int, dict[str, Any]]]:
    if not cells:
        raise Invalid({"datei": ["Die Datei ist leer."]})
    header = [str(h or "").strip().lower().lstrip("\ufeff") for h in cells[0]]
    unknown = [h for h in header if h and h not in HEADERS]
    missing = [c.header for c in COLUMNS if c.header in ("prozessschluessel", "name", "kanal") and c.header not in header]
    if missing or unknown:
        msgs = []
        if missing:
            msgs.append("Es fehlen die Spalten: " + ", ".join(missing) + ".")
        if unknown:
            msgs.append("Unbekannte Spalten: " + ", ".join(u[:40] for u in unknown[:10]) + ".")
        raise Invalid({"datei": msgs + ["Bitte verwenden Sie die Kopfzeile der Vorlage."]})
    out: list[tuple[int, dict[str, Any]]] = []
    for number, row in enumerate(cells[1:], start=2):
        if all(v is None or str(v).strip() == "" for v in row):
            continue
        out.append((number, {HEADERS[h]: row[i] if i < len(row) else None for i, h in enumerate(header) if h}))
    return out


def _read_csv(data: bytes) -> list[list[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # Excel's "CSV" on German Windows
    if "\x00" in text:
        raise Invalid({"datei": ["Die Datei ist keine Textdatei (CSV)."]})
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    cells: list[list[Any]] = []
    try:
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            cells.append(row[:MAX_COLUMNS])
            if len(cells) > process_register.MAX_ROWS + 1:
                break
    except csv.Error as err:
        raise Invalid({"datei": [f"Die CSV-Datei ist nicht lesbar (Zeile {len(cells) + 1})."]}) from err
    return cells


def _read_xlsx(data: bytes) -> list[list[Any]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        ws = wb.worksheets[0]
        cells = []
        for row in ws.iter_rows(max_col=MAX_COLUMNS, values_only=True):
            cells.append(list(row))
            if len(cells) > process_register.MAX_ROWS + 1:
                break
        wb.close()
    except (BadZipFile, KeyError, ValueError, OSError, IndexError, TypeError) as err:
        raise Invalid({"datei": ["Die Datei ist keine lesbare Excel-Datei (.xlsx)."]}) from err
    return cells


def read_upload(filename: str, data: bytes) -> tuple[list[tuple[int, dict[str, Any]]], dict[int, dict[str, list[str]]]]:
    """Return the rows of an uploaded CSV or XLSX file as (line number, schema input), and
    the cells that could not be converted (line -> field -> messages) for upsert_entries."""
    if not data:
        raise Invalid({"datei": ["Bitte wählen Sie eine Datei aus."]})
    if len(data) > MAX_BYTES:
        raise Invalid({"datei": [f"Die Datei ist größer als {MAX_BYTES // (1024 * 1024)} MB."]})
    name = (filename or "").lower()
    if name.endswith(".xlsx") or data[:4] == b"PK\x03\x04":
        cells = _read_xlsx(data)
    elif name.endswith((".csv", ".txt")) or not name:
        cells = _read_csv(data)
    else:
        raise Invalid({"datei": ["Bitte laden Sie eine CSV- oder XLSX-Datei hoch."]})
    if len(cells) > process_register.MAX_ROWS + 1:
        raise Invalid({"datei": [f"Höchstens {process_register.MAX_ROWS} Zeilen je Datei."]})
    rows = _rows_from_table(cells)
    out: list[tuple[int, dict[str, Any]]] = []
    conversion: dict[int, dict[str, list[str]]] = {}
    for line, raw in rows:
        data_row, errors = coerce(raw)
        if errors:
            conversion[line] = errors
        out.append((line, data_row))
    return out, conversion
