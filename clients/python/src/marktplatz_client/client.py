"""The client of /api/v1: requests, problem+json errors, pagination and sync helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import urlsplit

import requests

from . import __version__
from .retry import mount
from .types import Change, ChangePage, Page, Problem, PubliccodeResult, SyncSummary

BATCH = 500  # the sync endpoint's bound on items a request
ENTITY_PAGE = 100  # the feed's page bound with include=entity
USER_AGENT = f"marktplatz-client/{__version__} python-requests/{requests.__version__}"


class ApiError(Exception):
    """The API answered with an error; problem holds the RFC 9457 body ({} if there was none)."""

    def __init__(self, status: int, problem: Problem | dict[str, Any] | None, text: str = "") -> None:
        self.status = status
        self.problem: Problem = cast(Problem, problem or {})
        detail = self.problem.get("detail") or self.problem.get("title") or text[:200]
        super().__init__(f"HTTP {status}: {detail}")


class MarktplatzClient:
    """A small, resilient client for /api/v1 (retries: see marktplatz_client.retry).

    session: a requests.Session to use; the client mounts its retrying adapters on it for
    base_url (and only there).
    """

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
        mount(self.session, self.base_url, retries, backoff, max_backoff)

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        if not path.startswith("/api/"):
            path = "/api/v1/" + path.lstrip("/")
        return self.base_url + path

    def _same_server(self, link: str) -> str:
        """Return link's path and query on base_url (a server behind a proxy may name another host).

        So the next page goes where this client is configured to go, with its retries, and
        the token is never sent to a host named only by a response.
        """
        parts = urlsplit(link)
        at = parts.path.find("/api/")
        path = parts.path[at:] if at >= 0 else parts.path
        return self.base_url + path + (f"?{parts.query}" if parts.query else "")

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request (retried as the policy allows); raise ApiError on a 4xx/5xx answer.

        path: "listings", "/api/v1/listings" or an absolute URL. Connection failures that
        outlast the retries raise requests.ConnectionError (or requests.Timeout).
        """
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        headers.setdefault("Accept", "application/json")
        headers.setdefault("User-Agent", USER_AGENT)
        kwargs.setdefault("timeout", self.timeout)
        resp = self.session.request(method, self._url(path), headers=headers, **kwargs)
        if resp.status_code >= 400:
            try:
                problem = resp.json()
            except ValueError:
                problem = None
            raise ApiError(resp.status_code, problem if isinstance(problem, dict) else None, resp.text)
        return resp

    def get(self, path: str, **params: Any) -> Any:
        """GET a resource and return its JSON (parameters that are None are left out)."""
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None}).json()

    def iter_pages(self, path: str, **params: Any) -> Iterator[Page[dict[str, Any]]]:
        """Yield every page of a cursor-paginated list, following links.next."""
        page = self.get(path, **params)
        while True:
            yield page
            nxt = (page.get("links") or {}).get("next")
            if not nxt:
                return
            page = self.request("GET", self._same_server(nxt)).json()

    def paginate(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Yield every item of a cursor-paginated list, following links.next."""
        for page in self.iter_pages(path, **params):
            yield from page["items"]

    def push_listings(self, items: list[dict[str, Any]], full_sync: bool = False,
                      then: str | None = None) -> SyncSummary:
        """Upsert items in batches of 500 and return all results; full_sync needs one batch.

        then: "submit" (for review) or "publish" (directly where the networks allow it,
        else for review); each result's step says what was done. Each result's index is
        the item's position in items.
        """
        if full_sync and len(items) > BATCH:
            raise ValueError("full_sync needs all items in one request (at most 500).")
        total: dict[str, Any] = {"results": [], "archived": [], "summary": {}}
        for start in range(0, max(len(items), 1), BATCH):
            payload: dict[str, Any] = {"items": items[start : start + BATCH], "full_sync": full_sync}
            if then is not None:
                payload["then"] = then
            body = self.request("POST", "sync/listings", json=payload).json()
            for r in body["results"]:
                r["index"] += start
            total["results"] += body["results"]
            total["archived"] += body["archived"]
            for key, n in body["summary"].items():
                total["summary"][key] = total["summary"].get(key, 0) + n
        return cast(SyncSummary, total)

    def push_publiccode(self, text: str | bytes) -> PubliccodeResult:
        """Import a publiccode.yml as a component of the token's municipality."""
        data = text.encode("utf-8") if isinstance(text, str) else text
        return self.request("POST", "sync/publiccode", data=data, headers={"Content-Type": "application/yaml"}).json()

    def changes_page(self, after: str | None = None, limit: int = 500, include_entity: bool = False,
                     entity_type: str | None = None, ags: str | None = None,
                     network: str | None = None) -> ChangePage:
        """Return one page of the change feed after the cursor (with include_entity at most 100)."""
        if include_entity:
            limit = min(limit, ENTITY_PAGE)
        return self.get("changes", after=after, limit=limit, include="entity" if include_entity else None,
                        entity_type=entity_type, ags=ags, network=network)

    def iter_change_pages(self, after: str | None = None, limit: int = 500, include_entity: bool = False,
                          entity_type: str | None = None, ags: str | None = None,
                          network: str | None = None) -> Iterator[ChangePage]:
        """Yield non-empty change pages until the feed is caught up (an empty page).

        Resume later with the last page's next_cursor as after; filters as in changes_page.
        """
        while True:
            page = self.changes_page(after, limit, include_entity, entity_type, ags, network)
            if not page["items"]:
                return
            yield page
            after = page["next_cursor"]

    def iter_changes(self, after: str | None = None, limit: int = 500, include_entity: bool = False,
                     entity_type: str | None = None, ags: str | None = None,
                     network: str | None = None) -> Iterator[Change]:
        """Yield every change after the cursor until the feed is caught up."""
        for page in self.iter_change_pages(after, limit, include_entity, entity_type, ags, network):
            yield from page["items"]
