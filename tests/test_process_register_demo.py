"""Demo process registers: Bad Salzuflen and the Lippe neighbours, demo figures, idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marktplatz.models import Network, ProcessEntry, User
from marktplatz.services import process_priorities as prio
from marktplatz.services.demo import BAD_SALZUFLEN, LIPPE_NEIGHBOURS
from marktplatz.services.demo_registers import RATES, load_demo_registers


@pytest.mark.demo
def test_demo_registers_tell_the_lippe_story_and_load_once(session):
    count = session.scalar(select(func.count(ProcessEntry.id)))
    assert count > 100
    assert all(e.notes.startswith("Demo-Zahl, keine echte Statistik") for e in session.scalars(select(ProcessEntry)))
    assert load_demo_registers(session, BAD_SALZUFLEN, LIPPE_NEIGHBOURS) == 0
    assert session.scalar(select(func.count(ProcessEntry.id))) == count
    lippe = session.scalar(select(Network).where(Network.slug == "lippe-digital"))
    salzuflen = session.scalar(select(User).where(User.email == "digital@bad-salzuflen.example"))
    view = prio.network_view(session, salzuflen, lippe)
    assert len(view.registers) == 15 and view.members == 16
    assert {p.ozg.id for p in view.priorities} == {r.ozg_id for r in RATES}
    dog = next(p for p in view.priorities if p.ozg.id == 10160)
    assert dog.solutions and dog.solutions[0].listing.organisation.short_name == "Freiburg im Breisgau"
    assert prio.gaps(session, salzuflen, salzuflen.organisation)  # the dog tax at least
