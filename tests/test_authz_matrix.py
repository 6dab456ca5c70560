"""Authorisation matrix: every action x every role x own / other / network object.

EXPECTED is written here by hand from the product rules, independently of
``permissions.PERMISSIONS``; the test fails when the two disagree and when an action exists
in one but not the other (a new action without a row here fails).

World: municipality A (Freiburg) and C (Mannheim) form network N, B (Bad Salzuflen) is in
network M. Roles relate to the owner A: "officer_owner" works for A, "officer_other" for
B, "coord_net" coordinates N, "coord_other_net" coordinates M. Objects: "own" belongs to A,
"other" to B, "network" to C (a fellow member of A in N).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import current_app
from flask_login import AnonymousUserMixin
from sqlalchemy import select

from marktplatz.models import (
    AuditEvent,
    ChangeLog,
    Follow,
    JoinRequest,
    Listing,
    Network,
    NetworkInvitation,
    NetworkMembership,
    Notification,
    Organisation,
    ProcessEntry,
    ProcessRegister,
    Reuse,
    ReuseStageChange,
    ReuseSuggestion,
    StatusUpdate,
    utcnow,
)
from marktplatz.permissions import PERMISSIONS, can
from marktplatz.services import (
    invitations,
    listings,
    moderation,
    networks,
    reuse,
    reuse_suggestions,
    tokens,
)
from marktplatz.services.errors import DomainError, Forbidden

from . import factories as f

ROLES = ("anonymous", "officer_owner", "officer_other", "coord_net", "coord_other_net", "admin")
OBJECTS = ("own", "other", "network")
ALL = "own other network"

# What each action acts on (how the "own / other / network" object is built).
TARGET: dict[str, str] = {
    "listing.create": "organisation",
    "listing.edit": "listing",
    "listing.submit": "listing",
    "listing.publish": "listing",
    "listing.archive": "listing",
    "listing.restore": "listing",
    "listing.post_status": "listing",
    "listing.review": "listing",
    "listing.mark_duplicate": "listing",
    "listing.view_audit": "listing",
    "listing.follow": "listing",
    "listing.flag": "listing",
    "reuse.declare": "listing",
    "reuse.update": "reuse",
    "reuse_suggestion.decide": "suggestion",
    "organisation.edit": "organisation",
    "organisation.manage_tokens": "organisation",
    "organisation.manage_webhooks": "organisation",
    "network.create": "none",
    "network.appoint_coordinator": "network",
    "network.manage_members": "network",
    "network.invite": "network",
    "network.add_member": "network",
    "network.leave": "member_network",
    "invitation.respond": "invitation",
    "network.decide_join": "network",
    "network.request_join": "network",
    "network.view_dashboard": "network",
    "flag.resolve": "listing",
    "user.create": "none",
    "feedback.view": "none",
    "user.invite": "organisation",
    "user.invite_any_role": "none",
    "access_request.decide": "organisation",
    "user.manage": "none",
    "network.edit": "network",
    "reference.view": "none",
    "audit.view_all": "none",
    "register.edit": "organisation",
    "register.view_gaps": "organisation",
    "network.view_registers": "network",
}

_OWNER = {"officer_owner": "own", "officer_other": "other", "admin": ALL}
_COORD = {"coord_net": "own network", "coord_other_net": "other", "admin": ALL}
_SIGNED_IN = {r: ALL for r in ROLES if r != "anonymous"}
_OFFICERS = {"officer_owner": ALL, "officer_other": ALL}
_ADMIN = {"admin": ALL}

# action -> {role: objects on which the role is allowed}; roles not listed: nowhere.
EXPECTED: dict[str, dict[str, str]] = {
    "listing.create": _OWNER,
    "listing.edit": _OWNER,
    "listing.submit": _OWNER,
    # No network of the world lets its members publish directly (test_sync_steps.py: one that does).
    "listing.publish": _ADMIN,
    "listing.archive": _OWNER,
    "listing.restore": {**_OWNER, **_COORD},  # four-eyes and the archived-from rule: test_lifecycle
    "listing.post_status": _OWNER,
    "listing.review": _COORD,
    "listing.mark_duplicate": _COORD,
    "listing.view_audit": {**_OWNER, **_COORD},
    "listing.follow": _SIGNED_IN,
    "listing.flag": _OFFICERS,
    "reuse.declare": _OFFICERS,
    "reuse.update": _OWNER,  # the reusing municipality owns its reuse
    # Only the municipality a publiccode.yml names under usedBy; not even an admin decides for it.
    "reuse_suggestion.decide": {"officer_owner": "own", "officer_other": "other"},
    "organisation.edit": _OWNER,
    "organisation.manage_tokens": _OWNER,
    "organisation.manage_webhooks": _OWNER,
    "network.create": _ADMIN,
    "network.appoint_coordinator": _ADMIN,
    "network.manage_members": _COORD,
    "network.invite": _COORD,
    "network.add_member": _ADMIN,  # coordinators invite; only an admin adds without consent
    # Only the member municipality itself leaves (coordinators and admins remove instead).
    "network.leave": {"officer_owner": "own network", "officer_other": "other"},
    # Only the invited municipality answers; not its network's coordinator, not an admin.
    "invitation.respond": {"officer_owner": "own", "officer_other": "other"},
    "network.decide_join": _COORD,
    "network.request_join": _OFFICERS,
    "network.view_dashboard": _COORD,
    "flag.resolve": _COORD,
    "user.create": _ADMIN,
    "feedback.view": _ADMIN,
    # Colleagues of the own municipality, officers of a member of a coordinated network.
    "user.invite": {**_OWNER, **_COORD},
    "user.invite_any_role": _ADMIN,
    # Access requests for a municipality: its networks' coordinators and the admins.
    "access_request.decide": _COORD,
    "user.manage": _ADMIN,
    "network.edit": _ADMIN,
    "reference.view": _ADMIN,
    "audit.view_all": _ADMIN,
    # Process registers: the own municipality edits and sees its gaps; the network view is
    # for members and coordinators of the network.
    "register.edit": _OWNER,
    "register.view_gaps": _OWNER,
    "network.view_registers": {"officer_owner": "own network", "officer_other": "other", **_COORD},
}


def expected(action: str, role: str, obj: str) -> bool:
    """Return the hand-written expectation for role on obj."""
    return obj in EXPECTED[action].get(role, "").split()


@dataclass
class World:
    """Organisations, networks and one user per role."""

    orgs: dict[str, Organisation]
    networks: dict[str, Network]
    users: dict[str, Any]
    owners: dict[str, Any]  # object key -> an officer of the owning municipality
    admin: Any
    cache: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def world(session) -> World:
    """Build the two networks, three municipalities and one user per role."""
    net_n = f.network(session, "netz-n", f.FREIBURG, f.MANNHEIM)
    net_m = f.network(session, "netz-m", f.BAD_SALZUFLEN)
    admin = f.user(session, "admin", ags=None)
    officer_a = f.user(session, "officer", f.FREIBURG)
    officer_b = f.user(session, "officer", f.BAD_SALZUFLEN)
    officer_c = f.user(session, "officer", f.MANNHEIM)
    users = {
        "anonymous": AnonymousUserMixin(),
        "officer_owner": officer_a,
        "officer_other": officer_b,
        "coord_net": f.user(session, "coordinator", ags=None, networks=[net_n]),
        "coord_other_net": f.user(session, "coordinator", ags=None, networks=[net_m]),
        "admin": admin,
    }
    return World(
        orgs={"own": f.org(session, f.FREIBURG), "other": f.org(session, f.BAD_SALZUFLEN),
              "network": f.org(session, f.MANNHEIM)},
        networks={"own": net_n, "other": net_m, "network": net_n},
        users=users,
        owners={"own": officer_a, "other": officer_b, "network": officer_c},
        admin=admin,
    )


def make_listing(session, w: World, obj: str, state: str = "draft") -> Listing:
    """Create a listing of the obj municipality in state draft, in_review or published."""
    item = f.listing(session, w.owners[obj], publish_by=w.admin if state == "published" else None)
    if state == "in_review":
        listings.submit_for_review(session, w.owners[obj], item)
    return item


def make_reuse(session, w: World, obj: str) -> Reuse:
    """Create a reuse declared by the obj municipality of a listing of Karlsruhe."""
    if "karlsruhe" not in w.cache:
        w.cache["karlsruhe"] = f.user(session, "officer", f.KARLSRUHE)
    karlsruhe_officer = w.cache["karlsruhe"]
    item = f.listing(session, karlsruhe_officer, publish_by=w.admin)
    return reuse.declare_reuse(session, w.owners[obj], item, {"stage": "interested"})


def make_suggestion(session, w: World, obj: str) -> ReuseSuggestion:
    """Create a reuse of a published Karlsruhe listing suggested to the obj municipality by usedBy."""
    if "karlsruhe" not in w.cache:
        w.cache["karlsruhe"] = f.user(session, "officer", f.KARLSRUHE)
    item = f.listing(session, w.cache["karlsruhe"], publish_by=w.admin)
    reuse_suggestions.record_used_by(session, item, [w.orgs[obj].name])
    session.commit()
    return session.scalar(select(ReuseSuggestion).where(ReuseSuggestion.listing_id == item.id))


def make_invitation(session, w: World, obj: str) -> NetworkInvitation:
    """Invite the obj municipality into a network of its own, which it is not a member of."""
    w.cache["invitations"] = w.cache.get("invitations", 0) + 1
    net = networks.create_network(session, w.admin, f"Einladendes Netzwerk {w.cache['invitations']}")
    return networks.invite(session, w.admin, net, w.orgs[obj].ags)


def restore_memberships(session, w: World) -> None:
    """Put back the world's memberships (A and C in N, B in M) that an earlier call removed."""
    for net, obj in (("own", "own"), ("own", "network"), ("other", "other")):
        network, org = w.networks[net], w.orgs[obj]
        session.expire(org, ["memberships"])
        if network.id not in org.network_ids:
            networks.add_member(session, w.admin, network, org.ags)


def make_target(session, w: World, action: str, obj: str, state: str = "draft") -> Any:
    """Build the object an action applies to."""
    kind = TARGET[action]
    if kind == "invitation":
        return make_invitation(session, w, obj)
    if kind == "member_network":
        restore_memberships(session, w)
        return w.networks[obj]
    if kind == "listing":
        return make_listing(session, w, obj, state)
    if kind == "reuse":
        return make_reuse(session, w, obj)
    if kind == "suggestion":
        return make_suggestion(session, w, obj)
    if kind == "organisation":
        return w.orgs[obj]
    if kind == "network":
        return w.networks[obj]
    return None


def test_expected_table_covers_every_action():
    """Every action of the permission table has a row here, and no row names a lost action."""
    assert set(EXPECTED) == set(PERMISSIONS), "add the new action to EXPECTED and TARGET"
    assert set(TARGET) == set(PERMISSIONS)
    for action, row in EXPECTED.items():
        assert set(row) <= set(ROLES), action


def test_can_matches_expected_matrix(session, world):
    """can() answers exactly as the hand-written matrix for every action, role and object."""
    targets: dict[tuple[str, str], Any] = {}
    mismatches = []
    checked = 0
    for action in PERMISSIONS:
        for obj in OBJECTS:
            key = (TARGET[action], obj)
            if key not in targets:
                targets[key] = make_target(session, world, action, obj, "published")
            for role in ROLES:
                got = can(world.users[role], action, targets[key])
                checked += 1
                if got != expected(action, role, obj):
                    mismatches.append(f"{action} {role} on {obj}: can()={got}")
    assert not mismatches, "\n".join(mismatches)
    assert checked == len(PERMISSIONS) * len(ROLES) * len(OBJECTS)


def _fingerprint(session) -> dict[str, list[tuple]]:
    """Return every row of the tables a write could touch."""
    session.expire_all()
    out = {}
    for model in (Listing, AuditEvent, ChangeLog, StatusUpdate, Reuse, ReuseStageChange, ReuseSuggestion, Follow,
                  Notification, NetworkMembership, NetworkInvitation, JoinRequest, ProcessRegister, ProcessEntry):
        out[model.__tablename__] = [tuple(r) for r in session.execute(select(model.__table__)).all()]
    return out


# (label, permission, state of the target listing, call(session, user, target))
SERVICE_CALLS: list[tuple[str, str, str, Callable[..., Any]]] = [
    ("create_listing", "listing.create", "-",
     lambda s, u, org: listings.create_listing(s, u, f.listing_data(), organisation=org)),
    ("update_listing", "listing.edit", "draft",
     lambda s, u, t: listings.update_listing(s, u, t, {"title": "Geändert im Test"}, None, partial=True)),
    ("submit_for_review", "listing.submit", "draft",
     lambda s, u, t: listings.submit_for_review(s, u, t)),
    ("archive_listing", "listing.archive", "published",
     lambda s, u, t: listings.archive_listing(s, u, t, "veraltet")),
    ("post_status_update", "listing.post_status", "published",
     lambda s, u, t: listings.post_status_update(s, u, t, {"title": "Neuer Stand", "body": "Läuft."})),
    ("declare_reuse", "reuse.declare", "published",
     lambda s, u, t: reuse.declare_reuse(s, u, t, {"stage": "evaluating"})),
    ("change_reuse_stage", "reuse.update", "-",
     lambda s, u, t: reuse.change_reuse_stage(s, u, t, {"stage": "pilot"})),
    ("confirm_suggestion", "reuse_suggestion.decide", "-",
     lambda s, u, t: reuse_suggestions.confirm(s, u, t, {"stage": "production"})),
    ("dismiss_suggestion", "reuse_suggestion.decide", "-", lambda s, u, t: reuse_suggestions.dismiss(s, u, t)),
    ("follow", "listing.follow", "published", lambda s, u, t: reuse.follow(s, u, t)),
    ("approve", "listing.review", "in_review", lambda s, u, t: moderation.approve(s, u, t)),
    ("request_changes", "listing.review", "in_review",
     lambda s, u, t: moderation.request_changes(s, u, t, "Bitte Kontakt ergänzen.")),
    ("reject", "listing.review", "in_review",
     lambda s, u, t: moderation.reject(s, u, t, "Doppelter Eintrag.")),
    ("unpublish", "listing.review", "published",
     lambda s, u, t: moderation.unpublish(s, u, t, "Inhalt veraltet.")),
    # Karlsruhe is in neither network: the first allowed call invites or adds it, later
    # allowed ones meet a rule (already invited, already a member) and write nothing.
    ("invite", "network.invite", "-", lambda s, u, t: networks.invite(s, u, t, f.KARLSRUHE)),
    ("add_member", "network.add_member", "-", lambda s, u, t: networks.add_member(s, u, t, f.KARLSRUHE)),
    ("remove_member", "network.manage_members", "-",
     lambda s, u, t: networks.remove_member(s, u, t, max([m.organisation_id for m in t.memberships] or [-1]))),
    ("leave_network", "network.leave", "-", lambda s, u, t: networks.leave_network(s, u, t)),
    ("accept_invitation", "invitation.respond", "-",
     lambda s, u, t: networks.respond_to_invitation(s, u, t.id, accept=True)),
    ("decline_invitation", "invitation.respond", "-",
     lambda s, u, t: networks.respond_to_invitation(s, u, t.id, accept=False)),
    ("invite_officer", "user.invite", "-",
     lambda s, u, org: invitations.invite(s, current_app.config, u, {"email": "eingeladen@example.org",
                                                                     "name": "Eingeladen", "ags": org.ags},
                                          lambda token: token)),
]


@pytest.mark.parametrize("label,action,state,call", SERVICE_CALLS, ids=[c[0] for c in SERVICE_CALLS])
def test_service_refuses_exactly_where_not_allowed(session, world, label, action, state, call):
    """The service raises Forbidden exactly where the matrix says no, and then writes nothing."""
    results = []
    for obj in OBJECTS:
        for role in ROLES:
            target = make_target(session, world, action, obj, state)
            allowed = expected(action, role, obj)
            session.commit()
            before = _fingerprint(session)
            try:
                call(session, world.users[role], target)
            except Forbidden:
                session.rollback()
                assert not allowed, f"{label}: {role} on {obj} was refused but is allowed"
                assert _fingerprint(session) == before, f"{label}: refused write left changes"
                results.append("refused")
            except DomainError as err:
                # Allowed by the permission table but stopped by a state rule (e.g. reusing
                # one's own listing): still no write.
                session.rollback()
                assert allowed, f"{label}: {role} on {obj} must be Forbidden, got {err!r}"
                assert _fingerprint(session) == before
                results.append("rule")
            else:
                assert allowed, f"{label}: {role} on {obj} succeeded but is not allowed"
                assert _fingerprint(session) != before, f"{label}: allowed call wrote nothing"
                results.append("done")
    assert "refused" in results and "done" in results


def _dummy_url(rule) -> str:
    values = {}
    for arg, conv in rule._converters.items():
        values[arg] = 1 if type(conv).__name__ in ("IntegerConverter", "FloatConverter") else "x"
    return rule.build(values, append_unknown=False)[1]


# POST routes open to anonymous visitors by design, with their answer to a bogus form.
PUBLIC_POST = {"auth.login": 422, "auth.logout": 302}


def test_anonymous_post_to_every_route_is_refused(app, client):
    """Every POST route without sign-in redirects to the login or answers 4xx, never 2xx/5xx."""
    tried = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or set()) or rule.endpoint == "static":
            continue
        url = _dummy_url(rule)
        resp = client.post(url, data={"title": "x", "comment": "xxxxxx"})
        tried.append(url)
        if rule.endpoint in PUBLIC_POST:
            assert resp.status_code == PUBLIC_POST[rule.endpoint], url
            continue
        ok_redirect = resp.status_code in (301, 302, 303) and "/anmelden" in resp.headers.get(
            "Location", ""
        )
        assert ok_redirect or 400 <= resp.status_code < 500, (url, resp.status_code)
    assert tried


# --------------------------------------------------------------------------- REST API

API_PRINCIPALS = ("anonymous", "read_token", "write_owner", "write_other", "expired_token", "revoked_token")
PUBLICCODE = Path(__file__).parent / "fixtures" / "publiccode" / "_official_example_v0.7__publiccode.minimal.yml"


@dataclass
class ApiRow:
    """One state-changing API route: how to call it and what each principal gets."""

    method: str
    path: str  # with {id} for the target's id
    target: str  # "none", "draft", "published" (a listing of the owner), "reuse" (declared by the owner)
    owner: int  # status for a write token of the owning municipality
    other: int  # status for a write token of another municipality
    body: Callable[[], dict[str, Any]] = dict
    headers: dict[str, str] = field(default_factory=dict)
    raw: Callable[[], bytes] | None = None
    read_only: bool = False  # a POST that only reads: anonymous and read tokens may call it


# endpoint -> row. A new API write route without a row here fails test_api_table_covers_every_write_route.
API_WRITES: dict[str, ApiRow] = {
    "api_listings.create_listing": ApiRow("POST", "/api/v1/listings", "none", 201, 201, f.listing_data),
    "api_listings.replace_listing": ApiRow("PUT", "/api/v1/listings/{id}", "published", 200, 403,
                                           lambda: f.listing_data(title="Ersetzt über die API")),
    "api_listings.patch_listing": ApiRow("PATCH", "/api/v1/listings/{id}", "published", 200, 403,
                                         lambda: {"title": "Geändert über die API"},
                                         {"Content-Type": "application/merge-patch+json"}),
    "api_listings.delete_listing": ApiRow("DELETE", "/api/v1/listings/{id}", "published", 204, 403),
    "api_listings.archive_listing": ApiRow("POST", "/api/v1/listings/{id}/archive", "published", 200, 403),
    # A draft is invisible to other municipalities: 404 rather than revealing it exists.
    "api_listings.restore_listing": ApiRow("POST", "/api/v1/listings/{id}/restore", "archived", 200, 404),
    "api_listings.submit_listing": ApiRow("POST", "/api/v1/listings/{id}/submit", "draft", 200, 404),
    "api_listings.post_status_update": ApiRow("POST", "/api/v1/listings/{id}/status-updates", "published", 201, 403,
                                              lambda: {"title": "Neuer Stand", "body": "Läuft seit Montag."}),
    # Reusing one's own listing is a rule conflict (409); another municipality may declare.
    "api_listings.declare_reuse": ApiRow("POST", "/api/v1/listings/{id}/reuses", "published", 409, 201,
                                         lambda: {"stage": "evaluating"}),
    "api_reuses.change_stage": ApiRow("POST", "/api/v1/reuses/{id}/stage", "reuse", 200, 403,
                                      lambda: {"stage": "pilot"}),
    "api_sync.sync": ApiRow("POST", "/api/v1/sync/listings", "none", 200, 200,
                            lambda: {"items": [f.listing_data(external_id="cms-1")]}),
    "api_sync.import_publiccode": ApiRow("POST", "/api/v1/sync/publiccode", "none", 200, 200,
                                         headers={"Content-Type": "application/yaml"},
                                         raw=PUBLICCODE.read_bytes),
    "api_listings.duplicate_check": ApiRow("POST", "/api/v1/listings/duplicate-check", "none", 200, 200,
                                           lambda: {"ozg_ids": [10160], "leika_keys": []}, read_only=True),
    # Process registers: only the token's own municipality upserts into its register.
    "api_registers.upsert_register": ApiRow("PUT", f"/api/v1/municipalities/{f.FREIBURG}/processes", "none", 200,
                                            403, lambda: {"items": [{"process_key": "1", "name": "Hundesteuer",
                                                                     "ozg_id": 10160, "channel": "analog"}]}),
}


def api_expected(row: ApiRow, principal: str) -> int:
    """Return the status the principal must get for row."""
    if principal in ("expired_token", "revoked_token"):
        return 401
    if row.read_only:
        return 200
    return {"anonymous": 401, "read_token": 403, "write_owner": row.owner, "write_other": row.other}[principal]


def test_api_table_covers_every_write_route(app):
    """Every POST/PUT/PATCH/DELETE route under /api/v1 has a row in API_WRITES, and no row is stale."""
    routes = {
        rule.endpoint for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1") and (rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}
    }
    assert routes == set(API_WRITES), "add the new API write route to API_WRITES"


@pytest.fixture
def api_world(session):
    """Tokens of every kind for the owner (Freiburg) and a write token of Bad Salzuflen."""
    admin = f.user(session, "admin", ags=None)
    owner = f.user(session, "officer", f.FREIBURG)
    other = f.user(session, "officer", f.BAD_SALZUFLEN)
    org = owner.organisation
    secrets = {
        "read_token": tokens.create_token(session, owner, org, "Lesen", ["read"])[1],
        "write_owner": tokens.create_token(session, owner, org, "Schreiben", ["read", "write"])[1],
        "write_other": tokens.create_token(session, other, other.organisation, "Fremd", ["read", "write"])[1],
    }
    expiring, secrets["expired_token"] = tokens.create_token(session, owner, org, "Abgelaufen", ["read", "write"],
                                                             expires_at=utcnow() + timedelta(days=1))
    expiring.expires_at = utcnow() - timedelta(seconds=1)
    revoked, secrets["revoked_token"] = tokens.create_token(session, owner, org, "Widerrufen", ["read", "write"])
    tokens.revoke_token(session, owner, revoked.id)
    karlsruhe = f.user(session, "officer", f.KARLSRUHE)
    session.commit()
    return {"admin": admin, "owner": owner, "karlsruhe": karlsruhe, "secrets": secrets}


def _api_target(session, w, kind: str) -> int | None:
    if kind == "none":
        return None
    if kind == "reuse":
        item = f.listing(session, w["karlsruhe"], publish_by=w["admin"])
        return reuse.declare_reuse(session, w["owner"], item, {"stage": "interested"}).id
    if kind == "archived":  # a draft archived by its owner: readable only by the owner
        item = f.listing(session, w["owner"])
        return listings.archive_listing(session, w["owner"], item).id
    return f.listing(session, w["owner"], publish_by=w["admin"] if kind == "published" else None).id


@pytest.mark.parametrize("endpoint", sorted(API_WRITES))
def test_api_write_refused_exactly_where_not_allowed(client, session, api_world, endpoint):
    """Each principal gets the expected status; refused calls change nothing, allowed ones write."""
    row = API_WRITES[endpoint]
    outcomes = []
    for principal in API_PRINCIPALS:
        target = _api_target(session, api_world, row.target)
        session.commit()
        before = _fingerprint(session)
        headers = dict(row.headers)
        if principal != "anonymous":
            headers["Authorization"] = f"Bearer {api_world['secrets'][principal]}"
        path = row.path.format(id=target)
        if row.raw is not None:
            resp = client.open(path, method=row.method, data=row.raw(), headers=headers)
        elif "Content-Type" in headers:
            resp = client.open(path, method=row.method, data=json.dumps(row.body()), headers=headers)
        else:
            resp = client.open(path, method=row.method, json=row.body(), headers=headers)
        want = api_expected(row, principal)
        assert resp.status_code == want, f"{endpoint} as {principal}: {resp.status_code} {resp.get_data(True)[:300]}"
        changed = _fingerprint(session) != before
        if 200 <= want < 300 and not row.read_only:
            assert changed, f"{endpoint} as {principal}: answered {want} but wrote nothing"
        else:
            assert not changed, f"{endpoint} as {principal}: refused ({want}) but changed data"
        outcomes.append(want)
    assert 401 in outcomes
