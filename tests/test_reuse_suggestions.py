"""Issue 18 item 6: publiccode.yml usedBy becomes *suggested* reuse, confirmed or dismissed by the named municipality."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from marktplatz.models import AuditEvent, Notification, Organisation, Reuse, ReuseSuggestion
from marktplatz.permissions import can
from marktplatz.services import (
    catalogue,
    listing_pages,
    listings,
    moderation,
    municipalities,
    publiccode,
    stats,
    tokens,
)
from marktplatz.services import reuse as reuse_service
from marktplatz.services import reuse_suggestions as rs
from marktplatz.services.errors import Conflict, Forbidden, Invalid, NotFound
from marktplatz.services.usedby import NameIndex, match_name

from . import factories as f

FIXTURES = Path(__file__).parent / "fixtures" / "publiccode"
MINIMAL = FIXTURES / "_official_example_v0.7__publiccode.minimal.yml"
MANNHEIM_NAME = "Stadt Mannheim"


def _ags(session, org_id: int | None) -> str | None:
    if org_id is None:
        return None
    org = session.get(Organisation, org_id)
    return org.ags or org.key


# ------------------------------------------------------------------- matching names

# (usedBy name as written, AGS or Kreisschlüssel it must match, or None: kept unmatched)
NAMES = [
    ("Stadt Freiburg im Breisgau", "08311000"),
    ("Landeshauptstadt München", "09162000"),
    ("München", "09162000"),  # the city; the Landkreis München only when the name says Kreis
    ("Landkreis München", "09184"),
    ("Gemeinde Seefeld (Bayern)", "09188132"),  # a Seefeld in Bayern and one in Schleswig-Holstein
    ("Seefeld - SH", "01058151"),
    ("Seefeld", None),  # two of that name, no hint: not guessed
    ("Bad Salzuflen, NRW", f.BAD_SALZUFLEN),
    ("Bad Salzuflen, Stadt", f.BAD_SALZUFLEN),  # the official GV100 form
    ("Stadt Halle (Saale)", "15002000"),
    ("Halle", None),  # two Gemeinden "Halle" in Niedersachsen
    ("Halle (Niedersachsen)", None),  # the Land hint does not decide between them
    ("Stadt Münster", "05515000"),  # Münster (NW, a city) and Münster (BY, a Gemeinde)
    ("Münster", None),
    ("Stadt Fürth", "09563000"),
    ("Markt Babenhausen", "09778115"),  # the Markt in Bayern, not the Stadt in Hessen
    ("Markt Indersdorf", "09174131"),  # "Markt" is part of the name
    ("Hansestadt Lübeck", "01003000"),
    ("Freie und Hansestadt Hamburg", "02000000"),
    ("Kreisstadt Lemgo", f.LEMGO),
    ("Neustadt (Hessen)", "06534016"),  # "(Hessen)" is part of the official name
    ("Neustadt an der Donau", "09273152"),  # GV100 writes "Neustadt a.d.Donau"
    ("St. Augustin", "05382056"),
    ("Muenchen", "09162000"),
    ("Stadtkreis Freiburg im Breisgau", "08311000"),  # the Kreis row of a city is the city
    ("Kreis Lippe", "05766"),
    ("Lippe", None),  # a Landkreis is only matched when the name says Kreis
    ("Region Hannover", "03241"),
    ("Rhein-Sieg-Kreis", "05382"),
    ("Stadt Tangerhütte (Sachsen-Anhalt)", "15090546"),
    ("Freiburg", None),  # Freiburg (Elbe) or Freiburg im Breisgau: neither is "Freiburg"
    ("Stadt Halle", None),
    # The usedBy values of the real example files (tests/fixtures/publiccode/).
    ("Comune di Firenze", None),
    ("Comune di Roma", None),
]


@pytest.fixture
def index(session) -> NameIndex:
    return NameIndex.load(session)


def test_usedby_names_match_the_reference_data(session, index):
    """Type words and Land hints are read; several or no candidates leave a name unmatched.

    One test over the whole table (a parametrized case cost a fresh database each): every
    name that does not give its expected municipality is listed.
    """
    wrong = [(name, want, got) for name, want in NAMES
             if (got := _ags(session, match_name(name, index).organisation_id)) != want]
    assert wrong == []


def test_ambiguous_and_unknown_names_say_so(index):
    assert match_name("Seefeld", index).candidates == 2
    assert match_name("Comune di Roma", index).candidates == 0


def test_real_fixture_usedby_values_are_read_and_none_is_matched(session):
    """Every fixture with usedBy lists the Italian example names; none is a German municipality."""
    files = [p for p in FIXTURES.rglob("*.yml") if "usedBy" in p.read_text(encoding="utf-8")]
    assert len(files) >= 6
    idx = NameIndex.load(session)
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        values = data.get("usedBy") or []
        out, _warnings = publiccode.read(data)
        assert out["used_by"] == values, path.name
        assert values == ["Comune di Firenze", "Comune di Roma"], path.name
        assert all(match_name(v, idx).organisation_id is None for v in values)


def test_malformed_usedby_is_a_warning_not_a_refusal():
    data = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    _out, warnings = publiccode.read({**data, "usedBy": "Stadt Mannheim"})
    assert {"path": "usedBy", "message": "Erwartet wird eine Liste von Namen; wird ignoriert."} in warnings
    out, warnings = publiccode.read({**data, "usedBy": ["Stadt Mannheim", 42, "  ", "stadt  mannheim"]})
    assert out["used_by"] == ["Stadt Mannheim"]  # the same name twice counts once
    assert {w["path"] for w in warnings} >= {"usedBy[1]", "usedBy[2]"}


# ------------------------------------------------------------------- the import

def _file(*used_by: str, url: str = "https://example.org/git/hundesteuer") -> bytes:
    data = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    data["url"] = url
    data["usedBy"] = list(used_by)
    return yaml.safe_dump(data, allow_unicode=True).encode("utf-8")


@pytest.fixture
def world(session):
    """Freiburg publishes a component whose publiccode.yml names Mannheim, Karlsruhe and others."""
    admin = f.user(session, "admin", ags=None)
    owner = f.user(session, "officer", f.FREIBURG)
    mannheim = f.user(session, "officer", f.MANNHEIM)
    karlsruhe = f.user(session, "officer", f.KARLSRUHE)
    lemgo = f.user(session, "officer", f.LEMGO)
    return {"admin": admin, "owner": owner, "mannheim": mannheim, "karlsruhe": karlsruhe, "lemgo": lemgo}


def _import(session, w, *used_by: str, **kw):
    listing, result, _warnings = publiccode.import_publiccode(session, w["owner"], w["owner"].organisation,
                                                              _file(*used_by, **kw))
    session.commit()
    return listing, result


def _publish(session, w, listing, **changes):
    if changes:
        listings.update_listing(session, w["owner"], listing, changes, None, partial=True)
    listings.submit_for_review(session, w["owner"], listing)
    moderation.approve(session, w["admin"], listing)
    session.commit()


def _rows(session, listing):
    return {(r.name, r.state, _ags(session, r.organisation_id))
            for r in session.scalars(select(ReuseSuggestion).where(ReuseSuggestion.listing_id == listing.id))}


def test_import_suggests_matched_names_and_keeps_the_others(session, world):
    listing, _ = _import(session, world, MANNHEIM_NAME, "Stadt Karlsruhe", "Halle", "Comune di Roma",
                         "Stadt Freiburg im Breisgau")  # the publisher itself is not suggested
    assert _rows(session, listing) == {
        (MANNHEIM_NAME, "suggested", f.MANNHEIM), ("Stadt Karlsruhe", "suggested", f.KARLSRUHE),
        ("Halle", "unmatched", None), ("Comune di Roma", "unmatched", None)}
    assert session.scalar(select(func.count(Reuse.id))) == 0  # nothing is declared


def test_reimport_is_idempotent_and_follows_the_file(session, world):
    listing, _ = _import(session, world, MANNHEIM_NAME, "Stadt Karlsruhe", "Comune di Roma")
    before = _rows(session, listing)
    again, result = _import(session, world, MANNHEIM_NAME, "Stadt Karlsruhe", "Comune di Roma")
    assert again.id == listing.id and result == "unchanged"
    assert _rows(session, listing) == before
    assert session.scalar(select(func.count(ReuseSuggestion.id))) == 3
    # A name the file no longer lists withdraws the pending suggestion; new names come in.
    _import(session, world, MANNHEIM_NAME, "Comune di Firenze")
    assert _rows(session, listing) == {(MANNHEIM_NAME, "suggested", f.MANNHEIM),
                                       ("Comune di Firenze", "unmatched", None)}


def test_dismissed_is_not_suggested_again_and_declared_is_not_suggested(session, world):
    listing, _ = _import(session, world, MANNHEIM_NAME)
    _publish(session, world, listing)
    row = session.scalar(select(ReuseSuggestion).where(ReuseSuggestion.listing_id == listing.id))
    rs.dismiss(session, world["mannheim"], row)
    session.commit()
    reuse_service.declare_reuse(session, world["karlsruhe"], listing, {"stage": "pilot"})
    session.commit()
    _import(session, world, MANNHEIM_NAME, "Stadt Karlsruhe", "Mannheim")  # Mannheim twice, differently written
    assert _rows(session, listing) == {(MANNHEIM_NAME, "dismissed", f.MANNHEIM)}
    assert rs.pending_for(session, world["mannheim"]) == []
    assert rs.pending_for(session, world["karlsruhe"]) == []


def test_confirm_declares_the_reuse_through_the_reuse_service(session, world):
    listing, _ = _import(session, world, MANNHEIM_NAME)
    _publish(session, world, listing)
    [row] = rs.pending_for(session, world["mannheim"])
    reuse = rs.confirm(session, world["mannheim"], row, {"stage": "pilot"})
    session.commit()
    assert (reuse.listing_id, reuse.organisation_id, reuse.stage) == (listing.id, world["mannheim"].organisation_id, "pilot")
    assert [h.to_stage for h in reuse.history] == ["pilot"]
    assert row.state == "confirmed" and row.decided_by_id == world["mannheim"].id
    actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.listing_id == listing.id)))
    assert {"reuse.declared", "reuse_suggestion.confirmed"} <= actions
    # The publisher is notified as for any declared reuse.
    assert session.scalar(select(func.count(Notification.id)).where(Notification.user_id == world["owner"].id)) >= 1
    assert rs.pending_for(session, world["mannheim"]) == []
    with pytest.raises(Conflict):
        rs.dismiss(session, world["mannheim"], row)
    session.rollback()


def test_only_the_named_municipality_decides(session, world):
    listing, _ = _import(session, world, MANNHEIM_NAME)
    _publish(session, world, listing)
    row = session.scalar(select(ReuseSuggestion).where(ReuseSuggestion.listing_id == listing.id))
    for who in ("owner", "karlsruhe", "admin"):
        assert not can(world[who], "reuse_suggestion.decide", row), who
        with pytest.raises(Forbidden):
            rs.confirm(session, world[who], row, {"stage": "production"})
        session.rollback()
        with pytest.raises(Forbidden):
            rs.dismiss(session, world[who], row)
        session.rollback()
    assert can(world["mannheim"], "reuse_suggestion.decide", row)
    assert session.scalar(select(func.count(Reuse.id))) == 0
    assert session.get(ReuseSuggestion, row.id).state == "suggested"


def test_a_bad_stage_is_refused_and_writes_nothing(session, world):
    listing, _ = _import(session, world, MANNHEIM_NAME)
    _publish(session, world, listing)
    [row] = rs.pending_for(session, world["mannheim"])
    for stage in ("", "discontinued", "kaputt"):
        with pytest.raises(Invalid) as err:
            rs.confirm(session, world["mannheim"], row, {"stage": stage})
        assert "stage" in err.value.errors
        session.rollback()
    assert session.scalar(select(func.count(Reuse.id))) == 0
    assert session.get(ReuseSuggestion, row.id).state == "suggested"


def test_suggestion_on_an_unpublished_listing_is_not_offered(session, world):
    listing, _ = _import(session, world, MANNHEIM_NAME)  # a draft
    assert rs.pending_for(session, world["mannheim"]) == []
    row = session.scalar(select(ReuseSuggestion).where(ReuseSuggestion.listing_id == listing.id))
    with pytest.raises(NotFound):  # the draft is invisible to Mannheim
        rs.get_suggestion(session, world["mannheim"], row.id)
    session.rollback()


# ------------------------------------------------------------------- never counted as declared reuse

def _read_paths(session, client, w, listing, mannheim_org, token) -> dict[str, int]:
    """Return how many reuses of listing (by Mannheim) each read path counts or shows."""
    page = client.get(f"/eintraege/{listing.slug}").get_data(as_text=True)
    m_page = client.get(f"/kommunen/{mannheim_org.key}").get_data(as_text=True)
    matrix = catalogue.ozg_matrix(session, None, 10160)
    export = client.get("/export/eintraege.json").json
    row = next(r for r in export["eintraege"] if r["id"] == listing.id)
    csv_rows = csv.DictReader(io.StringIO(client.get("/export/eintraege.csv").get_data(as_text=True).lstrip("\ufeff")),
                              delimiter=";")
    csv_row = next(r for r in csv_rows if r["id"] == str(listing.id))
    api_reuses = client.get(f"/api/v1/reuses?listing_id={listing.id}", headers=token).json["items"]
    feed = client.get("/api/v1/changes?entity_type=reuse&limit=1000", headers=token).json["items"]
    session.expire_all()
    return {
        "listing page": int("Diese Kommunen nutzen nach" in page),
        "municipality page": int(f"/eintraege/{listing.slug}" in m_page),
        "who does what": sum(1 for r in matrix.rows if r["reuse"] is not None) + matrix.reusers,
        "reuse count": session.get(type(listing), listing.id).active_reuse_count,
        "municipality reuses": len(municipalities.municipality_reuses(session, None, mannheim_org)),
        "reused by": len(municipalities.municipality_reused_by(session, None, listing.organisation)),
        "home stats": listing_pages.home_stats(session, None)["reuses"],
        "statistics": stats.dashboard(session, w["admin"], None)["totals"]["reuses"],
        "export json": row["nachnutzungen"],
        "export csv": int(csv_row["nachnutzungen"]),
        "api reuses": len(api_reuses),
        "change feed": sum(1 for c in feed if c["listing_id"] == listing.id),
    }


def test_a_suggestion_is_never_counted_or_shown_as_declared_reuse(session, client, world):
    """Every read of declared reuse shows none while suggested, and the one reuse once confirmed."""
    listing, _ = _import(session, world, MANNHEIM_NAME)
    _publish(session, world, listing, ozg_ids=[10160])
    mannheim_org = world["mannheim"].organisation
    _tok, secret = tokens.create_token(session, world["karlsruhe"], world["karlsruhe"].organisation, "Lesen", ["read"])
    session.commit()
    header = {"Authorization": f"Bearer {secret}"}
    assert rs.pending_for(session, world["mannheim"])  # the suggestion is there
    suggested = _read_paths(session, client, world, listing, mannheim_org, header)
    assert not any(suggested.values()), suggested
    [row] = rs.pending_for(session, world["mannheim"])
    rs.confirm(session, world["mannheim"], row, {"stage": "production"})
    session.commit()
    confirmed = _read_paths(session, client, world, listing, mannheim_org, header)
    # The control: each path does show the declared reuse (so the first check could fail).
    for path in ("listing page", "municipality page", "reuse count", "municipality reuses", "reused by",
                 "home stats", "statistics", "export json", "export csv", "api reuses", "change feed"):
        assert confirmed[path] >= 1, (path, confirmed)
    assert confirmed["who does what"] >= 1


# ------------------------------------------------------------------- pages

def test_listing_page_names_the_usedby_names_apart_from_declared_reuse(session, client, world):
    listing, _ = _import(session, world, MANNHEIM_NAME, "Halle", "<script>alert(1)</script> Gemeinde")
    _publish(session, world, listing)
    html = client.get(f"/eintraege/{listing.slug}").get_data(as_text=True)
    part = html.split('id="laut-publiccode"', 1)[1].split("</ul>", 1)[0]
    assert "Laut publiccode.yml genutzt von" in html
    assert "Stadt Mannheim" in part and "noch nicht bestätigt" in part
    assert "Halle" in part and "mehrere Kommunen dieses Namens" in part
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Gemeinde" in part and "<script>alert(1)" not in html
    assert "Bisher hat keine Kommune eine Nachnutzung erklärt." in html
    # Dismissed: the page (also the cached copy for anonymous readers) no longer names Mannheim.
    row = session.scalar(select(ReuseSuggestion).where(ReuseSuggestion.organisation_id == world["mannheim"].organisation_id))
    rs.dismiss(session, world["mannheim"], row)
    session.commit()
    part = client.get(f"/eintraege/{listing.slug}").get_data(as_text=True).split('id="laut-publiccode"', 1)[1]
    assert "Stadt Mannheim" not in part.split("</ul>", 1)[0]


def test_reimport_changing_only_usedby_refreshes_the_cached_page(session, client, world):
    listing, _ = _import(session, world, "Comune di Roma")
    _publish(session, world, listing)
    assert "Comune di Roma" in client.get(f"/eintraege/{listing.slug}").get_data(as_text=True)
    _import(session, world, "Comune di Firenze")
    html = client.get(f"/eintraege/{listing.slug}").get_data(as_text=True)
    assert "Comune di Firenze" in html and "Comune di Roma" not in html


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_dashboard_confirm_and_dismiss_without_javascript(session, client, auth, world):
    first, _ = _import(session, world, MANNHEIM_NAME)
    second, _ = _import(session, world, MANNHEIM_NAME, url="https://example.org/git/zweite")
    _publish(session, world, first)
    _publish(session, world, second)
    [s2, s1] = rs.pending_for(session, world["mannheim"])
    auth.login(world["mannheim"].email)
    html = client.get("/meine-kommune").get_data(as_text=True)
    assert "Vorgeschlagene Nachnutzungen (2)" in html
    assert f'action="/nachnutzungen/vorschlaege/{s1.id}/bestaetigen"' in html
    assert f'<label for="stufe-{s1.id}">' in html
    assert html.count('name="csrf_token"') >= 4  # both forms of each suggestion carry the token
    # (that a POST without it is refused is test_attacks.py's, for every route)
    token = _csrf(html)
    # A bad stage: a German message next to that suggestion's field, nothing written.
    resp = client.post(f"/nachnutzungen/vorschlaege/{s1.id}/bestaetigen", data={"stage": "eingestellt", "csrf_token": token})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert f'id="stufe-{s1.id}-error"' in body and "Bitte wählen Sie eine Stufe" in body
    assert f'aria-describedby="stufe-{s1.id}-error"' in body
    assert session.scalar(select(func.count(Reuse.id))) == 0
    resp = client.post(f"/nachnutzungen/vorschlaege/{s1.id}/bestaetigen", data={"stage": "pilot", "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/meine-kommune#vorschlaege")
    resp = client.post(f"/nachnutzungen/vorschlaege/{s2.id}/ablehnen", data={"csrf_token": token})
    assert resp.status_code == 302
    session.expire_all()
    assert [(r.listing_id, r.stage) for r in session.scalars(select(Reuse))] == [(first.id, "pilot")]
    assert session.get(ReuseSuggestion, s2.id).state == "dismissed"
    html = client.get("/meine-kommune").get_data(as_text=True)
    assert "Vorgeschlagene Nachnutzungen" not in html
    # Deciding again: a clear answer, no 500.
    resp = client.post(f"/nachnutzungen/vorschlaege/{s2.id}/ablehnen", data={"csrf_token": token})
    assert resp.status_code == 409 and "bereits erledigt" in resp.get_data(as_text=True)


def test_other_officers_cannot_decide_through_the_web(session, client, auth, world):
    listing, _ = _import(session, world, MANNHEIM_NAME)
    _publish(session, world, listing)
    [row] = rs.pending_for(session, world["mannheim"])
    auth.login(world["karlsruhe"].email)
    html = client.get("/meine-kommune").get_data(as_text=True)
    assert "Vorgeschlagene Nachnutzungen" not in html
    token = _csrf(html)
    assert client.post(f"/nachnutzungen/vorschlaege/{row.id}/bestaetigen",
                       data={"stage": "pilot", "csrf_token": token}).status_code == 403
    assert client.post(f"/nachnutzungen/vorschlaege/{row.id}/ablehnen", data={"csrf_token": token}).status_code == 403
    assert client.post("/nachnutzungen/vorschlaege/999999/ablehnen", data={"csrf_token": token}).status_code == 404
    session.expire_all()
    assert session.get(ReuseSuggestion, row.id).state == "suggested"
    assert session.scalar(select(func.count(Reuse.id))) == 0


def test_a_suggestion_on_a_listing_the_officer_may_not_see_is_not_found_through_the_web(session, client, auth, world):
    """The two routes ask the visibility policy first: on a draft, even the named municipality's
    officer gets 404 (not 403, nothing that tells the draft exists), and nothing changes."""
    listing, _ = _import(session, world, MANNHEIM_NAME)  # a draft of Freiburg
    row = session.scalar(select(ReuseSuggestion).where(ReuseSuggestion.listing_id == listing.id))
    assert row is not None and row.state == "suggested"
    auth.login(world["mannheim"].email)
    token = _csrf(client.get("/meine-kommune").get_data(as_text=True))
    for action, data in (("bestaetigen", {"stage": "pilot"}), ("ablehnen", {})):
        resp = client.post(f"/nachnutzungen/vorschlaege/{row.id}/{action}", data={**data, "csrf_token": token})
        assert resp.status_code == 404, action
        assert listing.title not in resp.get_data(as_text=True)
    session.expire_all()
    assert session.get(ReuseSuggestion, row.id).state == "suggested"
    assert session.scalar(select(func.count(Reuse.id))) == 0
