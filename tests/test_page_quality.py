"""Issue 15 item 2 leftovers: favicon, breadcrumbs, component pages with publiccode metadata."""

from __future__ import annotations

import pytest

from . import factories as f


@pytest.fixture
def world(session):
    """A published service and a published component of Freiburg."""
    net = f.network(session, "q", f.FREIBURG)
    owner = f.user(session, ags=f.FREIBURG)
    coord = f.user(session, "coordinator", ags=f.KARLSRUHE, networks=[net])
    dienst = f.listing(session, owner, coord, title="Hundesteuer online", reifegrad=3, reifegrad_model="1.1")
    komponente = f.listing(session, owner, coord, kind="komponente", title="Formularbaukasten", ozg_ids=[],
                           leika_keys=[], licence="EUPL-1.2", reifegrad=None, reifegrad_model=None,
                           repository_url="https://example.org/form.git", maintenance="active")
    return {"dienst": dienst, "komponente": komponente}


def test_every_page_links_the_favicon(client):
    """The layout links an SVG favicon that is served."""
    html = client.get("/").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    resp = client.get("/static/favicon.svg")
    assert resp.status_code == 200
    resp.close()


def test_listing_and_ozg_pages_have_breadcrumbs(world, client):
    """Start › Einträge › Dienste › title; Start › OZG-Katalog › Themenfeld › Leistung."""
    html = client.get(f"/eintraege/{world['dienst'].slug}").get_data(as_text=True)
    crumbs = html[html.index('class="breadcrumbs"'):html.index("</nav>", html.index('class="breadcrumbs"'))]
    assert '<a href="/eintraege">Einträge</a>' in crumbs and '<a href="/eintraege?art=dienst">Dienste</a>' in crumbs
    assert '<span aria-current="page">Hundesteuer online</span>' in crumbs
    ozg = client.get("/ozg/10160").get_data(as_text=True)
    crumbs = ozg[ozg.index('class="breadcrumbs"'):ozg.index("</nav>", ozg.index('class="breadcrumbs"'))]
    assert '<a href="/ozg">OZG-Katalog</a>' in crumbs and 'aria-current="page"' in crumbs


def test_component_page_shows_publiccode_metadata_and_no_reifegrad(world, client):
    """A component links its publiccode.yml and shows its metadata; only services show a Reifegrad."""
    html = client.get(f"/eintraege/{world['komponente'].slug}").get_data(as_text=True)
    assert f'href="/api/v1/listings/{world["komponente"].id}/publiccode.yml"' in html
    assert "<code>EUPL-1.2</code>" in html and "Entwicklungsstand" in html
    assert "<dt>Reifegrad</dt>" not in html
    service = client.get(f"/eintraege/{world['dienst'].slug}").get_data(as_text=True)
    assert "<dt>Reifegrad</dt><dd>3 von 4" in service and "publiccode.yml herunterladen" not in service
