"""Jinja filters and globals: Markdown rendering with sanitising, dates, permissions."""

from __future__ import annotations

import hashlib
from datetime import datetime

import nh3
from flask import Flask
from flask_login import current_user
from markdown_it import MarkdownIt
from markupsafe import Markup

from ...core.caching import LockedLRU
from ...core.db import get_session
from ...permissions import can, may_see_nav, visible_duplicate_of
from ...search import ranking
from ...services.lifecycle import allowed_actions
from ...services.reuse import may_declare_reuse

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "h2", "h3", "h4",
    "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "hr",
}


# Per process: about 8 MB of rendered HTML (descriptions, reuse terms, status updates).
# Keyed by a SHA-256 digest of the source text, so an edited text is a new key and is
# rendered at once: nothing can be served stale and nothing needs invalidating. The output
# depends on the text alone (not on the viewer or the request), so sharing it is safe.
_HTML_BYTES = 8 * 1024 * 1024
_html_cache = LockedLRU(_HTML_BYTES, getsizeof=len, largest=_HTML_BYTES // 8)


def render_markdown(text: str | None) -> Markup:
    """Render Markdown to sanitised HTML (no scripts, no event handlers, no javascript: URLs).

    Rendering and sanitising cost milliseconds per text, so results are kept in a bounded
    in-process cache keyed by the text itself (see _html_cache).
    """
    text = text or ""
    if not text:
        return Markup("")
    key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    html = _html_cache.get(key)
    if html is None:
        html = _render_markdown(text)
        _html_cache.put(key, html)
    return Markup(html)


def _render_markdown(text: str) -> str:
    html = _md.render(text)
    # Headings start at h2: the page title is the only h1.
    for level in (5, 4, 3, 2, 1):
        html = html.replace(f"<h{level}>", f"<h{level + 1}>").replace(f"</h{level}>", f"</h{level + 1}>")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return clean


def format_date(value: datetime | None, with_time: bool = False) -> str:
    """Format a date the German way (21.11.2026)."""
    if value is None:
        return ""
    from zoneinfo import ZoneInfo

    local = value.astimezone(ZoneInfo("Europe/Berlin"))
    return local.strftime("%d.%m.%Y, %H:%M Uhr" if with_time else "%d.%m.%Y")


# Main navigation: (endpoint, label, who). Entries whose endpoint is not registered are
# skipped, so each feature area adds its pages here without touching base.html.
NAV = [
    ("web.listings", "Einträge", "all"),
    ("web.ozg_index", "OZG-Katalog", "all"),
    ("networks.index", "Netzwerke", "all"),
    ("registers.index", "Prozessregister", "officer"),
    ("web.dashboard", "Meine Kommune", "officer"),
    ("moderation.queue", "Prüfung", "coordinator"),
    ("admin.index", "Verwaltung", "admin"),
    ("api_docs.docs", "API", "all"),
]


def nav_items() -> list[tuple[str, str]]:
    """Return the navigation entries shown to the current user."""
    return [(endpoint, label) for endpoint, label, who in NAV if may_see_nav(current_user, who)]


def init_app(app: Flask) -> None:
    """Register filters and globals."""
    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["number"] = lambda n: f"{n:,}".replace(",", ".") if n is not None else ""
    app.jinja_env.globals["ranking_reasons"] = ranking.reasons
    app.jinja_env.globals["can"] = lambda action, obj=None: can(current_user, action, obj)
    app.jinja_env.globals["visible_duplicate_of"] = lambda listing: visible_duplicate_of(current_user, listing)
    app.jinja_env.globals["allowed_actions"] = lambda listing: allowed_actions(current_user, listing)
    app.jinja_env.globals["may_declare_reuse"] = lambda listing: may_declare_reuse(current_user, listing)

    @app.context_processor
    def _inject():
        from ...services.notify import unread_count

        count = 0
        if getattr(current_user, "is_authenticated", False):
            count = unread_count(get_session(), current_user)
        return {"unread_notifications": count}
