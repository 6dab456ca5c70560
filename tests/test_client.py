"""The client package (clients/python) and the sync CLI against real gunicorn servers on 127.0.0.1.

Two servers: the app itself (a copy of the prepared SQLite database, with a tight search rate
limit to provoke its own 429s), and a scripted WSGI app (tests/client_retry_app.py) that
answers 429/502/503/504 with Retry-After on demand and logs every request it gets, so the
retries the client makes are counted on the server's side.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import signal
import subprocess
import sys
import time
import types
import typing
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from marktplatz_client import (
    ApiError,
    Change,
    ChangePage,
    Listing,
    MarktplatzClient,
    Municipality,
    OrgRef,
    PubliccodeResult,
    Reuse,
    StatusUpdate,
    SyncResult,
    SyncStep,
    SyncSummary,
    retry_policy,
)
from marktplatz_client import types as client_types
from urllib3 import HTTPResponse

from marktplatz import create_app
from marktplatz.cli.sync import sync_group
from tests import factories as f
from tests.live_server import ROOT, STARTED_SESSIONS, copy_sqlite, free_port, gunicorn, kill_group
from tests.search_support import copy_index, template_for

FIXTURES = Path(__file__).parent / "fixtures" / "publiccode"
CLIENT_SRC = ROOT / "clients" / "python" / "src" / "marktplatz_client"


@pytest.fixture(scope="module")
def server(database_urls, tmp_path_factory):
    """Serve a copy of the prepared SQLite database with gunicorn; yield (base URL, token).

    The server gets a copy of the prebuilt reference-data index, so its workers do not
    rebuild one of their own at start-up. Searches (q=) are limited to 1 a second, so a
    test can make the app answer 429 with its own Retry-After; no other test here searches.
    """
    tmp = tmp_path_factory.mktemp("gunicorn")
    url = copy_sqlite(database_urls["sqlite"], tmp / "server.db")
    copy_index(template_for("sqlite", database_urls["sqlite"], str(tmp_path_factory.getbasetemp())),
               str(tmp / "index"))
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x", "INDEX_DIR": str(tmp / "idx")})
    with app.app_context():
        from marktplatz.core.db import get_engine, get_session
        from marktplatz.services import tokens

        session = get_session()
        officer = f.user(session)
        secret = tokens.create_token(session, officer, officer.organisation, "Test", ["read", "write"])[1]
        session.commit()
        session.close()
        get_engine().dispose()
    with gunicorn(url, tmp, production_config=True, ready_path="/api/v1/openapi.json", ratelimit=True,
                  extra_env={"MARKTPLATZ_SEARCH_RATELIMIT": "1/second"}) as server:
        yield server.url, secret


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    """Serve tests/client_retry_app.py with gunicorn (one sync worker: one script for all); yield its URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("scripted") / "gunicorn.log"
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "/dev/null", "--no-control-socket", "-b",
             f"127.0.0.1:{port}", "-w", "1", "-k", "sync", "tests.client_retry_app:app"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    STARTED_SESSIONS.add(proc.pid)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert proc.poll() is None, log_path.read_text()
            try:
                if requests.get(base + "/_log", params={"path": "/"}, timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("the scripted server did not start:\n" + log_path.read_text())
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        kill_group(proc.pid)
        proc.wait(timeout=10)


def script(base, path, *responses):
    """Make the scripted server answer the next requests of path with responses, in order."""
    requests.post(base + "/_script", json={"path": path, "responses": list(responses)}, timeout=10).raise_for_status()


def served(base, path):
    """Return the requests the scripted server got for path: [{"method", "t", "query"}]."""
    return requests.get(base + "/_log", params={"path": path}, timeout=10).json()


def problem(status, **extra):
    """Return a scripted problem+json answer."""
    return {"status": status, "body": {"type": "urn:marktplatz:problem:unavailable", "title": "Nicht verfügbar",
                                       "status": status, "detail": f"Skript {status}"}, **extra}


SYNC_OK = {"status": 200, "body": {
    "results": [{"index": 0, "external_id": "a", "result": "created", "id": 1, "status": "draft",
                 "url": "u", "page_url": "p", "step": None, "errors": {}}],
    "archived": [], "summary": {"created": 1, "updated": 0, "unchanged": 0, "error": 0, "archived": 0}}}


def items(n, prefix="c"):
    """Return n valid sync items."""
    return [f.listing_data(title=f"Eintrag {prefix} {i}", external_id=f"{prefix}-{i}") for i in range(n)]


def test_client_pushes_in_batches_and_is_idempotent(server):
    """Pushing 600 items makes two requests; pushing again reports all unchanged."""
    base, token = server
    client = MarktplatzClient(base, token=token)
    first = client.push_listings(items(600, "batch"))
    assert first["summary"]["created"] == 600 and first["results"][599]["index"] == 599
    again = client.push_listings(items(600, "batch"))
    assert again["summary"]["unchanged"] == 600


def test_client_paginates_and_raises_problems(server):
    """paginate follows links.next; errors raise ApiError with the problem body."""
    base, token = server
    client = MarktplatzClient(base, token=token)
    lands = list(client.paginate("municipalities", land="13", limit=100))
    assert len(lands) > 100 and len({m["id"] for m in lands}) == len(lands)
    with pytest.raises(ApiError) as err:
        client.request("GET", "listings/999999")
    assert err.value.status == 404 and err.value.problem["status"] == 404
    with pytest.raises(ApiError) as err:
        MarktplatzClient(base, token="mpk_bad_bad").get("listings")
    assert err.value.status == 401


def test_client_retries_connection_errors(caplog):
    """Connection failures are retried (any method: nothing reached a server) and finally raised."""
    client = MarktplatzClient(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01)
    with caplog.at_level(logging.WARNING, "marktplatz_client"), pytest.raises(requests.ConnectionError):
        client.request("POST", "listings", json={})
    retries = [r.getMessage() for r in caplog.records if r.name == "marktplatz_client"]
    assert len(retries) == 2 and all(m.startswith("POST ") and "failed" in m for m in retries), retries


def test_cli_push_json_and_publiccode_and_pull_resumes(server, tmp_path):
    """sync push sends a JSON batch and a publiccode.yml; sync pull resumes from its cursor."""
    base, token = server
    runner = CliRunner()
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"items": items(3, "cli")}), encoding="utf-8")
    res = runner.invoke(sync_group, ["push", str(batch), "--api", base, "--token", token])
    assert res.exit_code == 0, res.output
    assert "created=3" in res.output
    res = runner.invoke(sync_group, ["push", str(batch), "--api", base, "--token", token])
    assert "unchanged=3" in res.output
    res = runner.invoke(sync_group, ["push", str(batch), "--api", base, "--token", token, "--then", "submit"])
    assert res.exit_code == 0 and "unchanged=3" in res.output and "submitted=3" in res.output, res.output
    listed = MarktplatzClient(base, token=token).push_listings(items(3, "cli"), then="submit")
    assert {r["status"] for r in listed["results"]} == {"in_review"}
    assert all(r["url"].startswith(base) and r["step"]["done"] is None for r in listed["results"])
    yml = FIXTURES / "_official_example_v0.7__publiccode.yml"
    res = runner.invoke(sync_group, ["push", str(yml), "--api", base, "--token", token])
    assert res.exit_code == 0 and res.output.startswith("created"), res.output

    out = tmp_path / "changes.jsonl"
    res = runner.invoke(sync_group, ["pull", "--api", base, "--token", token, "--out", str(out), "--limit", "50"])
    assert res.exit_code == 0, res.output
    first = out.read_text().splitlines()
    assert len(first) >= 4 and (tmp_path / "changes.jsonl.cursor").read_text()
    MarktplatzClient(base, token=token).push_listings(items(2, "later"))
    res = runner.invoke(sync_group, ["pull", "--api", base, "--token", token, "--out", str(out)])
    lines = out.read_text().splitlines()
    new = [json.loads(line) for line in lines[len(first):]]
    assert len(new) == 2 and all(c["op"] == "created" for c in new)
    assert sorted(c["entity"]["title"] for c in new) == ["Eintrag later 0", "Eintrag later 1"]
    assert not any(c["tombstone"] for c in new)
    ids = [json.loads(line)["id"] for line in lines]
    assert len(ids) == len(set(ids))


def test_client_mirrors_a_municipality_through_the_feed_with_entities(server):
    """Walking include=entity for one municipality gives the listings its list shows, page by page."""
    base, token = server
    client = MarktplatzClient(base, token=token)
    client.push_listings(items(3, "mirror"))
    mirror: dict[int, dict] = {}
    pages = list(client.iter_change_pages(None, 1000, include_entity=True, ags=f.FREIBURG, entity_type="listing"))
    assert pages and all(len(p["items"]) <= 100 for p in pages)  # the client keeps to the page bound
    for page in pages:
        for change in page["items"]:
            assert change["entity_type"] == "listing" and change["organisation_id"] is not None
            if change["tombstone"]:
                mirror.pop(change["entity_id"], None)
            else:
                mirror[change["entity_id"]] = change["entity"]
    listed = {item["id"]: item for item in client.paginate("listings", ags=f.FREIBURG, limit=100)}
    assert len(listed) >= 3 and set(mirror) == set(listed)
    assert {i: m["title"] for i, m in mirror.items()} == {i: m["title"] for i, m in listed.items()}
    with pytest.raises(ApiError) as err:
        client.changes_page(network="gibt-es-nicht")
    assert err.value.status == 422 and "network" in err.value.problem["errors"]


# --- retries, against the scripted server -------------------------------------------------


def retry_messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "marktplatz_client"]


def test_a_503_is_retried_after_its_retry_after(scripted, caplog):
    """GET answered 503 with Retry-After: 1 is sent again, not before the second is over."""
    script(scripted, "/api/v1/listings", problem(503, headers={"Retry-After": "1"}),
           {"status": 200, "body": {"items": [{"id": 7}], "links": {"next": None}}})
    client = MarktplatzClient(scripted, retries=3, backoff=0.01)  # without Retry-After: at once
    with caplog.at_level(logging.WARNING, "marktplatz_client"):
        assert client.get("listings") == {"items": [{"id": 7}], "links": {"next": None}}
    got = served(scripted, "/api/v1/listings")
    assert [g["method"] for g in got] == ["GET", "GET"]
    assert got[1]["t"] - got[0]["t"] >= 1.0  # the wait the server asked for (a lower bound only)
    assert len(retry_messages(caplog)) == 1 and "answered 503" in retry_messages(caplog)[0]


def test_a_429_on_the_sync_endpoint_is_retried_after_its_retry_after(scripted):
    """POST /sync/listings is an idempotent upsert: a 429 is retried after Retry-After (an HTTP date too)."""
    later = email.utils.formatdate(time.time() + 4, usegmt=True)  # still >= 2 s ahead after the first wait
    script(scripted, "/api/v1/sync/listings", problem(429, headers={"Retry-After": "1"}),
           problem(429, headers={"Retry-After": later}), SYNC_OK)
    summary = MarktplatzClient(scripted, retries=3, backoff=0.01).push_listings([{"external_id": "a"}])
    assert summary["summary"]["created"] == 1 and summary["results"][0]["id"] == 1
    got = served(scripted, "/api/v1/sync/listings")
    assert [g["method"] for g in got] == ["POST"] * 3
    assert got[1]["t"] - got[0]["t"] >= 1.0 and got[2]["t"] - got[1]["t"] >= 1.0


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_on_the_sync_endpoints_are_retried(scripted, status):
    """502/503/504 without Retry-After: retried with backoff, for both sync endpoints."""
    script(scripted, "/api/v1/sync/listings", problem(status), problem(status), SYNC_OK)
    client = MarktplatzClient(scripted, retries=3, backoff=0.01)
    assert client.push_listings([{"external_id": "a"}])["summary"]["created"] == 1
    assert len(served(scripted, "/api/v1/sync/listings")) == 3
    script(scripted, "/api/v1/sync/publiccode", problem(status),
           {"status": 200, "body": {"result": "created", "listing": {"id": 3}, "warnings": []}})
    assert client.push_publiccode("name: x")["result"] == "created"
    assert len(served(scripted, "/api/v1/sync/publiccode")) == 2


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_requests_that_could_act_twice_are_sent_once(scripted, method):
    """POST outside /sync/ and PATCH are never repeated: a 503 comes back at once as ApiError."""
    script(scripted, "/api/v1/listings/5", problem(503, headers={"Retry-After": "1"}), {"status": 200})
    client = MarktplatzClient(scripted, retries=3, backoff=0.01)
    with pytest.raises(ApiError) as err:
        client.request(method, "listings/5", json={"title": "x"})
    assert err.value.status == 503 and err.value.problem["detail"] == "Skript 503"
    assert [g["method"] for g in served(scripted, "/api/v1/listings/5")] == [method]


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_idempotent_methods_are_retried(scripted, method):
    """PUT and DELETE are idempotent: a 503 is retried."""
    script(scripted, "/api/v1/listings/6", problem(503), {"status": 200, "body": {"id": 6}})
    resp = MarktplatzClient(scripted, retries=3, backoff=0.01).request(method, "listings/6", json={})
    assert resp.json() == {"id": 6}
    assert [g["method"] for g in served(scripted, "/api/v1/listings/6")] == [method, method]


def test_when_the_retries_are_spent_the_last_problem_is_raised(scripted, caplog):
    """retries=2: three attempts, then ApiError with the server's problem+json, not a urllib3 error."""
    script(scripted, "/api/v1/changes", problem(503))
    client = MarktplatzClient(scripted, retries=2, backoff=0.01)
    with caplog.at_level(logging.WARNING, "marktplatz_client"), pytest.raises(ApiError) as err:
        client.changes_page()
    assert err.value.status == 503 and err.value.problem["type"] == "urn:marktplatz:problem:unavailable"
    assert "Skript 503" in str(err.value)
    assert len(served(scripted, "/api/v1/changes")) == 3 and len(retry_messages(caplog)) == 2


def test_other_errors_are_answers_not_retried(scripted):
    """A 422 (or a 500) is raised at once with its problem; a body that is no problem gives problem {}."""
    script(scripted, "/api/v1/changes", {"status": 422, "body": {
        "type": "urn:marktplatz:problem:validation", "title": "Ungültig", "status": 422,
        "errors": {"after": ["Ungültiger Cursor."]}}})
    client = MarktplatzClient(scripted, retries=3, backoff=0.01)
    with pytest.raises(ApiError) as err:
        client.changes_page(after="kaputt")
    assert err.value.status == 422 and err.value.problem["errors"] == {"after": ["Ungültiger Cursor."]}
    assert len(served(scripted, "/api/v1/changes")) == 1
    script(scripted, "/api/v1/changes", {"status": 500, "body": ["kein", "Problem"], "type": "text/plain"})
    with pytest.raises(ApiError) as err:
        client.changes_page()
    assert err.value.status == 500 and err.value.problem == {} and "kein" in str(err.value)
    assert len(served(scripted, "/api/v1/changes")) == 1


def test_retry_after_is_capped_at_max_backoff():
    """A Retry-After beyond max_backoff (seconds or a date) is cut to max_backoff; backoff grows to it."""
    policy = retry_policy(5, 0.5, 2.0)
    for value in ("3600", email.utils.formatdate(time.time() + 3600, usegmt=True)):
        assert policy.get_retry_after(HTTPResponse(status=429, headers={"Retry-After": value})) == 2.0
    assert policy.get_retry_after(HTTPResponse(status=503, headers={"Retry-After": "1"})) == 1.0
    assert policy.get_retry_after(HTTPResponse(status=503)) is None
    waits = []
    for _ in range(5):
        policy = policy.increment("GET", "/api/v1/listings", response=HTTPResponse(status=503))
        waits.append(policy.get_backoff_time())
    assert waits[0] == 0 and 1.0 <= waits[1] <= 1.5 and waits[3:] == [2.0, 2.0]  # at once, 0.5·2 + jitter, cap
    assert 413 not in policy.RETRY_AFTER_STATUS_CODES  # a too-large body stays too large


def test_pagination_follows_links_on_the_clients_server_and_survives_a_503(scripted):
    """links.next naming another host is followed on base_url (token and retries stay); a 503 mid-walk is retried."""
    script(scripted, "/api/v1/municipalities",
           {"status": 200, "body": {"items": [{"id": 1}, {"id": 2}],
                                    "links": {"next": "https://public.example/api/v1/municipalities?after=2"}}},
           problem(503),
           {"status": 200, "body": {"items": [{"id": 3}], "links": {"next": None}}})
    client = MarktplatzClient(scripted, retries=3, backoff=0.01)
    assert [m["id"] for m in client.paginate("municipalities", limit=2)] == [1, 2, 3]
    assert [g["query"] for g in served(scripted, "/api/v1/municipalities")] == ["limit=2", "after=2", "after=2"]


# --- against the app ----------------------------------------------------------------------


def test_the_apps_own_429_is_waited_out(server, caplog):
    """Searches beyond the app's 1/second answer 429 with Retry-After; the client waits and gets its answer."""
    base, token = server
    client = MarktplatzClient(base, token=token, retries=5, backoff=0.2)
    with caplog.at_level(logging.WARNING, "marktplatz_client"):
        for _ in range(20):  # two in the same second are enough; 20 so a slow server gets there too
            page = client.get("listings", q="Eintrag", limit=1)
            assert set(page) >= {"items", "links"}
            if any("answered 429" in m for m in retry_messages(caplog)):
                break
    assert any("GET " in m and "/api/v1/listings" in m and "answered 429" in m for m in retry_messages(caplog))


def test_the_feed_pages_walk_to_the_end_and_resume(server):
    """iter_change_pages walks real pages of `limit` until caught up; the last next_cursor resumes."""
    base, token = server
    client = MarktplatzClient(base, token=token)
    end = None
    for page in client.iter_change_pages(None, 1000):  # to the end of what the module wrote so far
        end = page["next_cursor"]
    created = client.push_listings(items(7, "walk"))["results"]
    pages = list(client.iter_change_pages(end, 3, entity_type="listing"))
    assert [len(p["items"]) for p in pages] == [3, 3, 1]
    walked = [c for p in pages for c in p["items"]]
    assert [c["entity_id"] for c in walked] == [r["id"] for r in created]
    assert [c["cursor"] for c in walked[2::3]] == [p["next_cursor"] for p in pages[:2]]
    assert list(client.iter_changes(end, 1000, entity_type="listing")) == walked
    assert list(client.iter_changes(pages[-1]["next_cursor"])) == []  # caught up
    client.push_listings(items(2, "walk2"))
    more = list(client.iter_changes(pages[-1]["next_cursor"], 3, entity_type="listing"))
    assert [c["op"] for c in more] == ["created", "created"]


# --- typed results ------------------------------------------------------------------------

#: Each TypedDict of the client and the OpenAPI component it types.
TYPED = {
    client_types.Links: "Links", OrgRef: "OrgRef", Municipality: "Municipality", Listing: "ListingOut",
    client_types.ReuseStageChange: "ReuseStageChange", Reuse: "ReuseOut", StatusUpdate: "StatusUpdateOut",
    Change: "Change", ChangePage: "ChangePage", SyncStep: "SyncStep", SyncResult: "SyncItemResult",
    SyncSummary: "SyncResponse", client_types.PubliccodeWarning: "PubliccodeWarning",
    PubliccodeResult: "PubliccodeResult", client_types.Problem: "Problem",
}
ENTITY_TYPES = {"listing": Listing, "reuse": Reuse, "organisation": Municipality, "status_update": StatusUpdate}


def conform(value, tp, where="$"):
    """Return where value differs from the type tp (TypedDicts, unions, Literal, list, dict, scalars)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is typing.Any:
        return []
    if typing.is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        hints = typing.get_type_hints(tp)
        out = [f"{where}.{k}: missing" for k in tp.__required_keys__ if k not in value]
        return out + [e for k, v in value.items() if k in hints for e in conform(v, hints[k], f"{where}.{k}")]
    if origin in (typing.Union, types.UnionType):
        tried = [conform(value, a, where) for a in args]
        return [] if any(not t for t in tried) else [f"{where}: {value!r:.80} matches none of {tp}"]
    if origin is typing.Literal:
        return [] if value in args else [f"{where}: {value!r} not in {args}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [e for i, v in enumerate(value) for e in conform(v, args[0], f"{where}[{i}]")]
    if origin is dict or tp is dict:
        return [] if isinstance(value, dict) else [f"{where}: not an object"]
    if tp is type(None):
        return [] if value is None else [f"{where}: not null"]
    ok = isinstance(value, tp) and not (tp is int and isinstance(value, bool))
    return [] if ok else [f"{where}: {value!r:.80} is no {tp.__name__}"]


def test_the_typed_results_declare_what_the_openapi_document_says(server):
    """Each TypedDict has the keys of its OpenAPI component (server side changes show up here)."""
    base, _ = server
    components = MarktplatzClient(base).get("openapi.json")["components"]["schemas"]
    for tp, name in TYPED.items():
        assert set(typing.get_type_hints(tp)) == set(components[name]["properties"]), name
    entity = components["Change"]["properties"]["entity"]["anyOf"]
    assert {e["$ref"].rsplit("/", 1)[1] for e in entity} == {TYPED[t] for t in ENTITY_TYPES.values()}


def test_what_the_client_returns_has_its_declared_types(server):
    """Real answers conform: sync summary, publiccode result, feed pages with each kind of entity."""
    base, token = server
    client = MarktplatzClient(base, token=token)
    summary = client.push_listings([*items(2, "typed"), {"external_id": "typed-bad", "kind": "hund"}], then="submit")
    assert conform(summary, SyncSummary) == [] and summary["summary"]["error"] == 1
    assert summary["results"][0]["step"]["requested"] == "submit"
    client.request("POST", f"listings/{summary['results'][0]['id']}/status-updates",
                   json={"title": "Jetzt in Prüfung", "body": "Bitte ansehen."})
    imported = client.push_publiccode((FIXTURES / "_official_example_v0.7__publiccode.yml").read_bytes())
    assert conform(imported, PubliccodeResult) == []
    seen = set()
    for page in client.iter_change_pages(None, 100, include_entity=True):
        assert conform(page, ChangePage) == []
        for change in page["items"]:
            if change["entity"] is not None:
                assert conform(change["entity"], ENTITY_TYPES[change["entity_type"]]) == [], change["entity_type"]
                seen.add(change["entity_type"])
    assert {"listing", "status_update"} <= seen
    with pytest.raises(ApiError) as err:
        client.changes_page(ags="kaputt")
    assert conform(err.value.problem, client_types.Problem) == [] and "ags" in err.value.problem["errors"]


# --- the package --------------------------------------------------------------------------


def test_the_client_package_imports_no_flask_sqlalchemy_or_marktplatz(tmp_path):
    """Importing marktplatz_client (and using it) loads none of the server's frameworks."""
    code = (
        "import json, sys, importlib.metadata as md\n"
        "import marktplatz_client\n"
        "marktplatz_client.MarktplatzClient('http://127.0.0.1:9', token='x')\n"
        "print(json.dumps({'file': marktplatz_client.__file__, 'version': md.version('marktplatz-client'),\n"
        "  'requires': md.requires('marktplatz-client'),\n"
        "  'server': sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "      {'flask', 'sqlalchemy', 'marktplatz', 'werkzeug', 'whoosh', 'marshmallow', 'click'})}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    out = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, env=env, capture_output=True,
                         text=True, check=True).stdout
    found = json.loads(out)
    assert found["server"] == []
    assert Path(found["file"]).resolve().parent == CLIENT_SRC  # the package of clients/python, installed
    assert found["version"] == __import__("marktplatz_client").__version__
    assert sorted(r.split(">")[0].split("<")[0] for r in found["requires"]) == ["requests", "urllib3"]
