"""The Alembic chain builds the schema from empty and matches the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from marktplatz import create_app
from marktplatz.cli.db import _alembic_config, upgrade_database
from marktplatz.models import Base


def test_single_head(app):
    """There is exactly one migration head (one chain)."""
    script = ScriptDirectory.from_config(_alembic_config())
    assert len(script.get_heads()) == 1


# Expression indexes cannot be reflected; the next test checks that one by hand.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_models_and_migrations_do_not_drift(app):
    """Autogenerate finds no difference between the migrated schema and the models."""
    engine = app.extensions["sqlalchemy_engine"]
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_case_insensitive_email_index_exists(app, session):
    """The unique lower(email) index from the migration refuses a case variant at the database."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    session.execute(text("INSERT INTO user_account (email, name, password_hash, role, active, failed_logins, digest, session_token, created_at) VALUES ('a@b.de', 'A', 'x', 'officer', true, 0, 'none', '', CURRENT_TIMESTAMP)"))
    with pytest.raises(IntegrityError):
        session.execute(text("INSERT INTO user_account (email, name, password_hash, role, active, failed_logins, digest, session_token, created_at) VALUES ('A@B.de', 'A', 'x', 'officer', true, 0, 'none', '', CURRENT_TIMESTAMP)"))
    session.rollback()


def test_upgrade_from_empty_and_downgrade(tmp_path, backend, database_urls):
    """Migrating an empty database to head creates every table; downgrade removes them."""
    if backend == "sqlite":
        url = "sqlite:///" + str(tmp_path / "empty.db")
    else:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        base = make_url(database_urls["postgresql"])
        name = base.database + "_empty"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = base.set(database=name).render_as_string(hide_password=False)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "INDEX_DIR": str(tmp_path / "i")})
    with app.app_context():
        upgrade_database()
        engine = create_engine(url)
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        from alembic import command

        command.downgrade(_alembic_config(), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()
    app.extensions["sqlalchemy_engine"].dispose()
    if backend != "sqlite":
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
