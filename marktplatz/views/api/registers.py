"""API: process registers (read, bulk upsert by the municipality's own process key) and the
network view of priorities (issue 19). The entry schema is the one of the form and the import."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import or_, select

from ...core.db import get_session
from ...models import Organisation
from ...models.process_register import REGISTER_VISIBILITIES
from ...schemas.process import ProcessEntrySchema
from ...services import networks
from ...services import process_priorities as prio
from ...services import process_register as reg
from ...services.errors import Invalid, NotFound
from . import problems
from .common import ApiBlueprint, current_user_or_none, rate_limited, require_scope

blp = ApiBlueprint("api_registers", __name__, url_prefix="/api/v1",
                   description="Prozessregister der Kommunen und Prioritäten der Netzwerke")
problems.install(blp)
rate_limited(blp)


class RegisterSchema(Schema):
    """A municipality's register: who may read it and its processes."""

    ags = fields.Str(dump_only=True)
    municipality = fields.Str(dump_only=True)
    visibility = fields.Str(dump_only=True, metadata={"enum": list(REGISTER_VISIBILITIES)})
    items = fields.List(fields.Nested(ProcessEntrySchema), dump_only=True)


class RegisterUpsertSchema(Schema):
    """Bulk upsert: processes keyed by process_key; optionally the register's visibility."""

    items = fields.List(fields.Nested(ProcessEntrySchema), required=True,
                        validate=validate.Length(min=1, max=reg.MAX_ROWS,
                                                 error=f"1 bis {reg.MAX_ROWS} Prozesse je Aufruf."))
    visibility = fields.Str(load_default=None, allow_none=True, validate=validate.OneOf(
        list(REGISTER_VISIBILITIES), error="Bitte einen der Werte wählen: " + ", ".join(REGISTER_VISIBILITIES) + "."))


class UpsertResultSchema(Schema):
    """What a bulk upsert did."""

    created = fields.Int()
    updated = fields.Int()
    unchanged = fields.Int()
    visibility = fields.Str()


class SolutionSchema(Schema):
    """A listing offered for reuse for the Leistung."""

    listing_id = fields.Int(attribute="listing.id")
    title = fields.Str(attribute="listing.title")
    municipality = fields.Str(attribute="listing.organisation.short_name")
    reifegrad = fields.Str()
    reusers = fields.Int()
    cost_model = fields.Str()


class PrioritySchema(Schema):
    """The figures of one OZG-Leistung across the network's readable registers."""

    ozg_id = fields.Int(attribute="ozg.id")
    name = fields.Str(attribute="ozg.name")
    themenfeld = fields.Str(attribute="ozg.themenfeld.name")
    cases = fields.Int()
    open_cases = fields.Int()
    municipalities = fields.Int()
    analog = fields.Int()
    own_statute = fields.Int()
    without_solution = fields.Int()
    score = fields.Int()
    cases_by_channel = fields.Dict(keys=fields.Str(), values=fields.Int())
    solutions = fields.List(fields.Nested(SolutionSchema))


class NetworkViewSchema(Schema):
    """The network view: registers included and the ranked Leistungen."""

    network = fields.Str(attribute="network.slug")
    members = fields.Int()
    registers = fields.List(fields.Str(), attribute="register_ags")
    items = fields.List(fields.Nested(PrioritySchema), attribute="priorities")


class NetworkViewArgs(Schema):
    """Filter and order of the network view."""

    themenfeld = fields.Int(load_default=None, validate=validate.Range(min=1, max=99))
    sort = fields.Str(load_default="prioritaet", validate=validate.OneOf(list(prio.SORTS)))


def _org(key: str) -> Organisation:
    org = get_session().scalar(select(Organisation).where(
        or_(Organisation.ags == key[:12], Organisation.key == key[:40])))
    if org is None:
        raise NotFound("Diese Kommune gibt es nicht.")
    return org


def _register_out(user: Any, org: Organisation) -> dict[str, Any]:
    register = reg.get_register(get_session(), user, org)
    entries = register.entries if register is not None else []
    return {"ags": org.ags or org.key, "municipality": org.short_name,
            "visibility": register.visibility if register is not None else "private",
            "items": [reg.entry_to_dict(user, e) for e in entries]}


@blp.route("/municipalities/<string:key>/processes")
@blp.response(200, RegisterSchema)
def get_register(key: str):
    """Return a municipality's process register, if the caller may read it."""
    return _register_out(current_user_or_none(), _org(key))


@blp.route("/municipalities/<string:key>/processes", methods=["PUT"])
@blp.arguments(RegisterUpsertSchema)
@blp.response(200, UpsertResultSchema)
def upsert_register(data: dict[str, Any], key: str):
    """Create or update processes of the token's municipality by process_key, all or nothing."""
    p = require_scope("write")
    session = get_session()
    org = _org(key)
    try:
        result = reg.upsert_entries(session, p.user, org, list(enumerate(data["items"])))
    except Invalid as err:
        rows = err.errors.get("zeilen")
        raise Invalid({"items": rows} if rows is not None else err.errors, err.message) from err
    register = reg.find_register(session, org)
    if data.get("visibility"):
        register = reg.set_visibility(session, p.user, org, {"visibility": data["visibility"]})
    return {"created": result.created, "updated": result.updated, "unchanged": result.unchanged,
            "visibility": register.visibility if register is not None else "private"}


@blp.route("/networks/<string:slug>/processes")
@blp.arguments(NetworkViewArgs, location="query")
@blp.response(200, NetworkViewSchema)
def network_processes(args: dict[str, Any], slug: str):
    """Return a network's processes per OZG-Leistung, ranked by the priority score."""
    session = get_session()
    user = current_user_or_none()
    net = networks.get_network(session, slug[:80])
    return prio.network_view(session, user, net, args.get("themenfeld"), args.get("sort") or "prioritaet")
