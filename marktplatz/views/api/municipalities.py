"""API: municipalities (read) and networks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from ...core.db import get_session
from ...models import Network, NetworkMembership, Organisation
from ...services.common import like_pattern
from ...services.errors import NotFound
from . import problems
from .common import ApiBlueprint, id_page, rate_limited
from .schemas import MunicipalityArgs, MunicipalitySchema, NetworkSchema, PageArgs, page_schema

blp = ApiBlueprint(
    "api_municipalities", __name__, url_prefix="/api/v1",
    description="Kommunen, Kreise und Netzwerke (nur lesen)",
)
problems.install(blp)
rate_limited(blp)

MunicipalityPage = page_schema(MunicipalitySchema, "MunicipalityPage")
NetworkPage = page_schema(NetworkSchema, "NetworkPage")


@blp.route("/municipalities")
@blp.etag
@blp.arguments(MunicipalityArgs, location="query")
@blp.response(200, MunicipalityPage)
def list_municipalities(args: dict[str, Any]):
    """List municipalities, filtered by AGS (prefix), name or Land."""
    q = select(Organisation)
    if args.get("ags"):
        q = q.where(Organisation.ags.like(args["ags"].replace("%", "").replace("_", "") + "%"))
    if args.get("name"):
        q = q.where(func.lower(Organisation.name).like(like_pattern(args["name"]), escape="\\"))
    if args.get("land"):
        land = args["land"]
        q = q.where(or_(Organisation.land_code == land, func.lower(Organisation.land) == land.lower()))
    if args.get("kind"):
        q = q.where(Organisation.kind == args["kind"])
    return id_page(q, Organisation, args, "api_municipalities.list_municipalities")


@blp.route("/municipalities/<string:key>")
@blp.etag
@blp.response(200, MunicipalitySchema)
def get_municipality(key: str):
    """Return one municipality by AGS or key."""
    org = get_session().scalar(
        select(Organisation).where(or_(Organisation.ags == key[:12], Organisation.key == key[:40]))
    )
    if org is None:
        raise NotFound("Diese Kommune gibt es nicht.")
    return org


@blp.route("/networks")
@blp.etag
@blp.arguments(PageArgs, location="query")
@blp.response(200, NetworkPage)
def list_networks(args: dict[str, Any]):
    """List the cooperation networks with their members."""
    q = select(Network).options(selectinload(Network.memberships).selectinload(NetworkMembership.organisation))
    return id_page(q, Network, args, "api_municipalities.list_networks")


@blp.route("/networks/<string:slug>")
@blp.etag
@blp.response(200, NetworkSchema)
def get_network(slug: str):
    """Return one network by its slug."""
    net = get_session().scalar(select(Network).where(Network.slug == slug[:80]))
    if net is None:
        raise NotFound("Dieses Netzwerk gibt es nicht.")
    return net
