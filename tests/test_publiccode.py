"""publiccode.yml: fixtures import, invalid files name the field, export round-trips, fuzzing."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marktplatz.services import publiccode
from marktplatz.services.errors import Invalid
from marktplatz.views.api import cursor, mergepatch
from tests import factories as f
from tests.test_api_core import bearer, make_token

FIXTURES = Path(__file__).parent / "fixtures" / "publiccode"
VALID = sorted(FIXTURES.glob("_official_example_*.yml")) + sorted((FIXTURES / "parser-testdata" / "valid").glob("*.yml")) \
    + sorted((FIXTURES / "parser-testdata" / "valid_with_warnings").glob("*.yml"))
INVALID = sorted((FIXTURES / "parser-testdata" / "invalid").glob("*.yml"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_files_parse(path):
    """Every official example and valid parser fixture validates."""
    data, _warnings = publiccode.parse(path.read_bytes())
    assert data["name"]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_files_the_parser_calls_invalid_import_with_warnings(path):
    """The reference parser's invalid fixtures still make a listing; each deviation is a warning
    (the full table with the expected paths: tests/test_publiccode_tolerant.py)."""
    _data, warnings = publiccode.parse(path.read_bytes())
    assert warnings


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_import_and_export_round_trip(client, session, path):
    """Importing through the API creates a component; its export is valid and re-imports unchanged."""
    _o, secret = make_token(session)
    h = {**bearer(secret), "Content-Type": "application/yaml"}
    resp = client.post("/api/v1/sync/publiccode", data=path.read_bytes(), headers=h)
    assert resp.status_code == 200, resp.json
    assert resp.json["result"] == "created" and resp.json["listing"]["kind"] == "komponente"
    lid = resp.json["listing"]["id"]
    exported = client.get(f"/api/v1/listings/{lid}/publiccode.yml", headers=bearer(secret))
    assert exported.status_code == 200 and exported.mimetype == "application/yaml"
    data, _ = publiccode.parse(exported.data)
    assert data["name"] == resp.json["listing"]["title"]
    again = client.post("/api/v1/sync/publiccode", data=path.read_bytes(), headers=h)
    assert again.json["result"] == "unchanged"


def test_api_import_reports_field_paths(client, session):
    """A tolerated deviation is a warning by path; a refused upload answers 422 with the path."""
    _o, secret = make_token(session)
    h = {**bearer(secret), "Content-Type": "application/yaml"}
    body = (FIXTURES / "parser-testdata" / "invalid" / "developmentStatus_invalid.yml").read_bytes()
    resp = client.post("/api/v1/sync/publiccode", data=body, headers=h)
    assert resp.status_code == 200 and [w["path"] for w in resp.json["warnings"]] == ["developmentStatus"]
    assert resp.json["listing"]["phase"] is None
    resp = client.post("/api/v1/sync/publiccode", data=body.replace(b"url:", b"nourl:"), headers=h)
    assert resp.status_code == 422 and "url" in resp.json["errors"]


def test_export_of_minimal_listing_is_valid(session):
    """Even a listing without licence or repository exports as valid publiccode.yml."""
    owner = f.user(session)
    item = f.listing(session, owner, kind="komponente", licence=None)
    assert publiccode.parse(publiccode.export_yaml(item, "http://127.0.0.1:5000"))[1] == []


@pytest.fixture
def file_server():
    """Serve the fixtures directory on a free 127.0.0.1 port."""
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(FIXTURES), **kw)  # noqa: E731
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_import_from_url_is_ssrf_safe(app, client, session, file_server):
    """Fetching from loopback is refused unless allow-listed; allowed, the file imports."""
    _o, secret = make_token(session)
    url = f"{file_server}/_official_example_v0.7__publiccode.yml"
    refused = client.post("/api/v1/sync/publiccode", json={"url": url}, headers=bearer(secret))
    assert refused.status_code == 422 and "url" in refused.json["errors"]
    app.config["OUTBOUND_ALLOWLIST"] = "127.0.0.1"
    ok = client.post("/api/v1/sync/publiccode", json={"url": url}, headers=bearer(secret))
    assert ok.status_code == 200, ok.json


def test_web_upload(client, session, auth):
    """An officer uploads a publiccode.yml through the web form."""
    import io

    officer = f.user(session)
    auth.login(officer.email)
    body = (FIXTURES / "_official_example_v0.4.0__publiccode.yml").read_bytes()
    resp = client.post("/konto/publiccode", data={"file": (io.BytesIO(body), "publiccode.yml")},
                       content_type="multipart/form-data")
    assert resp.status_code == 200 and "angelegt" in resp.get_data(as_text=True)
    bad = body.replace(b"\nurl:", b"\nnourl:")
    resp = client.post("/konto/publiccode", data={"file": (io.BytesIO(bad), "publiccode.yml")},
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and b"<code>url</code>" in resp.data and b"abgelehnt" in resp.data


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400) | st.binary(max_size=400))
def test_parser_never_crashes_on_text(raw):
    """Any input either parses or raises Invalid."""
    try:
        publiccode.parse(raw)
    except Invalid as err:
        assert err.errors


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["publiccodeYmlVersion", "name", "url", "platforms", "categories",
                                        "developmentStatus", "softwareType", "description", "legal",
                                        "maintenance", "localisation", "landingURL"]), json_values))
def test_validator_never_crashes_on_structures(data):
    """Any mapping either validates or raises Invalid with field paths."""
    try:
        publiccode.validate(data)
    except Invalid as err:
        assert all(isinstance(k, str) for k in err.errors)


@given(json_values, json_values)
def test_merge_patch_rfc7396_properties(target, patch):
    """A merge patch sets every non-null member and removes null members (RFC 7396)."""
    result = mergepatch.apply(target, patch)
    if isinstance(patch, dict):
        assert isinstance(result, dict)
        for key, value in patch.items():
            if value is None:
                assert key not in result
            elif not isinstance(value, dict):
                assert result[key] == value
        assert mergepatch.apply(result, patch) == result  # idempotent
    else:
        assert result == patch


@given(st.text(max_size=80))
def test_cursor_decoding_rejects_garbage(raw):
    """Decoding arbitrary text yields a tuple of ints or CursorError, never anything else."""
    for arity in (1, 2):
        try:
            values = cursor.decode(raw, arity)
        except cursor.CursorError:
            continue
        assert len(values) == arity and all(0 <= v <= cursor.MAX_PART for v in values)


@given(st.lists(st.integers(min_value=0, max_value=cursor.MAX_PART), min_size=1, max_size=3))
def test_cursor_round_trip(parts):
    """Encoding then decoding a cursor gives back the same integers."""
    assert cursor.decode(cursor.encode(*parts), len(parts)) == tuple(parts)


# Page and form behaviour does not depend on the database; the database tests run on both.
pytestmark = pytest.mark.sqlite_only


# --------------------------------------------------------------------------- hostile YAML

LAUGHS = "\n".join(
    ['publiccodeYmlVersion: "0.4"', 'name: lol', 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [{','.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    + ["categories: [*i]"]  # str() of this category in the error message built 10^9 strings
) + "\n"


def _only_file_error(raw: str) -> str:
    with pytest.raises(Invalid) as err:
        publiccode.parse(raw)
    assert list(err.value.errors) == ["publiccode.yml"], err.value.errors
    return err.value.errors["publiccode.yml"][0]


def test_billion_laughs_is_refused():
    """A few hundred bytes of nested aliases (10^9 elements once expanded) are refused before
    anything is built, with a German error on the file."""
    assert len(LAUGHS) < 600
    assert "Verweise" in _only_file_error(LAUGHS)


@pytest.mark.parametrize("raw,line", [("name: &n x\nother: *n\n", 2), ("base: &b {a: 1}\nitem:\n  <<: *b\n  c: 2\n", 3)])
def test_yaml_aliases_are_refused(raw, line):
    """Every alias is refused, merge keys too (they need one); the line is named."""
    message = _only_file_error(raw)
    assert "nicht erlaubt" in message and f"Zeile {line}" in message


def test_yaml_node_count_and_depth_are_bounded():
    """A file of more than MAX_NODES nodes, or nested deeper than MAX_DEPTH, is refused."""
    flat = "name: x\nlist: [" + ",".join(["0"] * publiccode.MAX_NODES) + "]\n"
    assert "Elemente" in _only_file_error(flat)
    deep = "name: x\nnest: " + "[" * (publiccode.MAX_DEPTH + 5) + "]" * (publiccode.MAX_DEPTH + 5) + "\n"
    assert "verschachtelt" in _only_file_error(deep)
    ok = "name: x\nlist: [" + ",".join(["0"] * 1000) + "]\n"
    assert publiccode.load_yaml(ok)["list"] == [0] * 1000


def test_errors_never_print_a_parsed_structure():
    """A warning or error names a list or mapping by its kind, not by str() of its content."""
    big = [[["lol"] * 50] * 50]
    with pytest.raises(Invalid) as err:
        publiccode.validate({"publiccodeYmlVersion": "0.4", "name": "x", "categories": big, "description": big})
    assert all("lol" not in m for msgs in err.value.errors.values() for m in msgs)
    doc = {"name": "x", "url": "https://example.org/x", "categories": big,
           "description": {"de": {"shortDescription": "Eine kurze Beschreibung."}}}
    warnings = publiccode.validate(doc)
    assert {"path": "categories[0]",
            "message": "Unbekannte Kategorie '(eine Liste)'; wird nicht als Schlagwort übernommen."} in warnings
