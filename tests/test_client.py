"""The sync client and CLI against a real gunicorn server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from marktplatz_client import ApiError, MarktplatzClient

from marktplatz import create_app
from marktplatz.cli.sync import sync_group
from tests import factories as f
from tests.live_server import copy_sqlite, gunicorn
from tests.search_support import copy_index, template_for

FIXTURES = Path(__file__).parent / "fixtures" / "publiccode"


@pytest.fixture(scope="module")
def server(database_urls, tmp_path_factory):
    """Serve a copy of the prepared SQLite database with gunicorn; yield (base URL, token).

    The server gets a copy of the prebuilt reference-data index, so its workers do not
    rebuild one of their own at start-up.
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
    with gunicorn(url, tmp, production_config=True, ready_path="/api/v1/openapi.json", ratelimit=True) as server:
        yield server.url, secret


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


def test_client_retries_connection_errors():
    """Connection failures are retried with backoff and finally raised."""
    import requests

    client = MarktplatzClient("http://127.0.0.1:9", retries=2, backoff=0.01)
    with pytest.raises(requests.ConnectionError):
        client.get("listings")


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
