"""API: the change feed."""

from __future__ import annotations

from typing import Any

from flask import url_for

from ...core.db import get_session
from ...services.changes import read_changes
from . import cursor as cursors
from . import problems
from .common import ApiBlueprint, current_user_or_none, decode_cursor, rate_limited
from .schemas import ChangeArgs, ChangePageSchema

blp = ApiBlueprint("api_changes", __name__, url_prefix="/api/v1/changes", description="Änderungs-Feed")
problems.install(blp)
rate_limited(blp)


@blp.route("")
@blp.etag
@blp.arguments(ChangeArgs, location="query")
@blp.response(200, ChangePageSchema)
def list_changes(args: dict[str, Any]):
    """Return changes after the cursor, oldest first; continue with links.next (also when empty)."""
    after = decode_cursor(args.get("after"), 2)
    rows = read_changes(get_session(), current_user_or_none(), after, args["limit"])
    items = []
    for row in rows:
        item = row.__dict__.copy()
        item["cursor"] = cursors.encode(row.txid, row.id)
        items.append(item)
    next_cursor = items[-1]["cursor"] if items else args.get("after")
    params: dict[str, Any] = {"limit": args["limit"]}
    if next_cursor:
        params["after"] = next_cursor
    return {
        "items": items,
        "next_cursor": next_cursor,
        "links": {"next": url_for("api_changes.list_changes", _external=True, **params)},
    }
