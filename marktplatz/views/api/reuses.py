"""API: reuse declarations (list, read, change stage)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ...core.db import get_session
from ...models import Listing, Organisation, Reuse
from ...permissions import listing_visibility_filter
from ...schemas.listing import ReuseSchema
from ...services import reuse as reuse_service
from ...services.errors import NotFound
from . import problems
from .common import (
    ApiBlueprint,
    current_user_or_none,
    id_page,
    rate_limited,
    require_scope,
    safe_int,
)
from .schemas import ReuseArgs, ReuseOutSchema, page_schema

blp = ApiBlueprint("api_reuses", __name__, url_prefix="/api/v1/reuses", description="Nachnutzungen")
problems.install(blp)
rate_limited(blp)

ReusePage = page_schema(ReuseOutSchema, "ReuseListPage")


def _visible_reuses(user: Any):
    return select(Reuse).where(Reuse.listing_id.in_(select(Listing.id).where(listing_visibility_filter(user))))


def _get(reuse_id: int) -> Reuse:
    q = _visible_reuses(current_user_or_none()).where(Reuse.id == safe_int(reuse_id))
    reuse = get_session().scalar(q)
    if reuse is None:
        raise NotFound("Diese Nachnutzung gibt es nicht oder Sie dürfen sie nicht sehen.")
    return reuse


@blp.route("")
@blp.etag
@blp.arguments(ReuseArgs, location="query")
@blp.response(200, ReusePage)
def list_reuses(args: dict[str, Any]):
    """List reuses of listings the caller may see."""
    q = _visible_reuses(current_user_or_none())
    if args.get("listing_id") is not None:
        q = q.where(Reuse.listing_id == args["listing_id"])
    if args.get("stage"):
        q = q.where(Reuse.stage == args["stage"])
    if args.get("ags"):
        q = q.where(Reuse.organisation_id.in_(select(Organisation.id).where(Organisation.ags == args["ags"])))
    return id_page(q, Reuse, args, "api_reuses.list_reuses")


@blp.route("/<int:reuse_id>")
@blp.etag
@blp.response(200, ReuseOutSchema)
def get_reuse(reuse_id: int):
    """Return one reuse with its history."""
    return _get(reuse_id)


@blp.route("/<int:reuse_id>/stage", methods=["POST"])
@blp.etag
@blp.arguments(ReuseSchema)
@blp.response(200, ReuseOutSchema)
def change_stage(data: dict[str, Any], reuse_id: int):
    """Move a reuse of the token's municipality to another stage."""
    p = require_scope("write")
    reuse = _get(reuse_id)
    return reuse_service.change_reuse_stage(get_session(), p.user, reuse, data)
