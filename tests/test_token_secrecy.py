"""API tokens never appear in logs (app logs and gunicorn's access log) and are hashed at rest."""

from __future__ import annotations

import logging
from datetime import timedelta

import requests
from sqlalchemy import select

from marktplatz.models import ApiToken, Base, utcnow
from marktplatz.services import tokens
from tests import factories as f
from tests.live_server import gunicorn


def _token_calls(call, secret: str, revoked: str) -> list[int]:
    """Use a token the ways a client does (good, refused, malformed, revoked, in the query); return statuses."""
    h = {"Authorization": f"Bearer {secret}"}
    codes = [
        call("GET", "/api/v1/listings", headers=h),
        call("POST", "/api/v1/listings", headers=h, json=f.listing_data()),
        call("POST", "/api/v1/listings", headers=h, json={"title": "x"}),  # 422
        call("GET", "/api/v1/listings/999999", headers=h),  # 404
        call("GET", "/api/v1/listings", headers={"Authorization": f"Bearer {secret}x"}),  # unknown: 401
        call("GET", "/api/v1/listings", headers={"Authorization": f"Token {secret}"}),  # wrong scheme
        call("GET", "/api/v1/listings", headers={"Authorization": f"Bearer {revoked}"}),  # revoked: 401
    ]
    return codes


def _make_tokens(session) -> tuple[str, str]:
    officer = f.user(session, "officer", f.FREIBURG)
    _t, secret = tokens.create_token(session, officer, officer.organisation, "Geheim", ["read", "write"],
                                     expires_at=utcnow() + timedelta(days=30))
    row, revoked = tokens.create_token(session, officer, officer.organisation, "Alt", ["read"])
    tokens.revoke_token(session, officer, row.id)
    session.commit()
    return secret, revoked


def test_token_not_in_app_logs(app, client, session, caplog):
    """Creating and using tokens (also failing calls) logs no secret at any level."""
    caplog.set_level(logging.DEBUG)
    secret, revoked = _make_tokens(session)

    def call(method, path, **kw):
        return client.open(path, method=method, **kw).status_code

    codes = _token_calls(call, secret, revoked)
    assert codes[:4] == [200, 201, 422, 404] and codes[4] == 401 and codes[6] == 401
    assert caplog.records, "expected some log records to check"
    for s in (secret, revoked, secret.split("_", 2)[2]):
        assert s not in caplog.text
        for record in caplog.records:
            assert s not in record.getMessage() and s not in repr(record.args)


def test_token_not_in_gunicorn_access_or_error_log(app, session, tmp_path):
    """Through a real gunicorn with the production config, the access and error logs hold no secret."""
    secret, revoked = _make_tokens(session)
    access = tmp_path / "access.log"
    env = {"GUNICORN_ACCESSLOG": str(access), "MARKTPLATZ_INDEX_DIR": app.config["INDEX_DIR"]}
    with gunicorn(app.config["DATABASE_URL"], tmp_path, workers=1, extra_env=env, production_config=True,
                  ready_path="/api/v1/openapi.json") as server:
        def call(method, path, **kw):
            return requests.request(method, server.url + path, timeout=30, **kw).status_code

        codes = _token_calls(call, secret, revoked)
    assert codes[:4] == [200, 201, 422, 404]
    log_text = access.read_text() + server.log()
    assert log_text.count("/api/v1/listings") >= 6, "the access log did not record the calls"
    for s in (secret, revoked, secret.split("_", 2)[2]):
        assert s not in log_text


def test_token_hashed_at_rest_in_every_table(client, session):
    """After creating and using tokens no column of any table holds a secret; api_token holds its sha256."""
    secret, revoked = _make_tokens(session)
    assert client.post("/api/v1/listings", json=f.listing_data(),
                       headers={"Authorization": f"Bearer {secret}"}).status_code == 201
    session.expire_all()
    rows = session.scalars(select(ApiToken)).all()
    assert {r.token_hash for r in rows} == {tokens.hash_token(secret), tokens.hash_token(revoked)}
    dump = []
    for table in Base.metadata.sorted_tables:
        dump.extend(repr(tuple(r)) for r in session.execute(select(table)).all())
    text = "\n".join(dump)
    assert tokens.hash_token(secret) in text  # the dump really covers api_token
    for s in (secret, revoked, secret.split("_", 2)[2], revoked.split("_", 2)[2]):
        assert s not in text
