"""Process registers: who edits, who reads, bulk upsert, the network and gap views, the score."""

from __future__ import annotations

import pytest

from marktplatz.permissions import can, register_visibility_filter
from marktplatz.services import process_priorities as prio
from marktplatz.services import process_register as reg
from marktplatz.services import reuse
from marktplatz.services.errors import Forbidden, Invalid, NotFound

from . import factories as f


def entry(key: str, **overrides):
    """Return valid entry input."""
    data = {"process_key": key, "name": f"Prozess {key}", "ozg_id": 10160, "cases": 1000,
            "cases_year": 2025, "channel": "analog"}
    data.update(overrides)
    return data


@pytest.fixture
def lippe(session):
    """Bad Salzuflen and Lemgo in one network, Freiburg outside; one officer each."""
    net = f.network(session, "lippe-test", f.BAD_SALZUFLEN, f.LEMGO)
    return {
        "net": net,
        "salzuflen": f.user(session, "officer", f.BAD_SALZUFLEN),
        "lemgo": f.user(session, "officer", f.LEMGO),
        "freiburg": f.user(session, "officer", f.FREIBURG),
        "coord": f.user(session, "coordinator", ags=None, networks=[net]),
        "admin": f.user(session, "admin", ags=None),
    }


def test_officer_edits_only_their_own_register(session, lippe):
    own = f.org(session, f.BAD_SALZUFLEN)
    e = reg.save_entry(session, lippe["salzuflen"], own, entry("32-1"))
    assert e.ozg_id == 10160 and e.register.visibility == "private"
    with pytest.raises(Forbidden):
        reg.save_entry(session, lippe["lemgo"], own, entry("32-2"))
    with pytest.raises(Forbidden):
        reg.upsert_entries(session, lippe["coord"], own, [(2, entry("32-3"))])
    with pytest.raises(Forbidden):
        reg.delete_entry(session, lippe["lemgo"], e)
    assert can(lippe["salzuflen"], "register.edit", e) and not can(lippe["lemgo"], "register.edit", e)


@pytest.mark.parametrize("visibility,readers", [
    ("private", {"salzuflen", "admin"}),
    ("network", {"salzuflen", "admin", "lemgo", "coord"}),
    ("public", {"salzuflen", "admin", "lemgo", "coord", "freiburg", "anonymous"}),
])
def test_register_visibility_single_check_and_sql_filter_agree(session, lippe, visibility, readers):
    from sqlalchemy import select

    from marktplatz.models import ProcessRegister

    own = f.org(session, f.BAD_SALZUFLEN)
    reg.save_entry(session, lippe["salzuflen"], own, entry("1"))
    register = reg.set_visibility(session, lippe["salzuflen"], own, {"visibility": visibility})
    session.commit()
    viewers = {**{k: v for k, v in lippe.items() if k != "net"}, "anonymous": None}
    for name, user in viewers.items():
        single = can(user, "register.view", register)
        in_sql = session.scalar(select(ProcessRegister.id).where(
            ProcessRegister.id == register.id, register_visibility_filter(user))) is not None
        assert single == in_sql == (name in readers), name
        if name not in readers:
            with pytest.raises(NotFound):
                reg.get_register(session, user, own)


def test_entry_needs_known_catalogue_and_derives_ozg_from_leika(session, lippe):
    own = f.org(session, f.BAD_SALZUFLEN)
    e = reg.save_entry(session, lippe["salzuflen"], own, entry("h", ozg_id=None, leika_key="99102013000000"))
    assert e.ozg_id == 10160
    with pytest.raises(Invalid) as err:
        reg.save_entry(session, lippe["salzuflen"], own, entry("x", ozg_id=99999))
    assert "ozg_id" in err.value.errors
    with pytest.raises(Invalid) as err:
        reg.save_entry(session, lippe["salzuflen"], own, entry("y", ozg_id=None, cases=5, cases_year=None))
    assert set(err.value.errors) == {"ozg_id", "cases_year"}
    with pytest.raises(Invalid) as err:
        reg.save_entry(session, lippe["salzuflen"], own, entry("h"))
    assert "process_key" in err.value.errors


def test_upsert_is_all_or_nothing_with_line_and_field(session, lippe):
    own = f.org(session, f.BAD_SALZUFLEN)
    rows = [(2, entry("a")), (3, entry("b", channel="fax")), (4, entry("a")), (5, entry("c", cases=-1))]
    with pytest.raises(Invalid) as err:
        reg.upsert_entries(session, lippe["salzuflen"], own, rows)
    lines = err.value.errors["zeilen"]
    assert set(lines) == {3, 4, 5} and "channel" in lines[3] and "process_key" in lines[4] and "cases" in lines[5]
    text = reg.row_errors_text(err.value)
    assert any(t.startswith("Zeile 3, Heutiger Kanal:") for t in text)
    session.rollback()
    assert reg.find_register(session, own) is None
    done = reg.upsert_entries(session, lippe["salzuflen"], own, [(2, entry("a")), (3, entry("b"))])
    assert (done.created, done.updated) == (2, 0)
    again = reg.upsert_entries(session, lippe["salzuflen"], own, [(2, entry("a", cases=5)), (3, entry("b"))])
    assert (again.created, again.updated, again.unchanged) == (0, 1, 1)


def test_solution_listing_must_be_visible_to_the_editor(session, lippe):
    own = f.org(session, f.BAD_SALZUFLEN)
    draft = f.listing(session, lippe["freiburg"])  # a draft of Freiburg: hidden from Bad Salzuflen
    with pytest.raises(Invalid) as err:
        reg.save_entry(session, lippe["salzuflen"], own, entry("s", solution_listing=draft.slug))
    assert "solution_listing" in err.value.errors


def test_priority_score_formula():
    assert prio.score(open_cases=9000, municipalities=3, without_solution=2, has_reusable=True) == 9000
    assert prio.score(9000, 3, 2, False) == 6000
    assert prio.score(0, 3, 3, True) == 0
    assert prio.score(100, 0, 0, True) == 0


def test_network_view_adds_up_only_readable_registers(session, lippe):
    sal, lem = f.org(session, f.BAD_SALZUFLEN), f.org(session, f.LEMGO)
    offer = f.listing(session, lippe["freiburg"], publish_by=lippe["admin"], reuse_offered=True, reuse_terms="Kostenfrei nachnutzbar.", cost_model="free")
    reg.upsert_entries(session, lippe["salzuflen"], sal, [(2, entry("h", cases=3000, own_statute=True)),
                                                          (3, entry("m", ozg_id=10124, cases=9000, channel="online_form",
                                                                    solution_text="Fachverfahren"))])
    reg.set_visibility(session, lippe["salzuflen"], sal, {"visibility": "network"})
    reg.upsert_entries(session, lippe["lemgo"], lem, [(2, entry("h", cases=1000, channel="pdf"))])
    session.commit()
    # Lemgo's register is private: the coordinator sees only Bad Salzuflen's figures.
    view = prio.network_view(session, lippe["coord"], lippe["net"])
    assert [o.ags for o in view.registers] == [f.BAD_SALZUFLEN]
    dog = next(p for p in view.priorities if p.ozg.id == 10160)
    assert (dog.cases, dog.open_cases, dog.municipalities, dog.analog, dog.own_statute) == (3000, 3000, 1, 1, 1)
    assert [s.listing.id for s in dog.solutions] == [offer.id] and dog.score == 4500
    # Lemgo reads its own register too, and Bad Salzuflen's (shared with the network).
    view = prio.network_view(session, lippe["lemgo"], lippe["net"])
    dog = next(p for p in view.priorities if p.ozg.id == 10160)
    assert (dog.cases, dog.open_cases, dog.municipalities, dog.analog) == (4000, 4000, 2, 2)
    assert view.priorities[0].ozg.id == 10160  # ranked by score: the online Leistung has none
    by_name = prio.network_view(session, lippe["lemgo"], lippe["net"], sort="faelle")
    assert by_name.priorities[0].ozg.id == 10124
    only = prio.network_view(session, lippe["lemgo"], lippe["net"], themenfeld=dog.ozg.themenfeld_id)
    assert {p.ozg.themenfeld_id for p in only.priorities} == {dog.ozg.themenfeld_id}
    with pytest.raises(Forbidden):
        prio.network_view(session, lippe["freiburg"], lippe["net"])


def test_network_view_names_only_solutions_the_viewer_may_see(session, lippe):
    sal = f.org(session, f.BAD_SALZUFLEN)
    fr_coord = f.user(session, "coordinator", ags=None, networks=[f.network(session, "fr", f.FREIBURG)])
    f.listing(session, lippe["freiburg"], publish_by=fr_coord, reuse_offered=True, reuse_terms="Kostenfrei nachnutzbar.", visibility="network")
    reg.upsert_entries(session, lippe["salzuflen"], sal, [(2, entry("h"))])
    session.commit()
    view = prio.network_view(session, lippe["salzuflen"], lippe["net"])
    assert view.priorities[0].solutions == []


def test_gap_view_lists_analog_processes_with_reusable_solutions(session, lippe):
    sal = f.org(session, f.BAD_SALZUFLEN)
    offer = f.listing(session, lippe["freiburg"], publish_by=lippe["admin"], reuse_offered=True, reuse_terms="Kostenfrei nachnutzbar.")
    reg.upsert_entries(session, lippe["salzuflen"], sal, [
        (2, entry("h", cases=3000)), (3, entry("x", ozg_id=10124, cases=9000)),
        (4, entry("o", cases=50, channel="end_to_end"))])
    gaps = prio.gaps(session, lippe["salzuflen"], sal)
    assert [g.entry.process_key for g in gaps] == ["h"] and gaps[0].solutions[0].listing.id == offer.id
    reuse.declare_reuse(session, lippe["salzuflen"], offer, {"stage": "interested"})
    assert offer.id in prio.gaps(session, lippe["salzuflen"], sal)[0].own_reuses
    with pytest.raises(Forbidden):
        prio.gaps(session, lippe["lemgo"], sal)
