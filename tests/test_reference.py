"""Reference data: real municipalities, Kreise, OZG catalogue and LeiKa keys."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marktplatz.models import (
    Land,
    Lebenslage,
    LeikaLeistung,
    Organisation,
    OzgLeistung,
    Themenfeld,
    valid_ags,
)
from marktplatz.services.reference import load_reference


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_full_reference_is_loaded(session):
    """All GV100AD entries, 400 Kreise, 14 Themenfelder, 55 Lebenslagen, 557 OZG-Leistungen."""
    assert count(session, Organisation, Organisation.kind.in_(["gemeinde", "stadt"])) == 10_981
    assert count(session, Organisation, Organisation.kind == "kreis") == 400
    assert count(session, Land) == 16
    assert count(session, Themenfeld) == 14
    assert count(session, Lebenslage) == 55
    assert count(session, OzgLeistung) == 557
    assert count(session, LeikaLeistung) == 4797


def test_dog_tax_leika_maps_to_hundehaltung(session):
    """LeiKa 99102013000000 (Hundesteuer) belongs to OZG-ID 10160 Hundehaltung."""
    leika = session.scalar(select(LeikaLeistung).where(LeikaLeistung.key == "99102013000000"))
    assert leika.name == "Hundesteuer"
    assert leika.ozg.id == 10160 and leika.ozg.name == "Hundehaltung"
    assert leika.ozg.themenfeld.name == "Engagement & Hobby"


def test_municipality_fields(session):
    """Freiburg carries AGS, ARS, Land, Kreis and population from GV100AD."""
    fr = session.scalar(select(Organisation).where(Organisation.ags == "08311000"))
    assert fr.short_name == "Freiburg im Breisgau"
    assert fr.ars == "083110000000"
    assert fr.land == "Baden-Württemberg"
    assert fr.kind == "stadt"
    assert fr.population > 200_000


def test_loading_twice_adds_nothing(session):
    """The loader is idempotent."""
    added = load_reference(session)
    assert set(added.values()) == {0}


@pytest.mark.parametrize("ags,ok", [("08311000", True), ("8311000", False), ("17000000", False), ("0831100a", False), ("00000000", False)])
def test_ags_validation(ags, ok):
    """An AGS has 8 digits and a real Land code."""
    assert valid_ags(ags) is ok


def test_invalid_ags_is_refused_by_the_model():
    """Assigning a malformed AGS raises."""
    with pytest.raises(ValueError):
        Organisation(key="x", ags="123", name="x", short_name="x", kind="gemeinde")
