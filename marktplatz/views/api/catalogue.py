"""API: the OZG catalogue (Themenfelder, OZG-Leistungen, LeiKa)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ...core.db import get_session
from ...models import LeikaLeistung, OzgLeistung, Themenfeld
from ...services.errors import NotFound
from . import problems
from .common import ApiBlueprint, id_page, rate_limited, safe_int
from .municipalities import _like
from .schemas import (
    LeikaArgs,
    LeikaSchema,
    OzgArgs,
    OzgLeistungSchema,
    ThemenfeldSchema,
    page_schema,
)

blp = ApiBlueprint("api_catalogue", __name__, url_prefix="/api/v1/ozg", description="OZG-Katalog und LeiKa")
problems.install(blp)
rate_limited(blp)

OzgPage = page_schema(OzgLeistungSchema, "OzgLeistungPage")
LeikaPage = page_schema(LeikaSchema, "LeikaPage")


@blp.route("/themenfelder")
@blp.etag
@blp.response(200, ThemenfeldSchema(many=True))
def list_themenfelder():
    """List the 14 OZG Themenfelder."""
    return list(get_session().scalars(select(Themenfeld).order_by(Themenfeld.id)))


@blp.route("/leistungen")
@blp.etag
@blp.arguments(OzgArgs, location="query")
@blp.response(200, OzgPage)
def list_leistungen(args: dict[str, Any]):
    """List OZG-Leistungen, filtered by Themenfeld or name."""
    q = select(OzgLeistung)
    if args.get("themenfeld") is not None:
        q = q.where(OzgLeistung.themenfeld_id == args["themenfeld"])
    if args.get("q"):
        q = q.where(func.lower(OzgLeistung.name).like(_like(args["q"]), escape="\\"))
    return id_page(q, OzgLeistung, args, "api_catalogue.list_leistungen")


@blp.route("/leistungen/<int:ozg_id>")
@blp.etag
@blp.response(200, OzgLeistungSchema)
def get_leistung(ozg_id: int):
    """Return one OZG-Leistung."""
    item = get_session().get(OzgLeistung, safe_int(ozg_id))
    if item is None:
        raise NotFound("Diese OZG-Leistung gibt es nicht.")
    return item


@blp.route("/leika")
@blp.etag
@blp.arguments(LeikaArgs, location="query")
@blp.response(200, LeikaPage)
def list_leika(args: dict[str, Any]):
    """List LeiKa-Leistungen, filtered by OZG-ID or name."""
    q = select(LeikaLeistung)
    if args.get("ozg_id") is not None:
        q = q.where(LeikaLeistung.ozg_id == args["ozg_id"])
    if args.get("q"):
        q = q.where(func.lower(LeikaLeistung.name).like(_like(args["q"]), escape="\\"))
    return id_page(q, LeikaLeistung, args, "api_catalogue.list_leika")


@blp.route("/leika/<string:key>")
@blp.etag
@blp.response(200, LeikaSchema)
def get_leika(key: str):
    """Return one LeiKa-Leistung by its 14-digit key."""
    item = get_session().scalar(select(LeikaLeistung).where(LeikaLeistung.key == key[:14]))
    if item is None:
        raise NotFound("Diese LeiKa-Leistung gibt es nicht.")
    return item
