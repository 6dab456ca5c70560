"""Database engine and session, bound to the app."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create an engine with settings that behave the same on SQLite and PostgreSQL."""
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["pool_size"] = 5
        kwargs["max_overflow"] = 10
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Enable foreign keys and WAL so readers never wait for the single writer."""
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def init_app(app: Flask) -> None:
    """Create the engine and session factory and install the unit of work.

    One unit of work per request, CLI command or worker job: services change and flush,
    the edge commits once. A request commits when it answers below 400 and nothing marked
    the work as failed (see mark_failed); any other answer, and any exception, rolls back,
    unless the view called keep_despite_error_status (a failed login's counter).
    Outside a request (CLI commands, app contexts of jobs) the context commits when it ends
    without an exception.
    """
    engine = make_engine(app.config["DATABASE_URL"], app.config.get("SQL_ECHO", False))
    app.extensions["sqlalchemy_engine"] = engine
    app.extensions["sqlalchemy_sessionmaker"] = sessionmaker(
        bind=engine, expire_on_commit=False, future=True
    )

    @app.after_request
    def _finish_request(response: Any) -> Any:
        sess = g.get("db_session")
        if sess is not None:
            failed = g.pop("uow_failed", False)
            if not failed and (response.status_code < 400 or g.pop("uow_keep", False)):
                try:
                    sess.commit()
                except Exception:
                    sess.rollback()
                    raise
            else:
                sess.rollback()
        return response

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        sess = g.pop("db_session", None)
        failed = g.pop("uow_failed", False)
        if sess is None:
            return
        try:
            if exc is None and not failed and not has_request_context():
                sess.commit()
            else:
                sess.rollback()
        finally:
            sess.close()


def mark_failed() -> None:
    """Mark the current unit of work as failed: the edge rolls it back instead of committing.

    Domain errors call this when they are raised, so a view that catches one and answers
    with a redirect or a form never commits the half-done change behind it.
    """
    if has_app_context():
        g.uow_failed = True


def keep_despite_error_status() -> None:
    """Commit this request's unit of work although it answers with a 4xx status.

    For writes that are the point of a refusal, such as the failed-login counter behind a
    422 answer. A domain error raised in the same request still rolls back.
    """
    g.uow_keep = True


def clear_failed() -> None:
    """Forget an earlier failure mark (after its savepoint was rolled back)."""
    if has_app_context():
        g.pop("uow_failed", None)


def is_failed() -> bool:
    """Tell whether the current unit of work is marked as failed."""
    return bool(has_app_context() and g.get("uow_failed", False))


def get_engine() -> Engine:
    """Return the engine of the current app."""
    return current_app.extensions["sqlalchemy_engine"]


def get_session() -> Session:
    """Return the session of the current app context, creating it on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["sqlalchemy_sessionmaker"]()
    return g.db_session


def is_postgres() -> bool:
    """Tell whether the current app runs on PostgreSQL."""
    return get_engine().dialect.name == "postgresql"


__all__ = ["clear_failed", "get_engine", "get_session", "init_app", "is_failed", "is_postgres",
           "keep_despite_error_status", "make_engine", "mark_failed"]
