"""Demo content: the dog-tax story, networks and accounts for every role."""

from __future__ import annotations

from sqlalchemy import func, select

from marktplatz.models import Listing, Network, Reuse, User, listing_ozg
from marktplatz.services.demo import DEMO_PASSWORD, load_demo


def test_demo_loads_story_and_is_idempotent(session):
    """14 dog-tax efforts in BW, one offered for reuse and reused twice; second run adds nothing."""
    result = load_demo(session)
    assert result["listings"] > 50
    dog = session.scalars(
        select(Listing).join(listing_ozg).where(listing_ozg.c.ozg_id == 10160, Listing.title.ilike("%hund%"))
        .where(Listing.organisation.has(land_code="08"))
    ).all()
    assert len(dog) == 14
    offered = [d for d in dog if d.reuse_offered]
    assert len(offered) == 1
    assert offered[0].organisation.short_name == "Freiburg im Breisgau"
    reusers = {r.organisation.short_name: r.stage for r in offered[0].reuses}
    assert reusers == {"Ettlingen": "production", "Konstanz": "pilot"}
    assert {n.slug for n in session.scalars(select(Network))} == {"andi", "lippe-digital"}
    roles = {u.role for u in session.scalars(select(User))}
    assert roles == {"officer", "coordinator", "admin"}
    assert load_demo(session) == {}
    assert session.scalar(select(func.count(Reuse.id))) == 3


def test_demo_components_from_real_lists(session):
    """München and Berlin own components taken from their real open-source lists."""
    load_demo(session)
    munich = session.scalars(select(Listing).where(Listing.external_id.like("it-at-m/%"))).all()
    berlin = session.scalars(select(Listing).where(Listing.external_id.like("berlin-oss/%"))).all()
    assert len(munich) == 25 and all(m.organisation.ags == "09162000" for m in munich)
    assert len(berlin) == 19 and all(b.organisation.ags == "11000000" for b in berlin)
    assert any(m.title == "MUCGPT" or "gpt" in m.title.lower() for m in munich)


def test_demo_login_works(client, session):
    """The printed demo password signs in the Freiburg officer."""
    load_demo(session)
    resp = client.post("/anmelden", data={"email": "digital@freiburg.example", "password": DEMO_PASSWORD})
    assert resp.status_code == 302
