"""Shared pieces of the API: blueprint class, principal, scopes, cursor pages, problems."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request, url_for
from flask_limiter.util import get_remote_address
from flask_smorest import Blueprint
from flask_smorest.etag import _get_etag_ctx
from flask_smorest.exceptions import NotModified, PreconditionFailed
from flask_smorest.utils import resolve_schema_instance
from sqlalchemy import Select, select

from ...core.db import get_session
from ...core.extensions import limiter
from ...services.errors import DomainError, Forbidden
from ...services.tokens import Unauthorized, authenticate
from . import cursor as cursors

JSON_TYPES = ("application/json",)


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint with RFC 9110 ETag comparison and an optional If-Match.

    flask-smorest answers 428 when a PUT/PATCH/DELETE lacks If-Match; sync clients that do
    not track ETags must still be able to write, so the precondition is checked only when
    the client sends one. If-None-Match compares weakly (§ 13.1.2): a proxy that compresses
    (nginx with gzip) turns every ETag into W/"...", and the client sends that back.
    If-Match compares strongly (§ 13.1.1): a weak tag never matches there.
    """

    def _check_precondition(self) -> None:
        return None

    def _check_not_modified(self, etag: str) -> None:
        if request.method in self.METHODS_CHECKING_NOT_MODIFIED and request.if_none_match.contains_weak(etag):
            raise NotModified

    def check_etag(self, etag_data: Any, etag_schema: Any = None) -> None:
        """Compare If-Match strongly with the current representation when the client sent one."""
        ctx = _get_etag_ctx()
        ctx["etag_checked"] = True
        if not request.if_match or not self._is_etag_enabled():
            return
        if etag_schema is not None:
            etag_data = resolve_schema_instance(etag_schema).dump(etag_data)
        if not request.if_match.contains(self._generate_etag(etag_data)):
            raise PreconditionFailed


def accepts(*types: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the request content types a view accepts (others get 415)."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn._api_accepts = types  # type: ignore[attr-defined]
        return fn

    return deco


def read_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a POST view that only reads (no write scope needed)."""
    fn._api_read_only = True  # type: ignore[attr-defined]
    return fn


class Principal:
    """Who is calling: anonymous, or a token acting as its municipality's technical user."""

    def __init__(self, user: Any = None, token: Any = None) -> None:
        self.user = user
        self.token = token

    @property
    def scopes(self) -> set[str]:
        """Return the scopes of the token (empty when anonymous)."""
        return set(self.token.scope_list) if self.token is not None else set()


def principal() -> Principal:
    """Return the caller, authenticating a bearer token once per request."""
    if "api_principal" in g:
        return g.api_principal
    header = request.headers.get("Authorization", "")
    if not header:
        g.api_principal = Principal()
        return g.api_principal
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthorized("Erwartet wird „Authorization: Bearer <Token>“.")
    token, user = authenticate(get_session(), raw.strip())
    g.api_principal = Principal(user, token)
    return g.api_principal


def require_scope(scope: str) -> Principal:
    """Return the principal if its token has scope; 401 without token, 403 without scope."""
    p = principal()
    if p.token is None:
        raise Unauthorized("Für diese Aktion ist ein API-Token nötig.")
    if scope not in p.scopes:
        raise Forbidden(f"Dem API-Token fehlt die Berechtigung „{scope}“.")
    return p


def current_user_or_none() -> Any:
    """Return the acting user, or None for anonymous callers."""
    return principal().user


def token_rate_key() -> str:
    """Key the per-token rate limit by a hash of the presented token."""
    header = request.headers.get("Authorization", "")
    return "tok:" + hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()[:24]


def _no_token() -> bool:
    return not request.headers.get("Authorization")


def rate_limited(blp: Blueprint) -> Blueprint:
    """Apply the shared per-token and per-IP API rate limits to blp."""
    limiter.shared_limit(
        lambda: current_app.config.get("API_RATELIMIT_PER_TOKEN", "600/minute"),
        scope="api-token",
        key_func=token_rate_key,
        exempt_when=_no_token,
    )(blp)
    limiter.shared_limit(
        lambda: current_app.config.get("API_RATELIMIT_PER_IP", "1200/minute"),
        scope="api-ip",
        key_func=get_remote_address,
    )(blp)
    return blp


def decode_cursor(value: str | None, arity: int = 1) -> tuple[int, ...] | None:
    """Decode the `after` argument or raise a 422 naming the field."""
    if value is None:
        return None
    try:
        return cursors.decode(value, arity)
    except cursors.CursorError as err:
        from ...services.errors import Invalid

        raise Invalid({"after": [str(err)]}) from err


def id_page(q: Select, model: Any, args: dict[str, Any], endpoint: str, **view_args: Any) -> dict[str, Any]:
    """Run q as a keyset page ordered by model.id and return items with links.next."""
    limit = args["limit"]
    after = decode_cursor(args.get("after"))
    if after is not None:
        q = q.where(model.id > after[0])
    rows = list(get_session().scalars(q.order_by(model.id).limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = None
    if more and rows:
        params = {k: v for k, v in request.args.items() if k != "after"}
        params.update(view_args)
        nxt = url_for(endpoint, after=cursors.encode(rows[-1].id), _external=True, **params)
    return {"items": rows, "links": {"next": nxt}}


def ranked_cursor(value: str | None) -> tuple[int, ...] | None:
    """Decode the `after` of a ranked list: (position, last id) or, older, (position,)."""
    if value is None:
        return None
    try:
        return cursors.decode(value, 2)
    except cursors.CursorError:
        return decode_cursor(value)


def ranked_page(ids: list[int], model: Any, args: dict[str, Any], endpoint: str,
                extra: Any = None, options: Any = (), anchored: bool = False) -> dict[str, Any]:
    """Return one page of a ranked list of ids (best first) with links.next.

    The cursor holds the position in the ranking, so the ranking of one query stays the
    order across pages; extra, a SQL condition, narrows the ids (e.g. a Themenfeld);
    options are loader options for the page's rows. anchored: the cursor also holds the
    last id handed out, and the next page starts after wherever that id ranks now, so an
    entry ranked in above it meanwhile does not repeat the page's last one (a list whose
    ranking moves while it is read, such as full-text matches).
    """
    limit = args["limit"]
    after = ranked_cursor(args.get("after")) if anchored else decode_cursor(args.get("after"))
    start = after[0] if after is not None else 0
    if extra is not None and ids:
        allowed = set(get_session().scalars(select(model.id).where(model.id.in_(ids), extra)))
        ids = [i for i in ids if i in allowed]
    if after is not None and len(after) == 2 and after[1] in ids:
        start = ids.index(after[1]) + 1
    window = ids[start : start + limit]
    rows = {r.id: r for r in get_session().scalars(
        select(model).where(model.id.in_(window)).options(*options)).unique()} if window else {}
    items = [rows[i] for i in window if i in rows]
    nxt = None
    if start + limit < len(ids):
        params = {k: v for k, v in request.args.items() if k != "after"}
        cursor = cursors.encode(start + limit, window[-1]) if anchored else cursors.encode(start + limit)
        nxt = url_for(endpoint, after=cursor, _external=True, **params)
    return {"items": items, "links": {"next": nxt}}


def safe_int(value: int) -> int:
    """Treat ids outside the database's integer range as not found."""
    if not 0 < value < 2**31:
        raise DomainErrorNotFound()
    return value


class DomainErrorNotFound(DomainError):
    """An id that cannot exist."""

    status = 404
    title = "Nicht gefunden"
