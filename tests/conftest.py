"""Shared fixtures: an app per test on SQLite and (when configured) PostgreSQL.

The schema is migrated, the full reference data loaded and its search index built once per
backend and run (a template, see `templates`); every xdist worker works on a copy of the
template database and every test on a copy of its index. After each test the non-reference
tables are emptied again, so each test starts from the same state. Set
MARKTPLATZ_TEST_DATABASE_URL to a PostgreSQL URL to run the database tests there as well;
throw-away databases are created beside it and dropped afterwards.

At the end of the run (per xdist worker) the session fails if a process a test started is
still alive.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import json
import os
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from marktplatz import create_app
from marktplatz.models import Base
from tests.fake_dns import fake_resolver
from tests.live_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    STARTED_SESSIONS,
    copy_sqlite,
    kill_group,
    living_processes,
)
from tests.search_support import (
    build_index_template,
    copy_index,
    copy_index_as_is,
    follow,
    register_index_template,
)

REFERENCE_TABLES = {"land", "themenfeld", "lebenslage", "ozg_leistung", "leika_leistung", "organisation"}
PG_URL = os.environ.get("MARKTPLATZ_TEST_DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_configure(config: pytest.Config) -> None:
    """Fail loudly in CI when PostgreSQL is not configured."""
    if IN_CI and not PG_URL:
        raise pytest.UsageError("CI=true requires MARKTPLATZ_TEST_DATABASE_URL (PostgreSQL).")


def _command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _leftover_processes() -> dict[int, str]:
    """Return {pid: command line} of the processes this test process started that are still alive.

    That is its descendants, and every member of a server process group it started
    (tests/live_server.py): those may have been re-parented to init when their parent died.
    """
    procs = living_processes()
    ours = {os.getpid()}
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _group) in procs.items():
            if ppid in ours and pid not in ours:
                ours.add(pid)
                grew = True
    ours.discard(os.getpid())
    ours.update(pid for pid, (_ppid, group) in procs.items() if group in STARTED_SESSIONS)
    return {pid: _command_line(pid) for pid in sorted(ours)}


_LEFTOVERS: list[str] = []  # on the xdist controller: what the workers reported


@pytest.hookimpl(trylast=True)  # after the session-scoped fixtures are torn down
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the session if a process a test started (a server, a browser) is still alive.

    Runs in every xdist worker (and in a run without xdist); the controller, whose children
    are the workers themselves, reports what the workers found.
    """
    config = session.config
    is_worker = hasattr(config, "workerinput")
    if not is_worker:
        _drop_templates(Path(config._tmp_path_factory.getbasetemp()))  # the run's shared directory
    if not is_worker and config.pluginmanager.hasplugin("dsession"):
        leftovers = _LEFTOVERS
    else:
        deadline = time.monotonic() + 5  # a browser or server in its last moments
        while (found := _leftover_processes()) and time.monotonic() < deadline:
            time.sleep(0.1)
        leftovers = [f"pid {pid}: {cmd}" for pid, cmd in found.items()]
        for pid in found:  # report them, then make sure they do not outlive the run
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pgid in STARTED_SESSIONS:
            kill_group(pgid)
        if is_worker:
            config.workeroutput["leftover_processes"] = leftovers
    if leftovers:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        lines = ["processes started by the tests were still running at the end:", *leftovers]
        if reporter is not None:
            reporter.write("\n")  # the progress line may still be open
        for line in lines:
            if reporter is not None:
                reporter.write_line(line, red=True)
            else:
                print(line, file=sys.stderr)
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)  # an xdist hook
def pytest_testnodedown(node, error) -> None:
    """Collect the leftover processes an xdist worker reported (see pytest_sessionfinish)."""
    found = getattr(node, "workeroutput", {}).get("leftover_processes") or []
    _LEFTOVERS.extend(f"[{node.gateway.id}] {line}" for line in found)


def _create_pg_database(prefix: str = "mp_test", template: str | None = None) -> tuple[str, str]:
    """Create a database (a copy of template, if given); return its URL and name."""
    assert PG_URL is not None
    base = make_url(PG_URL)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # a failing connection fails the run, never skips it
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
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
        get_session().commit()
        get_session().close()
        get_engine().dispose()


def _shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the temporary directory of the whole run, shared by all xdist workers."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on path (across the processes of the run)."""
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build_once(shared: Path, name: str, create, fill) -> dict[str, str]:
    """Return the run's template called name, building it if no worker has yet (callers hold its lock).

    create(work) returns the new database's (URL, PostgreSQL name or ""); fill(url, index)
    fills it and its search index. A failed build drops the database; its directory is
    cleared by the next attempt.
    """
    info = shared / f"{name}.json"
    if info.exists():
        return json.loads(info.read_text())
    work = shared / name
    shutil.rmtree(work, ignore_errors=True)  # what a failed attempt of another worker left
    work.mkdir()
    url, db_name = create(work)
    index = str(work / "index")
    try:
        fill(url, index)
    except BaseException:
        if db_name:
            _drop_pg_database(db_name)
        raise
    data = {"url": url, "name": db_name, "index": index}
    info.write_text(json.dumps(data))
    return data


def _template(backend: str, shared: Path) -> dict[str, str]:
    """Return the run's template of backend, building it if no worker has yet.

    A template is a migrated database with the full reference data and an empty change log,
    plus the search index built from it. It is built once per run and backend; each worker
    copies it (SQLite: the file, PostgreSQL: CREATE DATABASE ... TEMPLATE).
    """
    def create(work: Path) -> tuple[str, str]:
        if backend == "sqlite":
            return "sqlite:///" + str(work / "template.db"), ""
        return _create_pg_database("mp_template")

    def fill(url: str, index: str) -> None:
        _prepare(url, str(Path(index).parent))
        build_index_template(url, index)  # also empties the change log
        engine = create_engine(url)
        _clean(engine)  # the change log's ids restart at 1, as after every test
        engine.dispose()

    return _build_once(shared, f"template-{backend}", create, fill)


def _demo_template(backend: str, shared: Path, templates: dict[str, dict[str, str]]) -> dict[str, str]:
    """Return the run's demo template of backend: the reference template plus the demo content,
    and its index caught up with it. Built once per run and backend, on first use (a demo load
    costs 7-20 s; the tests marked ``demo`` each get a copy instead)."""
    ref = templates[backend]

    def create(work: Path) -> tuple[str, str]:
        if backend == "sqlite":
            return copy_sqlite(ref["url"], work / "demo.db"), ""
        with _file_lock(shared / "template-postgresql.lock"):  # the template to itself
            return _create_pg_database("mp_demo", template=ref["name"])

    def fill(url: str, index: str) -> None:
        from marktplatz import search
        from marktplatz.core.db import get_engine, get_session
        from marktplatz.services.demo import load_demo

        copy_index(ref["index"], index)
        app = create_app({"DATABASE_URL": url, "TESTING": True, "INDEX_DIR": index, "SECRET_KEY": "t",
                          "MAIL_DIR": str(Path(index).parent / "mail")})
        with app.app_context():
            load_demo(get_session())
            get_session().commit()
            get_session().close()
            deadline = time.monotonic() + 120  # PostgreSQL: other workers' open transactions hold rows back
            while follow() or search.index_lag()["rows"]:
                assert time.monotonic() < deadline, "the demo index did not catch up"
            get_engine().dispose()

    # Not "demo-sqlite": tests/browser/conftest.py builds that one (through `marktplatz data setup`).
    return _build_once(shared, f"demo-db-{backend}", create, fill)


def _demo_copy(backend: str, shared: Path, templates: dict[str, dict[str, str]], tmp: Path) -> tuple[str, str, str]:
    """Return (database URL, PostgreSQL name or "", index root) of a fresh copy of the demo template."""
    with _file_lock(shared / f"demo-db-{backend}.lock"):
        demo = _demo_template(backend, shared, templates)
        if backend == "sqlite":
            url, name = copy_sqlite(demo["url"], tmp / "demo.db"), ""
        else:  # CREATE DATABASE ... TEMPLATE needs the template to itself
            url, name = _create_pg_database("mp_demo_copy", template=demo["name"])
    index = str(tmp / "index")
    copy_index_as_is(demo["index"], index)
    return url, name, index


def _drop_templates(shared: Path) -> None:
    """Drop the run's PostgreSQL template databases (at the very end of the run)."""
    for info in (shared / "demo-db-postgresql.json", shared / "template-postgresql.json"):  # copies first
        if PG_URL and info.exists():
            _drop_pg_database(json.loads(info.read_text())["name"])


def _worker_order() -> list[str]:
    """Return the backends in the order this worker takes them (workers start on different ones)."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    return BACKENDS[worker % len(BACKENDS):] + BACKENDS[:worker % len(BACKENDS)]


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Return the run's template per backend: {"url", "name" (PostgreSQL), "index"} (never modify)."""
    shared = _shared_dir(tmp_path_factory)
    found = {}
    for backend in _worker_order():  # SQLite and PostgreSQL are built at the same time
        with _file_lock(shared / f"template-{backend}.lock"):
            found[backend] = _template(backend, shared)
        register_index_template(backend, found[backend]["index"])
    return found


@pytest.fixture(scope="session")
def database_urls(templates: dict[str, dict[str, str]],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Return a migrated database with reference data per backend (a copy of the run's template)."""
    tmp = tmp_path_factory.mktemp("db")
    urls = {"sqlite": copy_sqlite(templates["sqlite"]["url"], tmp / "test.db")}
    pg_name = None
    if "postgresql" in templates:
        # CREATE DATABASE ... TEMPLATE needs the template to itself: one copy at a time.
        with _file_lock(_shared_dir(tmp_path_factory) / "template-postgresql.lock"):
            urls["postgresql"], pg_name = _create_pg_database(template=templates["postgresql"]["name"])
    yield urls
    if pg_name:
        _drop_pg_database(pg_name)


_USED_SEQUENCES = text("""
    SELECT ps.schemaname, ps.sequencename, t.relname
    FROM pg_sequences ps
    JOIN pg_namespace n ON n.nspname = ps.schemaname
    JOIN pg_class s ON s.relname = ps.sequencename AND s.relnamespace = n.oid
    JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
    JOIN pg_class t ON t.oid = d.refobjid
    WHERE ps.last_value IS NOT NULL
""")


def _clean(engine) -> None:
    """Bring the database back to the template's state: reference data only, ids from 1.

    Only the tables that hold rows are emptied (most tests touch a few of 29), and on
    PostgreSQL only the sequences used since their last restart are restarted: the state is
    the one TRUNCATE ... RESTART IDENTITY of every table gave, at a fraction of its cost.
    """
    tables = [t for t in Base.metadata.sorted_tables if t.name not in REFERENCE_TABLES]
    probe = text(" UNION ALL ".join(f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")"
                                    for t in tables))
    with engine.begin() as conn:
        filled = {row[0] for row in conn.execute(probe)}
        for table in reversed(tables):  # dependants first
            if table.name in filled:
                conn.execute(table.delete())
        if engine.dialect.name == "postgresql":
            for schema, sequence, owner in conn.execute(_USED_SEQUENCES):
                if owner not in REFERENCE_TABLES:
                    conn.execute(text(f'ALTER SEQUENCE "{schema}"."{sequence}" RESTART'))
        conn.execute(
            text("UPDATE organisation SET website = NULL, contact_email = NULL "
                 "WHERE website IS NOT NULL OR contact_email IS NOT NULL")
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the modules for `--dist loadfile --no-loadscope-reorder` (make test).

    A module runs on one worker; one long module handed out last keeps the run going while
    the other workers are idle. So the modules with slow or browser tests come first, then
    the others with the most tests first (xdist's own order, which would put the few but
    long slow tests last). Within a module the order stays as collected.

    The browser modules all wait for the run's demo server template (built once, ~30 s), so
    they do not all go first: one browser module, then two other slow ones, then alternating.
    The first workers thus build the template and run the slow tests at the same time.
    """
    count: dict = {}
    for item in items:
        count[item.path] = count.get(item.path, 0) + 1
    heavy = {item.path for item in items if item.get_closest_marker("slow") or item.get_closest_marker("browser")}
    in_browser_dir = [p for p in dict.fromkeys(item.path for item in items) if p in heavy and p.parent.name == "browser"]
    others = [p for p in dict.fromkeys(item.path for item in items) if p in heavy and p.parent.name != "browser"]
    order = in_browser_dir[:1] + others[:2]
    del in_browser_dir[:1], others[:2]
    while in_browser_dir or others:
        order += in_browser_dir[:1] + others[:1]
        del in_browser_dir[:1], others[:1]
    rank = {path: i for i, path in enumerate(order)}
    items.sort(key=lambda item: (rank.get(item.path, len(rank)), 0 if item.path in heavy else -count[item.path]))


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
def app(request: pytest.FixtureRequest, backend: str, database_urls: dict[str, str], templates, tmp_path,
        tmp_path_factory):
    """Return an app bound to a clean database and a ready search index of the backend.

    A test marked ``demo`` gets a fresh copy of the demo content (and its index) instead,
    exactly what `marktplatz data setup` loads.
    """
    demo = request.node.get_closest_marker("demo") is not None
    url, demo_db, index = database_urls[backend], "", str(tmp_path / "index")
    if demo:
        url, demo_db, index = _demo_copy(backend, _shared_dir(tmp_path_factory), templates, tmp_path)
    app = create_app(
        {
            "DATABASE_URL": url,
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "INDEX_DIR": index,
            "MAIL_DIR": str(tmp_path / "mail"),
            "SECRET_KEY": "test-secret",
            "RATELIMIT_ENABLED": True,
            # Tests search far more often than a person; tests/test_query_bounds.py sets
            # these low to see the limits work.
            "SEARCH_RATELIMIT": "100000/minute",
            "SUGGEST_RATELIMIT": "100000/minute",
            "STATS_CACHE_SECONDS": 0,
            "OUTBOUND_RESOLVER": fake_resolver,
        }
    )
    ctx = app.app_context()
    ctx.push()
    # Every test gets a copy of one prebuilt reference-data index, so writes and searches
    # never pay for a full build of 11,000 municipalities.
    from tests.search_support import seed_index, template_for

    if not demo:
        seed_index(app, template_for(backend, database_urls[backend], str(tmp_path_factory.getbasetemp())))
    yield app
    from marktplatz.core.db import get_session

    get_session().close()
    ctx.pop()
    engine = app.extensions["sqlalchemy_engine"]
    if demo:  # a copy of its own: dropped, not cleaned
        engine.dispose()
        if demo_db:
            _drop_pg_database(demo_db)
        else:
            (tmp_path / "demo.db").unlink(missing_ok=True)
    else:
        _clean(engine)
        engine.dispose()
    # The copied index is 20+ MB; 1,500 tests kept ~30 GB per run and filled the disk (the
    # PostgreSQL server of CI then stopped). The database and mail of a failed test stay.
    shutil.rmtree(app.config["INDEX_DIR"], ignore_errors=True)


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

    The test's own session is the test's unit of work: what it changed through services
    (which only flush) is committed before each request, as a request would find it.
    """

    def open(self, *args, **kwargs):  # noqa: D102
        from flask import g, has_app_context

        if has_app_context() and g.get("db_session") is not None:
            g.db_session.commit()
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
