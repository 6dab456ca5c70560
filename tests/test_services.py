"""Listing, status and reuse services: validation, locking, change log, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marktplatz.models import AuditEvent, ChangeLog, Listing
from marktplatz.services import listings, reuse
from marktplatz.services.errors import Conflict, Invalid

from . import factories as f


@pytest.fixture
def people(session):
    andi = f.network(session, "andi", f.FREIBURG, f.MANNHEIM)
    return {
        "owner": f.user(session, "officer", f.FREIBURG),
        "other": f.user(session, "officer", f.MANNHEIM),
        "coord": f.user(session, "coordinator", f.KARLSRUHE, [andi]),
    }


def test_create_links_catalogue_and_logs_change(session, people):
    """A new listing links OZG and LeiKa, starts as draft, and writes change log and audit."""
    item = f.listing(session, people["owner"])
    assert item.status == "draft"
    assert [o.id for o in item.ozg_leistungen] == [10160]
    assert [lk.key for lk in item.leika_leistungen] == ["99102013000000"]
    assert item.slug.startswith("hundesteuer-online")
    log = session.scalars(select(ChangeLog).where(ChangeLog.entity_type == "listing", ChangeLog.entity_id == item.id)).all()
    assert [row.op for row in log] == ["created"]
    assert session.scalar(select(AuditEvent).where(AuditEvent.listing_id == item.id)).action == "listing.created"


@pytest.mark.parametrize(
    "override,field",
    [
        ({"title": ""}, "title"),
        ({"summary": "x" * 301}, "summary"),
        ({"kind": "app"}, "kind"),
        ({"reifegrad": 6, "reifegrad_model": "1.1"}, "reifegrad"),
        ({"reifegrad": 2, "reifegrad_model": None}, "reifegrad_model"),
        ({"licence": "Freeware-1"}, "licence"),
        ({"ozg_ids": [99999]}, "ozg_ids"),
        ({"leika_keys": ["123"]}, "leika_keys"),
        ({"repository_url": "javascript:alert(1)"}, "repository_url"),
        ({"contact_email": "kein-at"}, "contact_email"),
        ({"reuse_offered": True, "reuse_terms": ""}, "reuse_terms"),
    ],
)
def test_validation_names_the_field_and_writes_nothing(session, people, override, field):
    """Bad input raises Invalid for the right field and leaves no row behind."""
    before = session.scalar(select(Listing.id).limit(1))
    session.commit()
    with pytest.raises(Invalid) as err:
        listings.create_listing(session, people["owner"], f.listing_data(**override))
    assert field in err.value.errors
    session.rollback()
    assert session.scalar(select(Listing.id).limit(1)) == before


def test_reifegrad_model_2_allows_level_7(session, people):
    """Model 2.0 has levels 0-7."""
    item = f.listing(session, people["owner"], reifegrad=7, reifegrad_model="2.0")
    assert (item.reifegrad, item.reifegrad_model) == (7, "2.0")


def test_optimistic_locking_conflict(session, people):
    """An edit based on an old version is refused and changes nothing."""
    item = f.listing(session, people["owner"])
    v1 = item.version
    listings.update_listing(session, people["owner"], item, {"title": "Erste Änderung"}, v1, partial=True)
    with pytest.raises(Conflict):
        listings.update_listing(session, people["owner"], item, {"title": "Veraltete Änderung"}, v1, partial=True)
    session.refresh(item)
    assert item.title == "Erste Änderung"


def test_archive_writes_archived_change(session, people):
    """Archiving logs op 'archived'."""
    item = f.listing(session, people["owner"])
    listings.archive_listing(session, people["owner"], item)
    ops = [r.op for r in session.scalars(select(ChangeLog).where(ChangeLog.entity_id == item.id, ChangeLog.entity_type == "listing").order_by(ChangeLog.id))]
    assert ops[-1] == "archived"


def test_status_update_moves_phase(session, people):
    """A status update with a phase moves the listing's phase and joins the timeline."""
    item = f.listing(session, people["owner"], kind="projekt", phase="planned")
    listings.post_status_update(session, people["owner"], item, {"title": "Pilot gestartet", "body": "Mit 3 Ämtern", "phase": "in_progress"})
    assert item.phase == "in_progress"
    assert item.status_updates[0].title == "Pilot gestartet"


def test_reuse_stages_keep_history(session, people):
    """Reuse moves through stages with a history; discontinuing needs a reason."""
    item = f.listing(session, people["owner"], publish_by=people["coord"])
    r = reuse.declare_reuse(session, people["other"], item, {"stage": "interested"})
    reuse.change_reuse_stage(session, people["other"], r, {"stage": "evaluating"})
    with pytest.raises(Invalid) as err:
        reuse.change_reuse_stage(session, people["other"], r, {"stage": "discontinued"})
    assert "reason" in err.value.errors
    reuse.change_reuse_stage(session, people["other"], r, {"stage": "discontinued", "reason": "Landeslösung kommt"})
    assert [h.to_stage for h in r.history] == ["interested", "evaluating", "discontinued"]
    assert r.reason == "Landeslösung kommt"


def test_duplicate_reuse_is_a_conflict(session, people):
    """A municipality declares reuse of a listing only once."""
    item = f.listing(session, people["owner"], publish_by=people["coord"])
    reuse.declare_reuse(session, people["other"], item, {"stage": "interested"})
    with pytest.raises(Conflict):
        reuse.declare_reuse(session, people["other"], item, {"stage": "pilot"})


def test_changelog_ids_increase_in_commit_order(session, people):
    """Each change appends a row with a larger id."""
    item = f.listing(session, people["owner"])
    listings.update_listing(session, people["owner"], item, {"summary": "Neue Kurzbeschreibung hier."}, None, partial=True)
    rows = session.scalars(select(ChangeLog).order_by(ChangeLog.id)).all()
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert rows[-1].op == "updated"
