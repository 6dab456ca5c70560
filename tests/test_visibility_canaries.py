"""No hidden listing leaks through any route, for any viewer class.

The test enumerates every route of the app (pages, search, feeds, exports, the API). GET
routes are called with their URL parameters filled from a world of canary listings, one per
hidden state (draft, members-only, in review, changes requested, rejected, archived from a
draft), plus a public control. Each canary carries a marker word in its summary, its
description and its tags, and a title of its own. For each viewer class, no response may
contain a canary that the visibility policy hides from it.

Every route must be classified here: a GET route is called; a POST route is either a read
(called with a body, such as the duplicate check) or listed as a write. A new route that is
not classified makes the test fail, so a new read path cannot escape the check.
"""

from __future__ import annotations

import itertools
import json

import pytest
from werkzeug.routing import BuildError

from marktplatz.services import (
    listings,
    moderation,
    process_register,
    reuse,
    reuse_suggestions,
    webhooks,
)

from . import factories as f
from .search_support import follow

CANARIES = {  # name -> (marker, title)
    "draft": ("Q7DRAFTZ", "Vertraulich Entwurf Alpha"),
    "members": ("Q7MEMBZ", "Vertraulich Mitglieder Bravo"),
    "review": ("Q7REVWZ", "Vertraulich Pruefung Charlie"),
    "changes": ("Q7CHNGZ", "Vertraulich Nacharbeit Delta"),
    "rejected": ("Q7REJCZ", "Vertraulich Abgelehnt Echo"),
    "archived_draft": ("Q7ARCDZ", "Vertraulich Archiviert Foxtrot"),
    "public": ("Q7PUBLZ", "Oeffentlich Kontrolle Golf"),
}
HIDDEN = set(CANARIES) - {"public"}
# What each viewer class may see of the hidden canaries (the policy, written out by hand).
MAY_SEE = {
    "anonymous": set(),
    "outsider": set(),
    "foreign_coordinator": set(),
    "member": {"members"},
    "coordinator": {"members", "review", "changes", "rejected"},
}
# Routes that only change something. Their answers are redirects or form pages, and who may
# call them is the authorisation matrix's subject (tests/test_authz_matrix.py).
WRITES = {
    "auth.logout", "api_listings.create_listing", "api_listings.replace_listing",
    "api_listings.patch_listing", "api_listings.delete_listing", "api_listings.archive_listing",
    "api_listings.restore_listing", "api_listings.declare_reuse", "api_listings.post_status_update",
    "api_listings.submit_listing", "api_reuses.change_stage", "api_sync.sync", "api_sync.import_publiccode",
    "notifications.mark_read", "notifications.mark_all_read", "notifications.follow_ozg",
    "publish.submit", "publish.unfollow", "publish.follow", "publish.declare_reuse", "publish.post_status",
    "publish.restore", "publish.archive", "publish.withdraw", "publish.delete", "publish.change_stage",
    "webhooks.action", "webhooks.redeliver", "tokens.revoke",
    "networks.create", "networks.decide", "networks.request_join", "networks.respond", "networks.withdraw",
    "networks.coordinators", "networks.members", "networks.remove_member", "networks.leave",
    "moderation.mark_duplicate", "moderation.close_flag",
    "access.approve", "admin.reactivate_user", "admin.unarchive_network",
    "registers.visibility", "registers.delete", "api_registers.upsert_register",
    "publish.confirm_suggestion", "publish.dismiss_suggestion",
}
# Reads answered to POST: called with a body that names every canary's words.
POST_READS = {"api_listings.duplicate_check"}
NOT_LISTING_DATA = {"static"}  # files from disk
# Variants of a read that put more data in the answer: each is called as well.
FEED_QUERIES = ("include=entity&limit=100", "include=entity&entity_type=listing&limit=100",
                "include=entity&entity_type=reuse", "include=entity&entity_type=status_update",
                "include=entity&ags=08311000&limit=100", "include=entity&network=canarynetz&limit=100")
EXTRA_QUERIES = {"api_changes.list_changes": FEED_QUERIES}
# The API knows no sessions: a token acts as its municipality's technical user, an officer.
# What each viewer class's municipality may see of the hidden canaries through a token.
TOKEN_MAY_SEE = {
    "outsider": set(),
    "foreign_coordinator": set(),
    "member": {"members"},
    "coordinator": {"members"},  # Mannheim's token: a member municipality, not a coordinator
}


@pytest.fixture
def canaries(session):
    net = f.network(session, "canarynetz", f.FREIBURG, f.MANNHEIM)
    other_net = f.network(session, "andersnetz", f.LEMGO)
    coord = f.user(session, "coordinator", f.MANNHEIM, [net])
    admin = f.user(session, "admin", ags=None)
    owner = f.user(session, "officer", f.FREIBURG)
    items = {}
    for name, (marker, title) in CANARIES.items():
        data = {"title": title, "summary": f"Kanarienvogel {marker} fuer den Sichtbarkeitstest.",
                "description": f"Beschreibung mit {marker} und weiteren Worten.", "tags": [f"Tag{marker}"],
                "visibility": "network" if name == "members" else "public",
                # Offered for reuse: the process register's network and gap views name them.
                "reuse_offered": True, "reuse_terms": "Nachnutzung nach Absprache."}
        item = listings.create_listing(session, owner, f.listing_data(**data))
        if name in ("members", "public"):
            listings.submit_for_review(session, owner, item)
            moderation.approve(session, coord, item)
        elif name in ("review", "changes", "rejected"):
            listings.submit_for_review(session, owner, item)
            if name == "changes":
                moderation.request_changes(session, coord, item, "Bitte ergänzen.")
            elif name == "rejected":
                moderation.reject(session, coord, item, "Passt nicht hierher.")
        elif name == "archived_draft":
            listings.archive_listing(session, owner, item, "Verworfen")
        items[name] = item
    # A public duplicate that points at the members-only canary (its title must not leak).
    dup = f.listing(session, owner, publish_by=coord, title="Doppelter Dienst Hotel")
    moderation.mark_duplicate(session, admin, dup, items["members"], "Gleicher Dienst")
    member = f.user(session, "officer", f.MANNHEIM)
    declared = reuse.declare_reuse(session, member, items["members"], {"stage": "interested"})
    hook = webhooks.create_webhook(session, owner, owner.organisation, "https://example.org/hook", "s" * 32)
    # A public process register whose process names the members-only canary as its solution.
    entry = process_register.save_entry(session, owner, owner.organisation, {
        "process_key": "1", "name": "Hundesteuer", "ozg_id": 10160, "channel": "analog", "cases": 10,
        "cases_year": 2025, "solution_listing": items["members"].slug})
    process_register.set_visibility(session, owner, owner.organisation, {"visibility": "public"})
    # Every canary's publiccode.yml names each viewer's municipality under usedBy: a suggestion
    # on a listing the viewer may not see must not show on their dashboard (or anywhere).
    for item in items.values():
        reuse_suggestions.record_used_by(session, item, ["Stadt Karlsruhe", "Stadt Lemgo", "Stadt Mannheim",
                                                         f"Gemeinde {item.title}"])
    session.commit()
    follow()  # the index holds every canary: search, facets and suggestions are put to the test
    return {
        "items": items, "dup": dup, "net": net, "owner_org": owner.organisation, "reuse": declared,
        "hook": hook, "process_entry": entry, "viewers": {
            "anonymous": None, "outsider": f.user(session, "officer", f.KARLSRUHE),
            "foreign_coordinator": f.user(session, "coordinator", f.LEMGO, [other_net]),
            "member": member, "coordinator": coord, "owner": owner,
        },
    }


def _values(arg: str, w: dict) -> list:
    items = list(w["items"].values()) + [w["dup"]]
    if arg == "listing_id":
        return [i.id for i in items]
    if arg == "slug":
        return [i.slug for i in items] + [w["net"].slug]
    if arg == "key":
        return [w["owner_org"].key]
    if arg == "ozg_id":
        return [10160]
    if arg == "reuse_id":
        return [w["reuse"].id]
    if arg == "hook_id":
        return [w["hook"].id]
    if arg == "token":  # signed e-mail links (password reset, invitation, access): a forged one
        return ["ungueltiger-token"]
    if arg == "user_id":  # admin pages: every viewer class is refused
        return [w["viewers"]["owner"].id]
    if arg == "entry_id":  # process register entries: the owner's private one
        return [w["process_entry"].id]
    if arg == "fmt":  # spreadsheet downloads (process registers)
        return ["csv", "xlsx"]
    if arg == "request_id":  # access requests: none exists in the canary world, so a 404
        return [1]
    raise AssertionError(f"no canary values for URL parameter {arg!r}: add them to _values")


def _requests(app, w: dict) -> list[tuple[str, str, dict | None]]:
    """Return (method, url, json body) for every read route; fail on an unclassified route."""
    adapter = app.url_map.bind("localhost")
    out: list[tuple[str, str, dict | None]] = []
    unclassified = []
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
        if rule.endpoint in NOT_LISTING_DATA:
            continue
        if rule.endpoint in POST_READS:
            path = adapter.build(rule.endpoint, {})
            for marker, title in CANARIES.values():
                out.append(("POST", path, {"title": title, "summary": f"{marker} {title}", "ozg_ids": [10160]}))
            continue
        if "GET" not in methods:
            if rule.endpoint not in WRITES:
                unclassified.append(f"{sorted(methods)} {rule.rule} ({rule.endpoint})")
            continue
        args = sorted(rule.arguments)
        if not args:
            path = adapter.build(rule.endpoint, {})
            sep = "&" if "?" in path else "?"
            out.append(("GET", path, None))
            out.extend(("GET", f"{path}{sep}{query}", None) for query in EXTRA_QUERIES.get(rule.endpoint, ()))
            # Search, filter and suggestion paths: every hidden canary's title has this word.
            out.append(("GET", f"{path}{sep}q=Vertraulich", None))
            out.append(("GET", f"{path}{sep}q=Vertraulich&ozg=10160&art=dienst", None))
            continue
        for combo in itertools.product(*[_values(a, w) for a in args]):
            try:
                out.append(("GET", adapter.build(rule.endpoint, dict(zip(args, combo, strict=True))), None))
            except BuildError:
                continue
    assert unclassified == [], "routes the canary test does not cover: classify them in this file"
    return out


def _hits(body: bytes, url: str, names: set[str]) -> list[str]:
    text = body.decode("utf-8", "replace")
    found = []
    for name in names:
        marker, title = CANARIES[name]
        if marker in text or (title in text and "q=" not in url):
            found.append(name)
    return found


def _leaks(client, reqs, hidden: set[str]) -> list[str]:
    found = []
    for method, url, body in reqs:
        accept = "application/json" if url.startswith("/api/") else "text/html"
        if method == "GET":
            resp = client.get(url, headers={"Accept": accept})
        else:
            resp = client.post(url, data=json.dumps(body), headers={"Accept": accept, "Content-Type": "application/json"})
        assert resp.status_code < 500, f"{method} {url} -> {resp.status_code}"
        hits = _hits(resp.get_data(), url, hidden)
        if hits:
            found.append(f"{method} {url} -> {resp.status_code} {sorted(hits)}")
    return found


def test_no_route_shows_a_hidden_canary_to_any_viewer_class(app, client, auth, canaries):
    reqs = _requests(app, canaries)
    assert len(reqs) > 100
    leaks = {}
    for viewer in sorted(MAY_SEE):
        user = canaries["viewers"][viewer]
        if user is not None:
            assert auth.login(user.email).status_code == 302
        leaks[viewer] = _leaks(client, reqs, HIDDEN - MAY_SEE[viewer])
        if user is not None:
            auth.logout()
    assert leaks == {viewer: [] for viewer in MAY_SEE}


def test_the_canaries_are_detectable(app, client, auth, canaries):
    """Control: the owner finds every canary on its page, and everyone finds the public one."""
    auth.login(canaries["viewers"]["owner"].email)
    for name, item in canaries["items"].items():
        page = client.get(f"/eintraege/{item.slug}")
        assert page.status_code == 200 and _hits(page.get_data(), "", {name}) == [name], name
    auth.logout()
    assert _leaks(client, [("GET", "/eintraege?q=Kontrolle", None)], {"public"})
    member = canaries["viewers"]["member"]
    auth.login(member.email)
    assert _leaks(client, [("GET", f"/eintraege/{canaries['items']['members'].slug}", None)], {"members"})
    auth.logout()
    auth.login(canaries["viewers"]["coordinator"].email)
    assert _leaks(client, [("GET", f"/pruefung/eintrag/{canaries['items']['review'].slug}", None)], {"review"})


def _feed_requests() -> list[tuple[str, str, None]]:
    return [("GET", "/api/v1/changes", None)] + [("GET", f"/api/v1/changes?{q}", None) for q in FEED_QUERIES]


def _bearer(session, user) -> dict[str, str]:
    from marktplatz.services import tokens

    _t, secret = tokens.create_token(session, user, user.organisation, "Kanarien", ["read"])
    session.commit()
    return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}


def test_the_change_feed_with_entities_shows_no_hidden_canary_to_any_token(client, session, canaries):
    """Through a token, the feed embeds only what the token's municipality may see; the owner's
    token gets every canary (so the check can find them)."""
    leaks = {}
    for viewer, may_see in TOKEN_MAY_SEE.items():
        headers = _bearer(session, canaries["viewers"][viewer])
        found = []
        for _method, url, _body in _feed_requests():
            resp = client.get(url, headers=headers)
            assert resp.status_code == 200, f"{url} -> {resp.status_code}"
            hits = _hits(resp.get_data(), url, HIDDEN - may_see)
            if hits:
                found.append(f"{url} {sorted(hits)}")
        leaks[viewer] = found
    assert leaks == {viewer: [] for viewer in TOKEN_MAY_SEE}
    owner = _bearer(session, canaries["viewers"]["owner"])
    body = client.get("/api/v1/changes?include=entity&limit=100", headers=owner).get_data()
    assert sorted(_hits(body, "", set(CANARIES))) == sorted(CANARIES)
    member = _bearer(session, canaries["viewers"]["member"])
    body = client.get("/api/v1/changes?include=entity&limit=100", headers=member).get_data()
    assert _hits(body, "", set(CANARIES)) and set(_hits(body, "", set(CANARIES))) == {"members", "public"}
