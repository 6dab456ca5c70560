"""API: the OZG catalogue (Themenfelder, OZG-Leistungen, LeiKa)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ...core.db import get_session
from ...models import LeikaLeistung, OzgLeistung, Themenfeld
from ...services import catalogue
from ...services.errors import NotFound
from . import problems
from .common import ApiBlueprint, id_page, ranked_page, rate_limited, safe_int
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
    """List OZG-Leistungen, filtered by Themenfeld; with q, ranked by relevance.

    q searches the names of the OZG-Leistungen and of their LeiKa-Leistungen with the
    German analysis of the listing search (compounds, word forms, synonyms), best first;
    an OZG-ID or the digits of a LeiKa key match exactly.
    """
    return _catalogue_page(args, OzgLeistung, catalogue.find_ozg_ids, OzgLeistung.themenfeld_id,
                           args.get("themenfeld"), "api_catalogue.list_leistungen")


def _catalogue_page(args: dict[str, Any], model: Any, find: Any, column: Any, value: Any, endpoint: str):
    """Return a page of model: ranked by find(q) with q, else by id; column == value narrows it."""
    cond = column == value if value is not None else None
    if args.get("q"):
        return ranked_page(find(get_session(), args["q"]), model, args, endpoint, cond)
    q = select(model)
    if cond is not None:
        q = q.where(cond)
    return id_page(q, model, args, endpoint)


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
    """List LeiKa-Leistungen, filtered by OZG-ID; with q, ranked by relevance (as the OZG list)."""
    return _catalogue_page(args, LeikaLeistung, catalogue.find_leika_ids, LeikaLeistung.ozg_id,
                           args.get("ozg_id"), "api_catalogue.list_leika")


@blp.route("/leika/<string:key>")
@blp.etag
@blp.response(200, LeikaSchema)
def get_leika(key: str):
    """Return one LeiKa-Leistung by its 14-digit key."""
    item = get_session().scalar(select(LeikaLeistung).where(LeikaLeistung.key == key[:14]))
    if item is None:
        raise NotFound("Diese LeiKa-Leistung gibt es nicht.")
    return item
