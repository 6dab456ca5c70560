"""Test helpers for search: a reference-data index built once per backend and copied per test.

Building the index of 11,000 municipalities takes a while, so each backend gets one full
build (the real rebuild code) per test run, from the template database every worker's test
database is copied from (tests/conftest.py); each test then copies it into its own
temporary index directory. The copy is exactly what a rebuild on the clean test database
produces, because every test starts from the same reference data with an empty change log.
"""

from __future__ import annotations

import os
import shutil

from sqlalchemy import text

from marktplatz import create_app

_TEMPLATES: dict[str, str] = {}


def build_index_template(url: str, root: str) -> None:
    """Empty the change log of the database at url and build its full index at root."""
    app = create_app({"DATABASE_URL": url, "TESTING": True, "INDEX_DIR": root, "SECRET_KEY": "t"})
    with app.app_context():
        from marktplatz import search
        from marktplatz.core.db import get_engine

        with get_engine().begin() as conn:
            conn.execute(text("DELETE FROM change_log"))
        search.rebuild_index()
        get_engine().dispose()


def register_index_template(backend: str, root: str) -> None:
    """Use the index at root (built from the database the backend's test database copies)."""
    _TEMPLATES[backend] = root


def template_for(backend: str, url: str, tmp_root: str) -> str:
    """Return a reference-data index root for backend, building it on first use."""
    if backend not in _TEMPLATES:
        root = os.path.join(tmp_root, f"search-template-{backend}")
        build_index_template(url, root)
        _TEMPLATES[backend] = root
    return _TEMPLATES[backend]


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copy2(src, dst)


def copy_index(template_root: str, dest: str) -> None:
    """Copy the template index to dest, positioned at the start of the (empty) change log."""
    from marktplatz.search.index import current_generation, read_position, write_position

    copy_index_as_is(template_root, dest)
    gen = current_generation(dest)
    pos = read_position(gen)
    # Test cleanup empties change_log (ids restart at 1); transaction ids only grow.
    write_position(gen, {"id": 0, **({"xmin": pos["xmin"]} if "xmin" in pos else {})})


def copy_index_as_is(template_root: str, dest: str) -> None:
    """Copy an index to dest, positioned where the template's position is.

    Hard links, not copies (20+ MB for every test): Whoosh never rewrites a file it wrote, it
    writes new segments and tables of contents, and the position file is replaced atomically
    (write_position). A test that damages a file must replace it, not write into it.
    """
    if os.path.exists(dest):
        shutil.rmtree(dest)
    shutil.copytree(template_root, dest, ignore=shutil.ignore_patterns("*.lock"), copy_function=_link_or_copy)


def seed_index(app, template_root: str) -> None:
    """Copy the template index into app's index directory, positioned at the empty change log."""
    copy_index(template_root, app.config["INDEX_DIR"])


def follow() -> int:
    """Run one round of the worker's index follower in the current app; return the rows applied.

    Web requests never write the index: a test that writes and then searches as someone
    other than the author (or writes outside a request) lets the worker catch up first.

    On PostgreSQL a round holds back rows while an older transaction anywhere on the server
    is still open (it may commit with a smaller id); the worker takes them a round later, so
    this runs rounds until nothing is left, for at most FOLLOW_SECONDS.
    """
    import time

    from marktplatz import search
    from marktplatz.cli.worker import index_step

    deadline = time.monotonic() + FOLLOW_SECONDS
    applied = index_step()
    while search.index_lag()["rows"] and time.monotonic() < deadline:
        time.sleep(0.05)
        applied += index_step()
    return applied


FOLLOW_SECONDS = 3.0


def facet_options(html: str, legend: str) -> dict[str, str]:
    """Return {option label: count} of one facet (a fieldset of checkboxes) of the browse page."""
    import re

    part = html.split(f"<legend>{legend}")[1].split("</fieldset>")[0]
    return dict(re.findall(r'<label for="[^"]+">([^<]+?) <span class="muted">\(([\d.]+)\)</span>', part))
