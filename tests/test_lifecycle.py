"""The listing lifecycle: every state x action x actor, allowed or refused.

The expectations below are written out by hand from the rules in the issue, not derived
from the transition table, so a wrong row in the table fails here. On refusal nothing of
the listing may change, and no audit event is written.
"""

from __future__ import annotations

import ast
import pathlib

import pytest
from sqlalchemy import func, select

from marktplatz.models import AuditEvent, Listing, ListingStatus
from marktplatz.services import lifecycle, listings, moderation
from marktplatz.services.errors import Conflict, DomainError, Forbidden, NotFound

from . import factories as f

S = ListingStatus
STATES = list(S)
ACTORS = ("anonymous", "owner", "other_officer", "coordinator", "own_coordinator", "admin")

# (action) -> (states it is allowed from, actors who may do it)
EXPECTED = {
    "submit": ({S.DRAFT, S.CHANGES_REQUESTED, S.REJECTED}, {"owner", "own_coordinator", "admin"}),
    "approve": ({S.IN_REVIEW}, {"coordinator", "admin"}),
    "request_changes": ({S.IN_REVIEW}, {"coordinator", "admin"}),
    "reject": ({S.IN_REVIEW}, {"coordinator", "admin"}),
    "unpublish": ({S.PUBLISHED}, {"coordinator", "admin"}),
    "archive": (set(S) - {S.ARCHIVED}, {"owner", "own_coordinator", "admin"}),
    "mark_duplicate": ({S.IN_REVIEW, S.PUBLISHED}, {"coordinator", "admin"}),
    "restore": ({S.ARCHIVED}, {"owner", "own_coordinator", "coordinator", "admin"}),
    "edit": (set(S) - {S.ARCHIVED}, {"owner", "own_coordinator", "admin"}),
    "withdraw": ({S.IN_REVIEW}, {"owner", "own_coordinator", "admin"}),
    # Only a draft never submitted (every draft _bring_to makes is one).
    "delete": ({S.DRAFT}, {"owner", "own_coordinator", "admin"}),
}
# What a state becomes after the action (restore: back to where it was archived from).
TARGET = {
    "submit": S.IN_REVIEW, "approve": S.PUBLISHED, "request_changes": S.CHANGES_REQUESTED,
    "reject": S.REJECTED, "unpublish": S.CHANGES_REQUESTED, "archive": S.ARCHIVED,
    "mark_duplicate": S.ARCHIVED, "withdraw": S.DRAFT,
}
SNAPSHOT = ("status", "published_at", "archived_from", "archived_at", "duplicate_of_id",
            "submitted_at", "review_comment", "title")


@pytest.fixture
def world(session):
    net = f.network(session, "lifecycle-netz", f.FREIBURG, f.MANNHEIM)
    owner = f.user(session, "officer", f.FREIBURG)
    coordinator = f.user(session, "coordinator", f.MANNHEIM, [net])
    admin = f.user(session, "admin", None)
    target = f.listing(session, owner, publish_by=coordinator, title="Überlebender Eintrag")
    return {
        "net": net, "owner": owner, "coordinator": coordinator, "admin": admin, "target": target,
        "other_officer": f.user(session, "officer", f.KARLSRUHE),
        "own_coordinator": f.user(session, "coordinator", f.FREIBURG, [net]),
        "anonymous": None,
    }


def _bring_to(session, w, state: ListingStatus, archived_from: ListingStatus = S.PUBLISHED) -> Listing:
    """Create a listing and walk it to state through the services."""
    owner, coord = w["owner"], w["coordinator"]
    item = f.listing(session, owner)
    if state == S.DRAFT:
        return item
    if state == S.ARCHIVED:
        item = _bring_to(session, w, archived_from)
        listings.archive_listing(session, owner, item)
        return item
    listings.submit_for_review(session, owner, item)
    if state == S.PUBLISHED:
        moderation.approve(session, coord, item)
    elif state == S.CHANGES_REQUESTED:
        moderation.request_changes(session, coord, item, "Bitte ergänzen.")
    elif state == S.REJECTED:
        moderation.reject(session, coord, item, "Passt nicht hierher.")
    return item


def _do(session, w, action: str, actor, item: Listing) -> None:
    if action == "submit":
        listings.submit_for_review(session, actor, item)
    elif action == "approve":
        moderation.approve(session, actor, item, "ok")
    elif action == "request_changes":
        moderation.request_changes(session, actor, item, "Bitte ergänzen.")
    elif action == "reject":
        moderation.reject(session, actor, item, "Passt nicht hierher.")
    elif action == "unpublish":
        moderation.unpublish(session, actor, item, "Veraltet, bitte prüfen.")
    elif action == "archive":
        listings.archive_listing(session, actor, item, "Test")
    elif action == "mark_duplicate":
        moderation.mark_duplicate(session, actor, item, w["target"], "Gleicher Dienst")
    elif action == "restore":
        listings.restore_listing(session, actor, item)
    elif action == "edit":
        listings.update_listing(session, actor, item, {"title": "Neuer Titel"}, None, partial=True)
    elif action == "withdraw":
        listings.withdraw_listing(session, actor, item)
    elif action == "delete":
        listings.delete_draft(session, actor, item)
    else:  # pragma: no cover
        raise AssertionError(action)


def _snapshot(session, item: Listing) -> tuple:
    session.expire_all()
    fresh = session.get(Listing, item.id)
    audits = session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.listing_id == item.id))
    return tuple(getattr(fresh, name) for name in SNAPSHOT) + (audits,)


@pytest.mark.parametrize("state", STATES, ids=lambda s: s.value)
@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_every_state_action_and_actor(session, world, state, action):
    allowed_states, allowed_actors = EXPECTED[action]
    for actor_name in ACTORS:
        item = _bring_to(session, world, state)
        session.commit()  # the setup is one unit of work; the action under test is the next
        actor = world[actor_name]
        before = _snapshot(session, item)
        previous = session.get(Listing, item.id).archived_from
        should = state in allowed_states and actor_name in allowed_actors
        if actor is not None:
            assert (action in lifecycle.allowed_actions(actor, item)) is should, (actor_name, action, state)
        if should:
            item_id = item.id
            _do(session, world, action, actor, item)
            session.commit()
            session.expire_all()
            item = session.get(Listing, item_id)
            if action == "delete":
                assert item is None
                continue
            if action == "restore":
                assert item.status == previous
                assert item.archived_from is None
            elif action == "edit":
                assert item.status == (S.DRAFT if state == S.REJECTED else state)
            else:
                assert item.status == TARGET[action]
            if TARGET.get(action) == S.ARCHIVED:
                assert item.archived_from == state
        elif action == "archive" and state == S.ARCHIVED and actor_name in allowed_actors:
            _do(session, world, action, actor, item)  # archiving twice is a no-op (idempotent DELETE)
            assert _snapshot(session, item) == before
        else:
            session.commit()
            with pytest.raises((Forbidden, Conflict, NotFound)):
                _do(session, world, action, actor, item)
            session.rollback()
            assert _snapshot(session, item) == before, (actor_name, action, state)


def test_published_at_is_set_only_by_approval(session, world):
    for state in STATES:
        item = _bring_to(session, world, state, archived_from=S.DRAFT)
        session.expire_all()
        item = session.get(Listing, item.id)
        assert (item.published_at is not None) is (state == S.PUBLISHED), state


@pytest.mark.parametrize("origin", [S.DRAFT, S.IN_REVIEW, S.PUBLISHED, S.CHANGES_REQUESTED, S.REJECTED],
                         ids=lambda s: s.value)
def test_restore_returns_to_the_state_it_came_from(session, world, origin):
    item = _bring_to(session, world, S.ARCHIVED, archived_from=origin)
    assert item.archived_from == origin
    listings.restore_listing(session, world["owner"], item)
    session.expire_all()
    assert session.get(Listing, item.id).status == origin


def test_duplicate_restore_is_the_coordinations_decision(session, world):
    item = _bring_to(session, world, S.PUBLISHED)
    moderation.mark_duplicate(session, world["coordinator"], item, world["target"])
    session.commit()
    with pytest.raises(Conflict):
        listings.restore_listing(session, world["owner"], item)
    session.rollback()
    listings.restore_listing(session, world["coordinator"], item)
    session.expire_all()
    item = session.get(Listing, item.id)
    assert item.status == S.PUBLISHED and item.duplicate_of_id is None


def test_refused_transition_raises_a_domain_error(session, world):
    item = _bring_to(session, world, S.DRAFT)
    with pytest.raises(DomainError):
        lifecycle.transition(world["owner"], item, lifecycle.Action.APPROVE)
    assert item.status == S.DRAFT


# ------------------------------------------------------------------ no status written elsewhere

ROOT = pathlib.Path(__file__).resolve().parent.parent / "marktplatz"
LIFECYCLE = ROOT / "services" / "lifecycle.py"
STATUS_VALUES = {s.value for s in ListingStatus}


def _writes_status(node: ast.AST) -> bool:
    """Tell whether node assigns a listing state: x.status = ..., Listing(status=...), values(status=)."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            if isinstance(t, ast.Attribute) and t.attr == "status":
                value = node.value
                text = ast.unparse(value) if value is not None else ""
                if "ListingStatus" in text or (isinstance(value, ast.Constant) and value.value in STATUS_VALUES):
                    return True
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg == "status" and (
                "ListingStatus" in ast.unparse(kw.value)
                or (isinstance(kw.value, ast.Constant) and kw.value.value in STATUS_VALUES)
            ):
                return True
    return False


def test_no_listing_status_is_written_outside_the_lifecycle():
    offenders = []
    for path in ROOT.rglob("*.py"):
        if path == LIFECYCLE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if _writes_status(node):
                offenders.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert offenders == []


def test_the_scan_finds_a_status_write():
    assert _writes_status(ast.parse("listing.status = ListingStatus.PUBLISHED").body[0])
    assert _writes_status(ast.parse("listing.status = 'published'").body[0])
    assert _writes_status(ast.parse("Listing(status='draft')").body[0].value)
    assert not _writes_status(ast.parse("flag.status = 'resolved'").body[0])


def test_no_bare_status_strings_in_templates():
    templates = ROOT.parent / "templates"
    offenders = []
    for path in templates.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for value in STATUS_VALUES:
            for quote in ("'", '"'):
                if f"status == {quote}{value}{quote}" in text or f"status != {quote}{value}{quote}" in text \
                        or f"status in ({quote}" in text:
                    offenders.append(f"{path.name}: {value}")
    assert offenders == []
