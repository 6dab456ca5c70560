"""The visibility policy: one rule, three derived forms that must agree.

For every state, archived-from state and visibility, and every kind of viewer, the single
object check (can_view_listing), the SQL filter (listing_visibility_filter) and the search
index filter (labels stored in the index) select exactly the same listings, and these are
the ones the hand-written table below says. So does the change feed with include=entity
(services/changes.py), which embeds a listing exactly when the SQL filter selects it.
"""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from marktplatz import search
from marktplatz.models import Listing, ListingStatus, utcnow
from marktplatz.permissions import can_view_listing, listing_labels, listing_visibility_filter

from . import factories as f

S = ListingStatus
WORD = "Kanarienvogelregister"
# (status, archived_from) combinations a listing can really be in
STATES = [(s, None) for s in S if s != S.ARCHIVED] + [(S.ARCHIVED, s) for s in S if s != S.ARCHIVED]
VISIBILITIES = ("public", "network")
VIEWERS = ("anonymous", "owner", "member", "outsider", "coordinator", "own_coordinator",
           "foreign_coordinator", "admin")
REVIEWABLE = {S.IN_REVIEW, S.CHANGES_REQUESTED, S.REJECTED}
ONCE_PUBLISHED = {S.PUBLISHED, S.CHANGES_REQUESTED}


def expected(viewer: str, status: ListingStatus, archived_from, visibility: str) -> bool:
    """Return whether viewer may see such a listing, written out from the product rules."""
    if viewer in ("owner", "admin", "own_coordinator"):
        return True  # the owner municipality (a coordinator working there too) and admins
    released = status == S.PUBLISHED or (status == S.ARCHIVED and archived_from == S.PUBLISHED)
    if released and visibility == "public":
        return True
    if released and visibility == "network":
        return viewer in ("member", "coordinator")
    if status in REVIEWABLE:
        return viewer == "coordinator"  # the owner's network coordinator, never for drafts
    return False


@pytest.fixture
def world(session):
    net = f.network(session, "policy-netz", f.FREIBURG, f.MANNHEIM)
    other_net = f.network(session, "policy-anders", f.LEMGO)
    owner = f.user(session, "officer", f.FREIBURG)
    viewers = {
        "anonymous": None,
        "owner": owner,
        "member": f.user(session, "officer", f.MANNHEIM),
        "outsider": f.user(session, "officer", f.KARLSRUHE),
        "coordinator": f.user(session, "coordinator", f.MANNHEIM, [net]),
        "own_coordinator": f.user(session, "coordinator", f.FREIBURG, [net]),
        "foreign_coordinator": f.user(session, "coordinator", f.LEMGO, [other_net]),
        "admin": f.user(session, "admin", None),
    }
    items = {}
    for (status, archived_from), visibility in itertools.product(STATES, VISIBILITIES):
        item = f.listing(session, owner, title=f"{WORD} {status.value} {archived_from} {visibility}",
                         visibility=visibility)
        # Placed directly into each state (the lifecycle's paths are tested in test_lifecycle).
        item.status = status.value
        item.archived_from = archived_from.value if archived_from else None
        if status in ONCE_PUBLISHED or archived_from in ONCE_PUBLISHED:
            item.published_at = utcnow()  # approved once (an unpublished one is "changes requested")
        items[(status, archived_from, visibility)] = item
    session.commit()
    return viewers, items


def test_single_check_sql_filter_and_index_agree_with_the_rules(session, world):
    viewers, items = world
    search.catch_up()
    ids = {item.id: key for key, item in items.items()}
    for name, viewer in viewers.items():
        want = {i for i, (st, af, vis) in ids.items() if expected(name, st, af, vis)}
        single = {i for i, key in ids.items() if can_view_listing(viewer, items[key])}
        in_sql = set(session.scalars(select(Listing.id).where(
            Listing.id.in_(list(ids)), listing_visibility_filter(viewer))))
        in_index = set(search.matching_listing_ids(viewer, WORD)) & set(ids)
        assert single == want, name
        assert in_sql == want, name
        assert in_index == want, name
        embedded, tombstones = _feed(session, viewer, set(ids))
        assert embedded == want, name
        # A listing the viewer may not see reaches its feed only as a tombstone, and only if it
        # was published once (it may have been seen then); changes of the others never do.
        once = {i for i, key in ids.items() if items[key].published_at is not None}
        assert tombstones == once - want, name


def _feed(session, viewer, ids: set[int]) -> tuple[set[int], set[int]]:
    """Return the listings of ids the change feed with include=entity embeds, and its tombstones."""
    from marktplatz.services.changes import ChangeFilter, read_changes

    embedded: set[int] = set()
    tombstones: set[int] = set()
    after = None
    while page := read_changes(session, viewer, after, 100, ChangeFilter(entity_type="listing"),
                               include_entity=True):
        for change in page:
            if change.entity_id not in ids:
                continue
            if change.tombstone:
                assert change.entity is None
                tombstones.add(change.entity_id)
            else:
                assert change.entity.id == change.entity_id
                embedded.add(change.entity_id)
        after = (page[-1].txid, page[-1].id)
    assert not embedded & tombstones  # the listings stayed as they were while the feed was read
    return embedded, tombstones


def test_labels_depend_on_the_listing_only(session, world):
    _viewers, items = world
    draft = items[(S.DRAFT, None, "public")]
    assert listing_labels(draft) == {f"owner:{draft.organisation_id}"}
    from_draft = items[(S.ARCHIVED, S.DRAFT, "public")]
    assert listing_labels(from_draft) == {f"owner:{from_draft.organisation_id}"}
    members = items[(S.PUBLISHED, None, "network")]
    assert f"members:{members.organisation_id}" in listing_labels(members)
    assert "public" not in listing_labels(members)


def test_suggested_reuses_follow_the_policy(session, world):
    """A municipality is offered a usedBy suggestion only on a published listing it may see.

    Every listing's publiccode.yml names the municipalities of the viewers; the dashboard's
    list (reuse_suggestions.pending_for) must hold exactly the listings the policy shows
    the viewer and that can be reused (published), and the single check of each agrees.
    """
    from marktplatz.services import reuse_suggestions

    viewers, items = world
    for item in items.values():
        reuse_suggestions.record_used_by(session, item, ["Stadt Mannheim", "Stadt Karlsruhe", "Stadt Lemgo"])
    session.commit()
    ids = {item.id: key for key, item in items.items()}
    checked = 0
    for name, viewer in viewers.items():
        if viewer is None or viewer.organisation_id in (None, items[next(iter(items))].organisation_id):
            continue  # anonymous, the admin, and the publisher itself are never suggested
        want = {i for i, (st, af, vis) in ids.items() if expected(name, st, af, vis) and st == S.PUBLISHED}
        offered = {s.listing_id for s in reuse_suggestions.pending_for(session, viewer)} & set(ids)
        assert offered == want, name
        for s in reuse_suggestions.pending_for(session, viewer):
            assert can_view_listing(viewer, s.listing)
        checked += 1
    assert checked == 4  # member, outsider, coordinator, foreign coordinator
