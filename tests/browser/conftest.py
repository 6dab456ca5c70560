"""Browser test fixtures: a real gunicorn server on a free port with demo data, Chromium, axe-core.

Each worker's server runs against a copy of one SQLite database prepared by `marktplatz data
setup` (migrate, reference data, demo content, search index) once per run, starting from a
copy of the run's reference-data template. axe-core comes from npm at test
time and is cached under .venv/npm-axe so repeated runs are fast.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import _file_lock, _shared_dir
from tests.live_server import CHROMIUM, app_env, copy_sqlite, gunicorn
from tests.search_support import copy_index

ROOT = Path(__file__).resolve().parents[2]
AXE_VERSION = "4.14.1"
AXE_CACHE = ROOT / ".venv" / "npm-axe"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DEMO_PASSWORD = "marktplatz-demo"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip browser tests only when Chromium is missing outside CI."""
    if os.path.exists(CHROMIUM) or IN_CI:
        return
    skip = pytest.mark.skip(reason="/usr/bin/chromium fehlt (unter CI=true wird nicht übersprungen)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def server_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the working directory of the test server (database, instance, index, mail, log)."""
    return tmp_path_factory.mktemp("live")


@pytest.fixture(scope="session")
def server_env(server_tmp: Path) -> dict[str, str]:
    """Return the environment of the test server (temporary DB, instance dir, secret)."""
    return app_env(f"sqlite:///{server_tmp / 'live.db'}", server_tmp, ratelimit=True)


def _demo_template(templates, shared: Path) -> Path:
    """Return the run's demo database and index, preparing them if no worker has yet.

    `marktplatz data setup` starts from a copy of the run's reference-data template and its
    search index, so it loads the demo content and indexes it, not all 11,000 municipalities.
    Every worker that runs browser tests copies the result (it cost each one 20-60 s).
    """
    demo = shared / "demo-sqlite"
    with _file_lock(shared / "demo-sqlite.lock"):
        if (demo / "ready").exists():
            return demo
        shutil.rmtree(demo, ignore_errors=True)  # what a failed attempt of another worker left
        demo.mkdir()
        copy_sqlite(templates["sqlite"]["url"], demo / "live.db")
        copy_index(templates["sqlite"]["index"], str(demo / "index"))
        bindir = Path(sys.executable).parent
        subprocess.run([str(bindir / "marktplatz"), "data", "setup"], check=True, capture_output=True,
                       env=app_env(f"sqlite:///{demo / 'live.db'}", demo), timeout=600, cwd=ROOT)
        (demo / "ready").write_text("")
    return demo


def copy_demo(demo: Path, dest: Path, db_name: str = "live.db") -> str:
    """Copy the demo template's database and index (as it is: its position is where the demo's
    change log ends) into dest; return the database URL."""
    url = copy_sqlite(f"sqlite:///{demo / 'live.db'}", dest / db_name)
    shutil.copytree(demo / "index", dest / "index", ignore=shutil.ignore_patterns("*.lock"))
    return url


@pytest.fixture(scope="session")
def live_server(server_tmp: Path, server_env: dict[str, str], templates, tmp_path_factory) -> Iterator[str]:
    """Serve a copy of the run's demo database and index with gunicorn on a free port."""
    copy_demo(_demo_template(templates, _shared_dir(tmp_path_factory)), server_tmp)
    with gunicorn(server_env["MARKTPLATZ_DATABASE_URL"], server_tmp, workers=2, production_config=True,
                  ready_path="/", ratelimit=True) as server:
        yield server.url


@pytest.fixture(scope="session")
def axe_path() -> str:
    """Install the pinned axe-core from npm once and return the path of axe.min.js."""
    target = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    pkg = target.parent / "package.json"
    if not (target.exists() and json.loads(pkg.read_text())["version"] == AXE_VERSION):
        npm = shutil.which("npm")
        assert npm, "npm is required to fetch axe-core for the accessibility tests"
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(AXE_CACHE),
                        f"axe-core@{AXE_VERSION}"], check=True, capture_output=True, timeout=300)
    return str(target)


@pytest.fixture
def new_page(browser, live_server):
    """Return a factory of pages in fresh contexts (CSP bypassed only so axe can be injected)."""
    contexts = []

    def make(width: int = 1280, javascript: bool = True):
        ctx = browser.new_context(base_url=live_server, bypass_csp=True, locale="de-DE",
                                  viewport={"width": width, "height": 900}, java_script_enabled=javascript)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def login(page, email: str) -> None:
    """Sign in through the login form."""
    page.goto("/anmelden")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_load_state("networkidle")
    expect(page.locator("body")).to_contain_text("Willkommen")
def axe_violations(page, axe_path: str) -> list[dict]:
    """Run axe-core with the WCAG 2.1 A/AA rules and return the violations."""
    page.wait_for_load_state("load")  # a click's navigation may have only just committed
    page.add_script_tag(path=axe_path)
    result = page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]]


def screenshot(page, name: str) -> None:
    """Save a full-page screenshot to test-artifacts/screenshots/ when MARKTPLATZ_TEST_SCREENSHOTS=1.

    For looking at the pages after a run; no test asserts on them. Off by default: the full-page
    PNGs of ~150 checked pages cost about a minute of every run.
    """
    if os.environ.get("MARKTPLATZ_TEST_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def assert_accessible(page, axe_path: str, width: int, name: str) -> None:
    """The page passes axe (WCAG 2.1 A/AA), does not scroll sideways at width, and is screenshotted."""
    assert axe_violations(page, axe_path) == [], name
    assert page.evaluate("document.documentElement.scrollWidth") <= width, name
    screenshot(page, f"{name}-{width}px")
