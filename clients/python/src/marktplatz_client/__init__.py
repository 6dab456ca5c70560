"""Python client of the Marktplatz REST API: retries, pagination, typed results, sync helpers.

    client = MarktplatzClient("http://127.0.0.1:5000", token="mpk_...")
    client.push_listings(items)                  # batches of 500, summary of all results
    for change in client.iter_changes(after):    # follows the feed until caught up
        ...
    for change in client.iter_changes(after, include_entity=True, ags="08311000"):
        change["entity"] or change["tombstone"]  # the current state, or "remove it"

Needs requests and urllib3 only (no Flask, no SQLAlchemy, nothing of the server).
"""

from __future__ import annotations

__version__ = "0.1.0"

from .client import BATCH, ENTITY_PAGE, ApiError, MarktplatzClient
from .retry import IDEMPOTENT_METHODS, RETRY_STATUS, ApiRetry, retry_policy
from .types import (
    Change,
    ChangePage,
    Links,
    Listing,
    Municipality,
    OrgRef,
    Page,
    Problem,
    PubliccodeResult,
    PubliccodeWarning,
    Reuse,
    ReuseStageChange,
    StatusUpdate,
    SyncCounts,
    SyncResult,
    SyncStep,
    SyncSummary,
)

__all__ = [
    "BATCH", "ENTITY_PAGE", "IDEMPOTENT_METHODS", "RETRY_STATUS", "ApiError", "ApiRetry", "Change",
    "ChangePage", "Links", "Listing", "MarktplatzClient", "Municipality", "OrgRef", "Page", "Problem",
    "PubliccodeResult", "PubliccodeWarning", "Reuse", "ReuseStageChange", "StatusUpdate", "SyncCounts",
    "SyncResult", "SyncStep", "SyncSummary", "__version__", "retry_policy",
]
