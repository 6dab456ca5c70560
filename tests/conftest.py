"""Shared fixtures: an app per test on SQLite and (when configured) PostgreSQL.

The schema is migrated and the full reference data loaded once per backend and session;
after each test every non-reference table is emptied, so each test starts from the same
state. Set MARKTPLATZ_TEST_DATABASE_URL to a PostgreSQL URL to run the database tests
there as well; a throw-away database is created beside it and dropped afterwards.
"""

from __future__ import annotations

import contextvars
import os
import uuid
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from marktplatz import create_app
from marktplatz.models import Base
from tests.live_server import CHROMIUM, CHROMIUM_ARGS

REFERENCE_TABLES = {"land", "themenfeld", "lebenslage", "ozg_leistung", "leika_leistung", "organisation"}
PG_URL = os.environ.get("MARKTPLATZ_TEST_DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_configure(config: pytest.Config) -> None:
    """Fail loudly in CI when PostgreSQL is not configured."""
    if IN_CI and not PG_URL:
        raise pytest.UsageError("CI=true requires MARKTPLATZ_TEST_DATABASE_URL (PostgreSQL).")


def _create_pg_database() -> tuple[str, str]:
    assert PG_URL is not None
    base = make_url(PG_URL)
    name = f"mp_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # a failing connection fails the run, never skips it
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(name: str) -> None:
    assert PG_URL is not None
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _prepare(url: str, tmp: str) -> None:
    app = create_app({"DATABASE_URL": url, "TESTING": True, "INDEX_DIR": os.path.join(tmp, "idx-prep")})
    with app.app_context():
        from marktplatz.cli.db import upgrade_database
        from marktplatz.core.db import get_engine, get_session
        from marktplatz.services.reference import load_reference

        upgrade_database()
        load_reference(get_session())
        get_session().close()
        get_engine().dispose()


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Return a migrated database with reference data per backend."""
    tmp = str(tmp_path_factory.mktemp("db"))
    urls = {"sqlite": "sqlite:///" + os.path.join(tmp, "test.db")}
    pg_name = None
    if PG_URL:
        urls["postgresql"], pg_name = _create_pg_database()
    for url in urls.values():
        _prepare(url, tmp)
    yield urls
    if pg_name:
        _drop_pg_database(pg_name)


def _clean(engine) -> None:
    tables = [t for t in Base.metadata.sorted_tables if t.name not in REFERENCE_TABLES]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY"))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())
        conn.execute(
            text("UPDATE organisation SET website = NULL, contact_email = NULL "
                 "WHERE website IS NOT NULL OR contact_email IS NOT NULL")
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run database tests on every backend; tests marked sqlite_only (pure UI) on SQLite."""
    if "backend" in metafunc.fixturenames and not hasattr(metafunc.module, "backend") and not any(
        m.args and m.args[0] == "backend" for m in metafunc.definition.iter_markers("parametrize")
    ):
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("backend", ["sqlite"] if only_sqlite else BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Name the database backend of this test run."""
    return request.param


@pytest.fixture
def app(backend: str, database_urls: dict[str, str], tmp_path, tmp_path_factory):
    """Return an app bound to a clean database and a ready search index of the backend."""
    app = create_app(
        {
            "DATABASE_URL": database_urls[backend],
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "INDEX_DIR": str(tmp_path / "index"),
            "MAIL_DIR": str(tmp_path / "mail"),
            "SECRET_KEY": "test-secret",
            "RATELIMIT_ENABLED": True,
            "STATS_CACHE_SECONDS": 0,
        }
    )
    ctx = app.app_context()
    ctx.push()
    # Every test gets a copy of one prebuilt reference-data index, so writes and searches
    # never pay for a full build of 11,000 municipalities.
    from tests.search_support import seed_index, template_for

    seed_index(app, template_for(backend, database_urls[backend], str(tmp_path_factory.getbasetemp())))
    yield app
    from marktplatz.core.db import get_session

    get_session().close()
    ctx.pop()
    engine = app.extensions["sqlalchemy_engine"]
    _clean(engine)
    engine.dispose()


@pytest.fixture
def session(app):
    """Return the database session of the app context."""
    from marktplatz.core.db import get_session

    return get_session()


class IsolatedClient(FlaskClient):
    """A test client whose requests run in their own app context, as in production.

    Without this, requests would share the test's app context (and its database session
    and flask-login's cached user). Objects the test holds are therefore not refreshed by
    requests: call ``session.commit()`` or ``session.expire_all()`` before reading them.
    """

    def open(self, *args, **kwargs):  # noqa: D102
        fn = super().open
        return contextvars.Context().run(fn, *args, **kwargs)


@pytest.fixture
def client(app):
    """Return a test client."""
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app):
    """Return a CLI runner."""
    return app.test_cli_runner()


class AuthActions:
    """Sign in and out through the real login form."""

    def __init__(self, client) -> None:
        self._client = client

    def login(self, email: str, password: str = "correct-horse-1"):
        """Sign in as email."""
        return self._client.post("/anmelden", data={"email": email, "password": password})

    def logout(self):
        """Sign out."""
        return self._client.post("/abmelden")


@pytest.fixture
def auth(client) -> AuthActions:
    """Return helpers to sign in through the login form."""
    return AuthActions(client)


@pytest.fixture(scope="session")
def browser():
    """Launch one headless Chromium for the whole session (Playwright's sync API allows one)."""
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            raise RuntimeError("CI=true requires /usr/bin/chromium (apt-get install -y chromium)")
        pytest.skip("/usr/bin/chromium fehlt (unter CI=true wird nicht übersprungen)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
