"""Python client of the Marktplatz REST API: retries with backoff, pagination, sync helpers.

    client = MarktplatzClient("http://127.0.0.1:5000", token="mpk_...")
    client.push_listings(items)                  # batches of 500, summary of all results
    for change in client.iter_changes(after):    # follows links.next until caught up
        ...
    for change in client.iter_changes(after, include_entity=True, ags="08311000"):
        change["entity"] or change["tombstone"]  # the current state, or "remove it"
"""

from __future__ import annotations

__version__ = "0.1.0"

import logging
import random
import time
from collections.abc import Iterator
from typing import Any

import requests

log = logging.getLogger(__name__)

RETRY_STATUS = {429, 502, 503, 504}
BATCH = 500
ENTITY_PAGE = 100  # the feed's page bound with include=entity


class ApiError(Exception):
    """The API answered with an error; problem holds the RFC 9457 body if any."""

    def __init__(self, status: int, problem: dict[str, Any] | None, text: str = "") -> None:
        self.status = status
        self.problem = problem or {}
        detail = self.problem.get("detail") or self.problem.get("title") or text[:200]
        super().__init__(f"HTTP {status}: {detail}")


class MarktplatzClient:
    """A small, resilient client for /api/v1."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.session = session or requests.Session()

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        if not path.startswith("/api/"):
            path = "/api/v1/" + path.lstrip("/")
        return self.base_url + path

    def _delay(self, attempt: int, resp: requests.Response | None) -> float:
        if resp is not None and resp.headers.get("Retry-After", "").isdigit():
            return min(float(resp.headers["Retry-After"]), self.max_backoff)
        return min(self.backoff * (2**attempt), self.max_backoff) * (0.5 + random.random() / 2)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request, retrying connection errors, 429 and 502-504 with backoff."""
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        headers.setdefault("Accept", "application/json")
        url = self._url(path)
        for attempt in range(self.retries + 1):
            resp = None
            try:
                resp = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as err:
                if attempt >= self.retries:
                    raise
                log.warning("%s %s failed (%s), retrying", method, url, type(err).__name__)
            else:
                if resp.status_code not in RETRY_STATUS or attempt >= self.retries:
                    break
                log.warning("%s %s answered %s, retrying", method, url, resp.status_code)
            time.sleep(self._delay(attempt, resp))
        assert resp is not None
        if resp.status_code >= 400:
            try:
                problem = resp.json()
            except ValueError:
                problem = None
            raise ApiError(resp.status_code, problem if isinstance(problem, dict) else None, resp.text)
        return resp

    def get(self, path: str, **params: Any) -> Any:
        """GET a resource and return its JSON."""
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None}).json()

    def paginate(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Yield every item of a cursor-paginated list, following links.next."""
        page = self.get(path, **params)
        while True:
            yield from page["items"]
            nxt = (page.get("links") or {}).get("next")
            if not nxt:
                return
            page = self.request("GET", nxt).json()

    def push_listings(self, items: list[dict[str, Any]], full_sync: bool = False,
                      then: str | None = None) -> dict[str, Any]:
        """Upsert items in batches of 500; full_sync needs all items in one batch.

        then: "submit" (for review) or "publish" (directly where the networks allow it,
        else for review); each result's step says what was done.
        """
        if full_sync and len(items) > BATCH:
            raise ValueError("full_sync needs all items in one request (at most 500).")
        total: dict[str, Any] = {"results": [], "archived": [], "summary": {}}
        for start in range(0, max(len(items), 1), BATCH):
            chunk = items[start : start + BATCH]
            payload: dict[str, Any] = {"items": chunk, "full_sync": full_sync}
            if then is not None:
                payload["then"] = then
            body = self.request("POST", "sync/listings", json=payload).json()
            for r in body["results"]:
                r["index"] += start
            total["results"] += body["results"]
            total["archived"] += body["archived"]
            for key, n in body["summary"].items():
                total["summary"][key] = total["summary"].get(key, 0) + n
        return total

    def push_publiccode(self, text: str | bytes) -> dict[str, Any]:
        """Import a publiccode.yml as a component of the token's municipality."""
        data = text.encode("utf-8") if isinstance(text, str) else text
        return self.request("POST", "sync/publiccode", data=data, headers={"Content-Type": "application/yaml"}).json()

    def changes_page(self, after: str | None = None, limit: int = 500, include_entity: bool = False,
                     entity_type: str | None = None, ags: str | None = None,
                     network: str | None = None) -> dict[str, Any]:
        """Return one page of the change feed after the cursor (with include_entity at most 100)."""
        if include_entity:
            limit = min(limit, ENTITY_PAGE)
        return self.get("changes", after=after, limit=limit, include="entity" if include_entity else None,
                        entity_type=entity_type, ags=ags, network=network)

    def iter_change_pages(self, after: str | None = None, limit: int = 500, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield non-empty change pages until the feed is caught up.

        filters: include_entity, entity_type, ags, network (see changes_page).
        """
        while True:
            page = self.changes_page(after, limit, **filters)
            if not page["items"]:
                return
            yield page
            after = page["next_cursor"]

    def iter_changes(self, after: str | None = None, limit: int = 500, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield every change after the cursor until the feed is caught up."""
        for page in self.iter_change_pages(after, limit, **filters):
            yield from page["items"]
