"""GET /healthz reports database, queue and change-log figures."""

from __future__ import annotations

from . import factories as f


def test_healthz_reports_ok_and_figures(client, session):
    """A healthy app answers 200 with database, queue and change-log sections."""
    officer = f.user(session, "officer", f.FREIBURG)
    f.listing(session, officer)
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok" and body["database"]["ok"] is True
    assert body["queue"] == {"webhook_pending": 0, "oldest_due_seconds": None}
    assert body["change_log"]["head"] >= 1
    assert resp.headers["Cache-Control"] == "no-store"


def test_healthz_reports_the_real_index_lag(client, session):
    """A committed write the worker has not applied shows as lag; one worker round clears it."""
    from tests.search_support import follow

    officer = f.user(session, "officer", f.FREIBURG)
    f.listing(session, officer)
    body = client.get("/healthz").get_json()
    assert body["change_log"]["lag"]["search_index"] > 0
    assert body["index"]["lag_rows"] == body["change_log"]["lag"]["search_index"]
    assert body["index"]["lag_seconds"] >= 0
    assert follow() > 0
    body = client.get("/healthz").get_json()
    assert body["change_log"]["lag"] == {"search_index": 0}
    assert body["index"]["lag_rows"] == 0 and body["index"]["lag_seconds"] == 0
    assert body["index"]["worker_seen_seconds"] is not None and body["index"]["worker_seen_seconds"] < 60


def test_healthz_answers_without_an_index(client, session, app):
    """With the index gone (worker down) the health check still answers and says so."""
    import shutil

    shutil.rmtree(app.config["INDEX_DIR"])
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["index"]["exists"] is False and body["index"]["lag_rows"] is None
