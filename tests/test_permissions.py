"""The role matrix: who may do what to whom."""

from __future__ import annotations

import pytest
from flask_login import AnonymousUserMixin

from marktplatz.permissions import PERMISSIONS, can
from marktplatz.services import listings, reuse
from marktplatz.services.errors import Conflict, Forbidden, NotFound

from . import factories as f


@pytest.fixture
def world(session):
    """Two networks, officers, coordinators and an admin."""
    andi = f.network(session, "andi", f.FREIBURG, f.MANNHEIM)
    lippe = f.network(session, "lippe", f.BAD_SALZUFLEN, f.LEMGO)
    w = {
        "admin": f.user(session, "admin", ags=None),
        "freiburg": f.user(session, "officer", f.FREIBURG),
        "mannheim": f.user(session, "officer", f.MANNHEIM),
        "salzuflen": f.user(session, "officer", f.BAD_SALZUFLEN),
        "coord_andi": f.user(session, "coordinator", f.KARLSRUHE, [andi]),
        "coord_lippe": f.user(session, "coordinator", f.LEMGO, [lippe]),
        "anon": AnonymousUserMixin(),
    }
    w["listing"] = f.listing(session, w["freiburg"], publish_by=w["coord_andi"])
    w["draft"] = f.listing(session, w["freiburg"])
    w["members_only"] = f.listing(session, w["freiburg"], publish_by=w["coord_andi"], visibility="network")
    return w


def test_every_action_has_a_row():
    """The table names at least one relation for each action."""
    assert all(PERMISSIONS.values())


@pytest.mark.parametrize(
    "who,allowed",
    [("freiburg", True), ("mannheim", False), ("salzuflen", False), ("coord_andi", False),
     ("coord_lippe", False), ("admin", True), ("anon", False)],
)
def test_edit_own_listing_only(world, who, allowed):
    """An officer edits their own municipality's listing; others cannot."""
    assert can(world[who], "listing.edit", world["listing"]) is allowed


@pytest.mark.parametrize(
    "who,allowed",
    [("freiburg", False), ("mannheim", False), ("coord_andi", True), ("coord_lippe", False), ("admin", True)],
)
def test_coordinator_reviews_only_in_own_networks(world, who, allowed):
    """Only coordinators of the owner's networks (and admins) review."""
    assert can(world[who], "listing.review", world["listing"]) is allowed


@pytest.mark.parametrize(
    "item,who,visible",
    [
        ("listing", "anon", True),
        ("draft", "anon", False),
        ("draft", "mannheim", False),
        ("draft", "freiburg", True),
        ("draft", "coord_andi", False),
        ("members_only", "anon", False),
        ("members_only", "salzuflen", False),
        ("members_only", "coord_lippe", False),
        ("members_only", "mannheim", True),
        ("members_only", "coord_andi", True),
        ("members_only", "admin", True),
    ],
)
def test_visibility(world, item, who, visible):
    """Anonymous users see public data only; members-only stays in the network; drafts stay home."""
    assert can(world[who], "listing.view", world[item]) is visible


def test_visibility_filter_matches_can(world, session):
    """The SQL filter selects exactly what can() allows, for every viewer."""
    from sqlalchemy import select

    from marktplatz.models import Listing
    from marktplatz.permissions import listing_visibility_filter

    everything = session.scalars(select(Listing)).all()
    for who in ("anon", "freiburg", "mannheim", "salzuflen", "coord_andi", "coord_lippe", "admin"):
        viewer = world[who]
        by_sql = {x.id for x in session.scalars(select(Listing).where(listing_visibility_filter(viewer)))}
        by_can = {x.id for x in everything if can(viewer, "listing.view", x)}
        assert by_sql == by_can, who


def test_service_refuses_edit_by_other_municipality(world, session):
    """The service layer enforces the permission, whatever the caller."""
    with pytest.raises(Forbidden):
        listings.update_listing(session, world["mannheim"], world["listing"], {"title": "Übernommen"}, None, partial=True)


def test_cannot_reuse_own_listing(world, session):
    """A municipality cannot declare reuse of its own listing."""
    with pytest.raises(Conflict):
        reuse.declare_reuse(session, world["freiburg"], world["listing"], {"stage": "interested"})


def test_non_member_cannot_reuse_members_only(world, session):
    """A listing one may not see cannot be reused either."""
    with pytest.raises(NotFound):
        reuse.declare_reuse(session, world["salzuflen"], world["members_only"], {"stage": "interested"})


def test_only_reuser_moves_reuse(world, session):
    """The reusing municipality owns its reuse declaration."""
    r = reuse.declare_reuse(session, world["mannheim"], world["listing"], {"stage": "interested"})
    with pytest.raises(Forbidden):
        reuse.change_reuse_stage(session, world["freiburg"], r, {"stage": "pilot"})
    reuse.change_reuse_stage(session, world["mannheim"], r, {"stage": "pilot"})
    assert r.stage == "pilot"
