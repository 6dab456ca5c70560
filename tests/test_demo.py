"""Demo content: the dog-tax story, networks and accounts for every role."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marktplatz.models import Listing, Network, Organisation, Reuse, StatusUpdate, User, listing_ozg
from marktplatz.models.listing import REUSE_STAGES
from marktplatz.services.demo import DEMO_PASSWORD, load_demo, load_missing_catalogue
from marktplatz.services.demo_catalogue import DEMO_MARK, EXTERNAL_PREFIX


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
    counts = {"listings": session.scalar(select(func.count(Listing.id))),
              "reuses": session.scalar(select(func.count(Reuse.id))),
              "users": session.scalar(select(func.count(User.id)))}
    assert load_demo(session) == {}
    assert load_missing_catalogue(session) == 0
    assert counts == {"listings": session.scalar(select(func.count(Listing.id))),
                      "reuses": session.scalar(select(func.count(Reuse.id))),
                      "users": session.scalar(select(func.count(User.id)))}
    # Freiburg's offer keeps exactly the two reuses of the story; the catalogue adds none to it.
    assert len(offered[0].reuses) == 2


@pytest.mark.demo  # a copy of the loaded demo, as `marktplatz data setup` leaves it
def test_demo_components_from_real_lists(session):
    """München and Berlin own components taken from their real open-source lists."""
    munich = session.scalars(select(Listing).where(Listing.external_id.like("it-at-m/%"))).all()
    berlin = session.scalars(select(Listing).where(Listing.external_id.like("berlin-oss/%"))).all()
    assert len(munich) == 25 and all(m.organisation.ags == "09162000" for m in munich)
    assert len(berlin) == 19 and all(b.organisation.ags == "11000000" for b in berlin)
    assert any(m.title == "MUCGPT" or "gpt" in m.title.lower() for m in munich)


@pytest.mark.demo  # a copy of the loaded demo, as `marktplatz data setup` leaves it
def test_demo_login_works(client, session):
    """The printed demo password signs in the Freiburg officer."""
    resp = client.post("/anmelden", data={"email": "digital@freiburg.example", "password": DEMO_PASSWORD})
    assert resp.status_code == 302


@pytest.mark.demo  # a copy of the loaded demo, as `marktplatz data setup` leaves it
def test_demo_catalogue_is_large_varied_and_consistent(session):
    """About 300 listings on 60+ real municipalities in 5+ Länder; unique summaries; dates in order."""
    published = session.scalars(select(Listing).where(Listing.status == "published")).all()
    assert len(published) >= 290
    orgs = session.scalars(select(Organisation).where(Organisation.id.in_({x.organisation_id for x in published}))).all()
    assert len(orgs) >= 60 and all(o.ags and o.population for o in orgs)
    assert len({o.land_code for o in orgs}) >= 5
    summaries = session.scalars(select(Listing.summary)).all()
    assert len(summaries) == len(set(summaries))
    for upd in session.scalars(select(StatusUpdate)):
        assert upd.listing.published_at is None or upd.created_at <= upd.listing.published_at, upd.listing.title
    for r in session.scalars(select(Reuse)):
        assert r.created_at >= r.listing.published_at, r.listing.title
        assert [c.changed_at for c in r.history] == sorted(c.changed_at for c in r.history)
        assert r.history[0].changed_at >= r.listing.published_at
    stages = dict(session.execute(select(Reuse.stage, func.count(Reuse.id)).group_by(Reuse.stage)).all())
    assert set(stages) == set(REUSE_STAGES) and min(stages.values()) >= 60
    assert all(r.reason for r in session.scalars(select(Reuse).where(Reuse.stage == "discontinued")))


@pytest.mark.demo  # a copy of the loaded demo, as `marktplatz data setup` leaves it
def test_demo_catalogue_says_it_is_invented_and_keeps_off_the_dog_tax(session):
    """Catalogue entries are marked as demo examples, public, and never about the dog tax."""
    catalogue = session.scalars(select(Listing).where(Listing.external_id.like(EXTERNAL_PREFIX + "%"))).all()
    assert len(catalogue) >= 230
    assert all(DEMO_MARK in x.description and x.visibility == "public" for x in catalogue)
    assert all("hund" not in (x.title + x.summary + x.description).lower() for x in catalogue)
    assert all(10160 not in [o.id for o in x.ozg_leistungen] and x.ozg_leistungen for x in catalogue)
    officers = {x.created_by.email for x in catalogue}
    assert all(e.startswith("digital@") and e.endswith(".example") for e in officers)
    assert session.scalar(select(func.count(Network.id))) == 2
