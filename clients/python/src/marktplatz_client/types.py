"""Typed shapes of what the API returns (the schemas of /api/v1/openapi.json).

They are TypedDicts: a result *is* the JSON object the server sent, so it can be written
to a file, compared or subscripted as before (``page["items"]``), and a type checker still
knows its keys. Times are ISO 8601 strings as sent (``datetime.fromisoformat`` reads them).
A newer server may send keys not declared here; they are kept in the dict.

Each TypedDict is named after its OpenAPI component (OpenAPI name in the docstring);
tests/test_client.py checks the keys against the live server's OpenAPI document.
"""

# No `from __future__ import annotations`: on Python 3.11 TypedDict reads NotRequired only
# from evaluated annotations (with strings every key would count as required).
from typing import Any, Generic, Literal, NotRequired, TypedDict, TypeVar

T = TypeVar("T")

EntityType = Literal["listing", "reuse", "organisation", "status_update"]
ChangeOp = Literal["created", "updated", "archived", "deleted"]
Step = Literal["submit", "publish"]


class Links(TypedDict):
    """Links of a page: next is the next page's absolute URL, or null (OpenAPI: Links)."""

    next: str | None


class Page(TypedDict, Generic[T]):
    """A cursor-paginated list (OpenAPI: ListingPage, MunicipalityPage, ...)."""

    items: list[T]
    links: Links


class Problem(TypedDict, total=False):
    """An RFC 9457 problem document; errors maps fields to messages on 422 (OpenAPI: Problem)."""

    type: str
    title: str
    status: int
    detail: str
    errors: dict[str, Any]


class OrgRef(TypedDict):
    """A municipality named in another resource (OpenAPI: OrgRef)."""

    id: int
    key: str
    ags: str | None
    name: str


class Municipality(TypedDict):
    """A municipality, Kreis or IT service provider (OpenAPI: Municipality)."""

    id: int
    key: str
    ags: str | None
    ars: str | None
    name: str
    short_name: str
    kind: str
    land_code: str | None
    land: str | None
    kreis_key: str | None
    kreis: str | None
    population: int | None
    postcode: str | None
    website: str | None


class ListingLinks(TypedDict):
    """Absolute links of a listing."""

    self: str
    page: str  # the listing's web page
    publiccode: str


class Origin(TypedDict):
    """Where a mirrored listing or reuse comes from (another Marktplatz instance)."""

    name: str
    url: str


class ListingOrigin(Origin):
    """The origin of a mirrored listing, with its page there."""

    page: str


class Listing(TypedDict):
    """A listing (service, component or project) as the API returns it (OpenAPI: ListingOut)."""

    id: int
    slug: str
    status: str
    organisation: OrgRef
    duplicate_of_id: int | None
    version: int
    created_at: str
    updated_at: str
    published_at: str | None
    archived_at: str | None
    allowed_actions: list[str]
    links: ListingLinks
    origin: ListingOrigin | None  # set when mirrored from another instance (read-only here)
    kind: str
    title: str
    summary: str
    description: str
    tags: list[str]
    ozg_ids: list[int]
    leika_keys: list[str]
    visibility: str
    phase: str | None
    reifegrad: int | None
    reifegrad_model: str | None
    licence: str | None
    repository_url: str | None
    website_url: str | None
    contact_name: str | None
    contact_email: str | None
    reuse_offered: bool
    reuse_terms: str
    cost_model: str | None
    platform: str | None
    technologies: str | None
    maintenance: str | None
    looking_for_partners: bool
    partners: str
    external_id: str | None


class ReuseStageChange(TypedDict):
    """One step in a reuse's history (OpenAPI: ReuseStageChange)."""

    from_stage: str | None
    to_stage: str
    note: str
    changed_at: str


class Reuse(TypedDict):
    """A municipality's reuse of a listing (OpenAPI: ReuseOut)."""

    id: int
    listing_id: int
    organisation: OrgRef
    stage: str
    reason: str
    note: str
    created_at: str
    updated_at: str
    history: list[ReuseStageChange]
    origin: Origin | None  # set when mirrored with its listing from another instance


class StatusUpdate(TypedDict):
    """A status update of a listing (OpenAPI: StatusUpdateOut)."""

    id: int
    listing_id: int
    phase: str | None
    title: str
    body: str
    created_at: str


class Change(TypedDict):
    """One entry of the change feed (OpenAPI: Change).

    entity is only filled with include_entity: the current state of the object (a Listing,
    Reuse, Municipality or StatusUpdate, by entity_type), or None for a tombstone.
    """

    cursor: str
    id: int
    entity_type: EntityType
    entity_id: int
    op: ChangeOp
    organisation_id: int | None
    listing_id: int | None
    created_at: str
    tombstone: bool
    entity: Listing | Reuse | Municipality | StatusUpdate | None


class ChangePage(TypedDict):
    """A page of the change feed; next_cursor is where to continue (OpenAPI: ChangePage)."""

    items: list[Change]
    links: Links
    next_cursor: str | None


class SyncStep(TypedDict):
    """What the sync did after writing an item, when asked with then (OpenAPI: SyncStep)."""

    requested: Step
    done: Step | None
    reason: str | None


class SyncResult(TypedDict):
    """The outcome for one item of a sync batch (OpenAPI: SyncItemResult).

    result is created, updated, unchanged, archived or error; index is the item's position
    in the list given to push_listings (-1 for listings archived by a full sync).
    """

    index: int
    external_id: str | None
    result: str
    id: int | None
    status: str | None
    url: str | None
    page_url: str | None
    step: SyncStep | None
    errors: dict[str, Any]


class SyncCounts(TypedDict):
    """How many items had each result; submitted and published only with then."""

    created: int
    updated: int
    unchanged: int
    error: int
    archived: int
    submitted: NotRequired[int]
    published: NotRequired[int]


class SyncSummary(TypedDict):
    """The outcome of a sync, over all its batches (OpenAPI: SyncResponse)."""

    results: list[SyncResult]
    archived: list[SyncResult]
    summary: SyncCounts


class PubliccodeWarning(TypedDict):
    """A deviation from the publiccode.yml standard that the import tolerated."""

    path: str
    message: str


class PubliccodeResult(TypedDict):
    """The outcome of a publiccode.yml import (OpenAPI: PubliccodeResult)."""

    result: Literal["created", "updated", "unchanged"]
    listing: Listing
    warnings: list[PubliccodeWarning]
