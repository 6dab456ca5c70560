"""Issue 13 item 10: the smaller hardening items."""

from __future__ import annotations

import json

from sqlalchemy import select

from marktplatz.models import Listing, Network
from marktplatz.services import networks, reuse, tokens

from . import factories as f


def _bearer(session, officer) -> dict[str, str]:
    _t, secret = tokens.create_token(session, officer, officer.organisation, "CMS", ["read", "write"])
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_nul_bytes_in_json_bodies_are_refused(client, session):
    officer = f.user(session, "officer", f.FREIBURG)
    headers = {**_bearer(session, officer), "Content-Type": "application/json"}
    body = json.dumps(f.listing_data(title="Hundesteuer \u0000 online"))
    resp = client.post("/api/v1/listings", data=body, headers=headers)
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    assert session.scalar(select(Listing.id)) is None
    # The text "\u0000" (an escaped backslash) is an ordinary title.
    ok = client.post("/api/v1/listings", data=json.dumps(f.listing_data(title="Kein NUL: \\u0000")), headers=headers)
    assert ok.status_code == 201, ok.get_data(as_text=True)


def test_bidi_controls_are_removed_from_titles_and_names(session):
    officer = f.user(session, "officer", f.FREIBURG)
    item = f.listing(session, officer, title="Hunde\u202esteuer\u2066 online")
    assert item.title == "Hundesteuer online"
    admin = f.user(session, "admin", ags=None)
    net = networks.create_network(session, admin, "Netz\u202e Baden")
    assert net.name == "Netz Baden"
    from marktplatz.services import accounts

    user = accounts.create_user(session, "eva@example.org", "Eva\u202e Beispiel", f.PASSWORD, "officer",
                                f.org(session, f.MANNHEIM))
    assert user.name == "Eva Beispiel"


def test_pages_of_signed_in_people_are_not_stored(client, auth, session):
    officer = f.user(session, "officer", f.FREIBURG)
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    auth.login(officer.email)
    for path in ("/konto/api-tokens", "/kommune/webhooks", "/"):
        assert "no-store" in client.get(path).headers.get("Cache-Control", ""), path


def test_hsts_only_in_production_over_https(app, client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    app.config.update(ENV="production", BASE_URL="https://marktplatz.example")
    assert client.get("/").headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_objects_the_viewer_may_not_know_are_404_not_403(client, auth, session):
    owner = f.user(session, "officer", f.FREIBURG)
    stranger = f.user(session, "officer", f.LEMGO)
    token, _secret = tokens.create_token(session, owner, owner.organisation, "CMS", ["read"])
    net = f.network(session, "bw", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", f.KARLSRUHE, [net])
    hidden = f.listing(session, owner, publish_by=coord, visibility="network")
    reuser = f.user(session, "officer", f.MANNHEIM)
    r = reuse.declare_reuse(session, reuser, hidden, {"stage": "pilot"})
    session.commit()
    auth.login(stranger.email)
    assert client.post(f"/konto/api-tokens/{token.id}/widerrufen").status_code == 404
    assert client.post("/konto/api-tokens/999999/widerrufen").status_code == 404
    assert client.post(f"/nachnutzungen/{r.id}/stufe", data={"stage": "production"}).status_code == 404
    assert client.post("/nachnutzungen/999999/stufe", data={"stage": "production"}).status_code == 404


def test_healthz_tells_strangers_only_up_or_down(app, client):
    inside = client.get("/healthz").get_json()  # the test client comes from 127.0.0.1
    assert "queue" in inside and "index" in inside
    outside = client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.7"}).get_json()
    assert outside == {"status": "ok"}
    app.config["HEALTHZ_TOKEN"] = "betrieb-geheim"
    with_token = client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.7"},
                            headers={"Authorization": "Bearer betrieb-geheim"}).get_json()
    assert "queue" in with_token
    wrong = client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.7"},
                       headers={"Authorization": "Bearer falsch"}).get_json()
    assert wrong == {"status": "ok"}


def test_url_fields_refuse_javascript_and_data(client, auth, session):
    admin = f.user(session, "admin", ags=None)
    net = f.network(session, "bw", f.FREIBURG)
    auth.login(admin.email)
    for bad in ("javascript:alert(1)", "data:text/html,<b>x</b>", "JaVaScRiPt:alert(1)"):
        resp = client.post(f"/admin/netzwerke/{net.slug}", data={"name": "bw", "website": bad})
        assert resp.status_code == 422 and 'id="website-error"' in resp.get_data(as_text=True), bad
    session.expire_all()
    assert session.get(Network, net.id).website is None


def test_creating_a_network_refuses_a_javascript_website(session):
    import pytest

    from marktplatz.services.errors import Invalid

    admin = f.user(session, "admin", ags=None)
    with pytest.raises(Invalid) as err:
        networks.create_network(session, admin, "Netz Süd", website="javascript:alert(1)")
    assert "website" in err.value.errors


def test_no_string_longer_than_its_column_is_stored_on_any_backend(session):
    """SQLite does not enforce String(n): the flush refuses it on both backends, naming the field,
    and the data stays as it was."""
    import pytest

    from marktplatz.services.errors import Invalid

    officer = f.user(session, "officer", f.FREIBURG)
    item = f.listing(session, officer, None, title="Längenprüfung")
    session.commit()
    item.platform = "x" * 5000
    item.licence = "MIT" * 30_000  # the 64 KB licence of the review
    with pytest.raises(Invalid) as err:
        session.flush()
    assert set(err.value.errors) == {"platform", "licence"}
    assert "höchstens 200 Zeichen" in err.value.errors["platform"][0]
    session.rollback()
    assert session.get(Listing, item.id).platform != "x" * 5000
    item = session.get(Listing, item.id)
    item.platform = "y" * 200  # exactly the column's length is fine
    session.commit()
    assert session.get(Listing, item.id).platform == "y" * 200
