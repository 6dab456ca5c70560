"""Load the shipped reference data: GV100AD municipalities, Kreise, OZG catalogue, LeiKa."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ..models import Land, Lebenslage, LeikaLeistung, Organisation, OzgLeistung, Themenfeld

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
Progress = Callable[[str, int], None]

CITY_TYPES = {"Stadt", "Große Kreisstadt", "Kreisfreie Stadt", "Stadtkreis"}


def read_csv(name: str) -> Iterator[dict[str, str]]:
    """Yield the rows of a shipped, gzip-compressed CSV file."""
    with gzip.open(os.path.join(DATA_DIR, name + ".gz"), "rb") as raw:
        yield from csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))


def read_json(name: str) -> Any:
    """Return the content of a shipped, gzip-compressed JSON file."""
    with gzip.open(os.path.join(DATA_DIR, name + ".gz"), "rb") as raw:
        return json.load(raw)


def _noop(_label: str, _n: int) -> None:
    pass


def _insert_missing(session: Session, model: Any, key_attr: str, rows: list[dict[str, Any]], progress: Progress, label: str) -> int:
    existing = set(session.scalars(select(getattr(model, key_attr))))
    fresh = [r for r in rows if r[key_attr] not in existing]
    for start in range(0, len(fresh), 1000):
        chunk = fresh[start : start + 1000]
        session.execute(insert(model), chunk)
        progress(label, len(chunk))
    progress(label, len(rows) - len(fresh))
    return len(fresh)


def organisation_rows() -> list[dict[str, Any]]:
    """Return organisation rows for all GV100AD Gemeinden and all Kreise."""
    rows: list[dict[str, Any]] = []
    for r in read_csv("gemeinden_de_gv100ad_2023-11-30.csv"):
        rows.append(
            {
                "key": r["ags"],
                "ags": r["ags"],
                "ars": r["ars"],
                "name": r["name"],
                "short_name": r["name_kurz"],
                "kind": "stadt" if r["ist_stadt"] == "1" else "gemeinde",
                "type_label": r["gemeindetyp"],
                "land_code": r["land_code"],
                "land": r["bundesland"],
                "kreis_key": r["kreis_schluessel"],
                "kreis": r["kreis"],
                "population": int(r["bevoelkerung"]) if r["bevoelkerung"] else None,
                "area_km2": float(r["flaeche_km2"]) if r["flaeche_km2"] else None,
                "postcode": r["plz"] or None,
            }
        )
    for r in read_csv("kreise_de_gv100ad_2023-11-30.csv"):
        rows.append(
            {
                "key": r["kreis_schluessel"],
                "ags": None,
                "ars": None,
                "name": r["name"],
                "short_name": r["name"].split(",")[0],
                "kind": "kreis",
                "type_label": r["typ"],
                "land_code": r["land_code"],
                "land": r["bundesland"],
                "kreis_key": r["kreis_schluessel"],
                "kreis": r["name"],
                "population": int(r["bevoelkerung"]) if r["bevoelkerung"] else None,
                "area_km2": None,
                "postcode": None,
            }
        )
    return rows


def load_reference(session: Session, progress: Progress = _noop) -> dict[str, int]:
    """Insert every reference row that is missing; return how many were added per table."""
    added: dict[str, int] = {}
    lands = [
        {"code": r["land_code"], "short": r["kuerzel"], "name": r["name"]}
        for r in read_csv("laender_de_gv100ad_2023-11-30.csv")
    ]
    added["land"] = _insert_missing(session, Land, "code", lands, progress, "Länder")
    themen = [{"id": int(r["themenfeld_id"]), "name": r["themenfeld"]} for r in read_csv("ozg_themenfelder.csv")]
    added["themenfeld"] = _insert_missing(session, Themenfeld, "id", themen, progress, "Themenfelder")
    lagen = [
        {"id": int(r["lebenslage_id"]), "name": r["lebenslage"], "themenfeld_id": int(r["themenfeld_id"])}
        for r in read_csv("ozg_lebenslagen.csv")
    ]
    added["lebenslage"] = _insert_missing(session, Lebenslage, "id", lagen, progress, "Lebenslagen")
    leistungen = [
        {
            "id": int(r["ozg_id"]),
            "name": r["ozg_leistung"],
            "lebenslage_id": int(r["lebenslage_id"]),
            "themenfeld_id": int(r["themenfeld_id"]),
        }
        for r in read_csv("ozg_leistungen.csv")
    ]
    added["ozg_leistung"] = _insert_missing(session, OzgLeistung, "id", leistungen, progress, "OZG-Leistungen")
    leika = [
        {
            "key": r["leika_schluessel"],
            "name": r["leistung"],
            "leika_type": r["leika_typ"] or None,
            "ozg_id": int(r["ozg_id"]),
            "legal_basis": r["rechtsgrundlage"] or "",
            "sdg_relevant": r["sdg1_relevant"] == "1" or r["sdg2_relevant"] == "1",
        }
        for r in read_csv("leika_leistungen_ozg.csv")
        if r["im_leika"] == "1" and len(r["leika_schluessel"]) == 14 and r["ozg_id"]
    ]
    added["leika_leistung"] = _insert_missing(session, LeikaLeistung, "key", leika, progress, "LeiKa-Leistungen")
    added["organisation"] = _insert_missing(session, Organisation, "key", organisation_rows(), progress, "Kommunen und Kreise")
    session.flush()
    return added


def reference_loaded(session: Session) -> bool:
    """Tell whether the reference data is present."""
    return (session.scalar(select(func.count(Organisation.id))) or 0) > 10_000 and (
        session.scalar(select(func.count(OzgLeistung.id))) or 0
    ) > 500
