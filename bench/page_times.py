"""Measure server time per page with the demo data (Flask test client, median of N runs).

Usage: MARKTPLATZ_DATABASE_URL=sqlite:///path/demo.db python bench/page_times.py [runs]
The database must hold the demo (`marktplatz data setup`). Prints median and max in ms.
"""

from __future__ import annotations

import statistics
import sys
import time

from sqlalchemy import select

from marktplatz import create_app
from marktplatz.core.db import get_session
from marktplatz.models import Listing

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def main() -> None:
    """Time every main page anonymously and as an officer."""
    app = create_app({"WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    with app.app_context():
        slug = get_session().scalar(select(Listing.slug).where(Listing.title == "Hundesteuer-Anmeldung online"))
    pages = [
        "/", "/eintraege", "/eintraege?art=dienst&land=08&nachnutzung=1&sortierung=nachnutzungen",
        "/eintraege?q=hund", f"/eintraege/{slug}", "/kommunen/08311000", "/kommunen/15090546",
        "/ozg", "/ozg?q=hund", "/ozg/10160", "/feeds/eintraege.atom", "/feeds/ozg/10160.atom",
        f"/eintraege/{slug}/status.atom", "/export/eintraege.csv", "/export/eintraege.json",
    ]
    signed_in = ["/meine-kommune", "/eintraege/neu?art=dienst", f"/eintraege/{slug}/bearbeiten", f"/eintraege/{slug}"]
    anon = app.test_client()
    officer = app.test_client()
    officer.post("/anmelden", data={"email": "digital@freiburg.example", "password": "marktplatz-demo"})
    print(f"{'page':70s} {'median ms':>10s} {'max ms':>8s}")
    worst = 0.0
    for client, label, urls in ((anon, "anonym", pages), (officer, "Freiburg", signed_in)):
        for url in urls:
            times = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                resp = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200, (url, resp.status_code)
            med = statistics.median(times)
            worst = max(worst, med)
            print(f"{label + ' ' + url:70.70s} {med:10.1f} {max(times):8.1f}")
    print(f"slowest median: {worst:.1f} ms (goal < 100 ms)")


if __name__ == "__main__":
    main()
