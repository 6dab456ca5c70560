"""REST API polish (issue 18 item 1): typed German problems, headers, ETags, links, facets, docs."""

from __future__ import annotations

import re

import pytest

from marktplatz.views.api.problems import PROBLEM_TYPES, TYPE_PREFIX, german
from tests import factories as f
from tests.test_api_core import bearer, make_token

# English texts of Werkzeug, webargs and marshmallow that must not reach a client.
ENGLISH = re.compile(r"\b(the|must|request|server|not found|method|invalid|field|failed)\b", re.I)


def _assert_german_problem(resp, status, slug):
    assert resp.status_code == status, resp.data
    assert resp.content_type == "application/problem+json"
    body = resp.json
    assert body["type"] == TYPE_PREFIX + slug and body["status"] == status
    assert body["title"] == PROBLEM_TYPES[slug].title
    text = " ".join([body["title"], body["detail"], str(body.get("errors", ""))])
    assert not ENGLISH.search(text), text
    return body


def test_malformed_json_is_a_german_invalid_json_problem(client, session):
    _o, secret = make_token(session)
    resp = client.post("/api/v1/listings", data='{"title": ', content_type="application/json",
                       headers=bearer(secret))
    _assert_german_problem(resp, 400, "invalid-json")
    resp = client.post("/api/v1/listings/duplicate-check", data=b"\xff\xfe{", content_type="application/json")
    _assert_german_problem(resp, 400, "invalid-json")


def test_stale_if_match_is_a_german_precondition_problem(client, session):
    _o, secret = make_token(session)
    lid = client.post("/api/v1/listings", json=f.listing_data(), headers=bearer(secret)).json["id"]
    resp = client.put(f"/api/v1/listings/{lid}", json=f.listing_data(title="Neu"),
                      headers={**bearer(secret), "If-Match": '"veraltet"'})
    _assert_german_problem(resp, 412, "precondition-failed")


@pytest.mark.parametrize("query, field", [
    ("kind=xyz", "kind"), ("limit=0", "limit"), ("limit=abc", "limit"), ("reuse_offered=vielleicht", "reuse_offered"),
    ("after=kaputt", "after"),
])
def test_argument_errors_are_german(client, query, field):
    body = _assert_german_problem(client.get(f"/api/v1/listings?{query}"), 422, "validation")
    assert list(body["errors"]) == [field]


def test_one_of_names_the_allowed_values_in_german(client):
    body = client.get("/api/v1/listings?kind=xyz").json
    assert body["errors"]["kind"] == ["Erlaubt ist einer der Werte: dienst, komponente, projekt."]


def test_unknown_body_field_and_missing_items_are_german(client, session):
    _o, secret = make_token(session)
    resp = client.post("/api/v1/sync/listings", json={"full_sync": "ja"}, headers=bearer(secret))
    body = _assert_german_problem(resp, 422, "validation")
    assert body["errors"]["items"] == ["Pflichtangabe fehlt."]


def test_415_405_404_are_typed_german_problems(client, session):
    _o, secret = make_token(session)
    _assert_german_problem(client.post("/api/v1/listings", data="x", content_type="text/plain",
                                       headers=bearer(secret)), 415, "unsupported-media-type")
    resp = client.delete("/api/v1/municipalities")
    _assert_german_problem(resp, 405, "method-not-allowed")
    assert "GET" in resp.headers["Allow"]
    _assert_german_problem(client.get("/api/v1/gibt-es-nicht"), 404, "not-found")
    _assert_german_problem(client.get("/api/v1/listings/999999"), 404, "not-found")


def test_german_translates_nested_messages_and_keeps_german_ones():
    assert german({"a": ["Missing data for required field."], "b": {"0": ["Not a valid integer."]}}) == {
        "a": ["Pflichtangabe fehlt."], "b": {"0": ["Bitte eine ganze Zahl angeben."]}}
    assert german("Höchstens 200 Zeichen.") == "Höchstens 200 Zeichen."
    assert german("Must be greater than or equal to 1 and less than or equal to 100.") == \
        "Erlaubt ist ein Wert von 1 bis 100."


def test_retry_after_only_on_429(app, client):
    """flask-limiter's Retry-After (its window) no longer rides on every 200."""
    ok = client.get("/api/v1/ozg/themenfelder")
    assert ok.status_code == 200 and "Retry-After" not in ok.headers
    assert "X-RateLimit-Remaining" in ok.headers
    assert "Retry-After" not in client.get("/api/v1/listings?kind=xyz").headers
    app.config["API_RATELIMIT_PER_IP"] = "1/minute"
    client.get("/api/v1/networks")
    limited = client.get("/api/v1/networks")
    body = _assert_german_problem(limited, 429, "rate-limited")
    assert int(limited.headers["Retry-After"]) > 0 and body["detail"]


def test_weak_if_none_match_gets_304_as_behind_nginx_gzip(client, session):
    """nginx with gzip sends W/"..." back; If-None-Match compares weakly (RFC 9110 13.1.2)."""
    owner = f.user(session)
    coord = f.user(session, role="admin", ags=None)
    item = f.listing(session, owner, publish_by=coord)
    session.commit()
    first = client.get(f"/api/v1/listings/{item.id}")
    strong = first.headers["ETag"]
    assert not strong.startswith("W/")
    assert client.get(f"/api/v1/listings/{item.id}", headers={"If-None-Match": "W/" + strong}).status_code == 304
    assert client.get(f"/api/v1/listings/{item.id}", headers={"If-None-Match": strong}).status_code == 304
    assert client.get(f"/api/v1/listings/{item.id}", headers={"If-None-Match": 'W/"anders"'}).status_code == 200
    page = client.get("/api/v1/listings")
    assert client.get("/api/v1/listings", headers={"If-None-Match": "W/" + page.headers["ETag"]}).status_code == 304


def test_if_match_compares_strongly(client, session):
    """A weak tag never satisfies If-Match (RFC 9110 13.1.1); the strong one does."""
    _o, secret = make_token(session)
    h = bearer(secret)
    lid = client.post("/api/v1/listings", json=f.listing_data(), headers=h).json["id"]
    etag = client.get(f"/api/v1/listings/{lid}", headers=h).headers["ETag"]
    weak = client.put(f"/api/v1/listings/{lid}", json=f.listing_data(title="Schwach"),
                      headers={**h, "If-Match": "W/" + etag})
    _assert_german_problem(weak, 412, "precondition-failed")
    strong = client.put(f"/api/v1/listings/{lid}", json=f.listing_data(title="Stark"), headers={**h, "If-Match": etag})
    assert strong.status_code == 200 and strong.json["title"] == "Stark"


def test_every_link_is_absolute(client, session):
    owner = f.user(session)
    coord = f.user(session, role="admin", ags=None)
    for n in range(3):
        f.listing(session, owner, publish_by=coord, title=f"Dienst absolut {n}")
    session.commit()
    page = client.get("/api/v1/listings?limit=2").json
    assert page["links"]["next"].startswith("http://localhost/")
    for item in page["items"]:
        assert set(item["links"]) == {"self", "page", "publiccode"}
        assert item["links"]["page"] == f"http://localhost/eintraege/{item['slug']}"
        for name in ("self", "publiccode"):
            assert item["links"][name].startswith("http://localhost/api/v1/listings/"), item["links"][name]
    one = client.get(page["items"][0]["links"]["self"])
    assert one.status_code == 200 and one.json["id"] == page["items"][0]["id"]


def test_facets_carry_code_name_and_count(client, session):
    owner = f.user(session)
    coord = f.user(session, role="admin", ags=None)
    f.listing(session, owner, publish_by=coord, kind="dienst")
    f.listing(session, owner, publish_by=coord, kind="dienst", phase="planned")
    session.commit()
    facets = client.get("/api/v1/listings?facets=true").json["facets"]
    assert facets["kind"] == [{"code": "dienst", "name": "Dienst", "count": 2}]
    assert {"code": "published", "name": "Veröffentlicht", "count": 2} in facets["status"]
    assert facets["phase"] == [{"code": "live", "name": "In Betrieb", "count": 1},
                               {"code": "planned", "name": "Geplant", "count": 1}]


def _operations(spec):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, op


def test_openapi_declares_problem_types_and_error_responses(client):
    spec = client.get("/api/v1/openapi.json").json
    declared = spec["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
    assert set(declared) == {p.uri for p in PROBLEM_TYPES.values()}
    responses = spec["components"]["responses"]
    for kind in PROBLEM_TYPES.values():
        examples = responses[f"Problem{kind.status}"]["content"]["application/problem+json"]["examples"]
        assert examples[kind.slug]["value"]["type"] == kind.uri
    for path, method, op in _operations(spec):
        codes = set(op["responses"])
        assert {"401", "429", "500"} <= codes, (path, method)
        if "{" in path:
            assert "404" in codes, (path, method)
        if "requestBody" in op:
            assert {"400", "415", "422"} <= codes, (path, method)
        assert "428" not in codes  # If-Match is optional here: 428 is never answered
        for code, resp in op["responses"].items():
            if code.startswith(("4", "5")):
                assert resp["$ref"] == f"#/components/responses/Problem{code}"


def test_every_operation_has_request_and_response_examples(client):
    spec = client.get("/api/v1/openapi.json").json
    for path, method, op in _operations(spec):
        for media in (op.get("requestBody") or {}).get("content", {}).values():
            assert "example" in media, (path, method)
        successes = [r for code, r in op["responses"].items() if code.startswith("2") and r.get("content")]
        for resp in successes:
            for media in resp["content"].values():
                assert "example" in media, (path, method)
        assert successes or "204" in op["responses"], (path, method)


def test_listing_request_example_is_valid_input(client, session):
    """The documented example of ListingInput is accepted as it is."""
    spec = client.get("/api/v1/openapi.json").json
    example = spec["paths"]["/api/v1/listings"]["post"]["requestBody"]["content"]["application/json"]["example"]
    _o, secret = make_token(session)
    assert client.post("/api/v1/listings", json=example, headers=bearer(secret)).status_code == 201


def test_docs_page_has_no_junk_rows_and_shows_shapes_and_problem_types(client):
    html = client.get("/api/v1/docs").data.decode()
    assert "<code>None</code>" not in html and ">None<" not in html
    assert "<code>If-None-Match</code>" in html and "<code>If-Match</code>" in html
    assert "ListingPage" in html and "items, links, facets" in html
    assert TYPE_PREFIX + "invalid-json" in html


def test_the_openapi_document_is_built_once_when_first_read(tmp_path):
    """create_app leaves the document to its first reader (it cost 0.1 s of every app);
    threads reading at once all get the whole document, examples and problems included."""
    from concurrent.futures import ThreadPoolExecutor

    from marktplatz import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "x", "TESTING": True,
                      "INDEX_DIR": str(tmp_path / "idx")})
    api = app.extensions["marktplatz_api"]
    assert len(api._pending_docs) >= 7 and api._finish_docs is not None  # nothing documented yet
    with ThreadPoolExecutor(4) as pool:
        docs = list(pool.map(lambda _: api.spec.to_dict(), range(4)))
    assert all(d == docs[0] for d in docs) and not api._pending_docs and api._finish_docs is None
    op = docs[0]["paths"]["/api/v1/listings"]["get"]
    assert "/api/v1/changes" in docs[0]["paths"] and "example" in op["responses"]["200"]["content"]["application/json"]
    assert op["responses"]["429"] == {"$ref": "#/components/responses/Problem429"}
