"""Members-only listings must not leak through ANY read path to non-members.

The test walks every GET route registered in the app (pages, search, API, feeds, exports,
whatever exists when the branches are merged), fills URL parameters with the secret
listing's slug/id, its owner's key and the network's slug, and checks that no response
carries the listing's unique markers, for anonymous visitors and for signed-in
non-members. A member must see it (so the markers are detectable at all).
"""

from __future__ import annotations

import itertools

import pytest
from werkzeug.routing import BuildError

from . import factories as f
from .search_support import follow

TITLE = "Geheimregister QX7Z"
SUMMARY = "Nur fuer Mitglieder K9P2W sichtbar"
DESCRIPTION = "Interne Beschreibung M3RT8 des Projekts."
MARKERS_ALWAYS = ("K9P2W", "M3RT8")
SKIP_ENDPOINTS = {"static", "auth.logout"}


@pytest.fixture
def secret_world(session):
    net = f.network(session, "geheimnetz", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", f.MANNHEIM, [net])
    owner = f.user(session, "officer", f.FREIBURG)
    item = f.listing(session, owner, publish_by=coord, title=TITLE, summary=SUMMARY,
                     description=DESCRIPTION, visibility="network", tags=["QX7Z-Tag"])
    public = f.listing(session, owner, publish_by=coord, title="Öffentlicher Dienst")
    other_net = f.network(session, "anderes", f.LEMGO)
    follow()  # the index has the secret too, so search pages are really put to the test
    return {
        "net": net, "item": item, "public": public, "owner_org": owner.organisation,
        "member": f.user(session, "officer", f.MANNHEIM),
        "outsider": f.user(session, "officer", f.KARLSRUHE),
        "foreign_coord": f.user(session, "coordinator", f.LEMGO, [other_net]),
    }


def _candidates(name: str, converter: str, w: dict) -> list:
    item, org, net = w["item"], w["owner_org"], w["net"]
    name = name.lower()
    if converter in ("IntegerConverter",):
        return [item.id, org.id, net.id]
    if "slug" in name:
        return [item.slug, net.slug]
    if name in ("key", "ags", "org", "organisation", "kommune") or name.endswith("_key"):
        return [org.key] + ([org.ags] if org.ags and org.ags != org.key else [])
    if "id" in name:
        return [str(item.id), item.slug]
    return [item.slug, str(item.id), org.key, net.slug]


def _urls(app, w: dict) -> list[str]:
    adapter = app.url_map.bind("localhost")
    urls: list[str] = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint in SKIP_ENDPOINTS:
            continue
        args = sorted(rule.arguments)
        if not args:
            path = adapter.build(rule.endpoint, {})
            sep = "&" if "?" in path else "?"
            # search and filter pages: ask for the secret directly
            urls += [path, f"{path}{sep}q=QX7Z", f"{path}{sep}q=Geheimregister&tag=QX7Z-Tag"]
            continue
        choices = [_candidates(a, type(rule._converters[a]).__name__, w) for a in args]
        for combo in itertools.islice(itertools.product(*choices), 12):
            try:
                urls.append(adapter.build(rule.endpoint, dict(zip(args, combo, strict=True))))
            except BuildError:
                continue
    return sorted(set(urls))


def _leaks(client, urls: list[str], markers: tuple[str, ...]) -> list[str]:
    found = []
    for url in urls:
        for accept in ("text/html", "application/json"):
            resp = client.get(url, headers={"Accept": accept})
            body = resp.get_data()
            hits = [m for m in markers if m.encode() in body]
            if "q=" not in url and b"QX7Z" in body.replace(b"QX7Z-Tag", b""):
                hits.append("title")
            if hits:
                found.append(f"{url} [{accept}] -> {resp.status_code} {hits}")
    return found


def test_members_only_listing_invisible_on_every_read_path(app, client, auth, secret_world):
    urls = _urls(app, secret_world)
    assert any(secret_world["item"].slug in u for u in urls)
    assert _leaks(client, urls, MARKERS_ALWAYS) == [], "anonymous visitor"
    for who in ("outsider", "foreign_coord"):
        auth.login(secret_world[who].email)
        assert _leaks(client, urls, MARKERS_ALWAYS) == [], who
        auth.logout()


def test_member_sees_members_only_listing(app, client, auth, secret_world):
    """Control: the markers are found when the viewer may see the listing."""
    auth.login(secret_world["member"].email)
    page = client.get(f"/eintraege/{secret_world['item'].slug}")
    assert page.status_code == 200 and "K9P2W" in page.get_data(as_text=True)
    assert _leaks(client, _urls(app, secret_world), MARKERS_ALWAYS)
