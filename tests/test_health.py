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
