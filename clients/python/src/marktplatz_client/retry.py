"""The retry policy: urllib3's Retry, mounted on the session through requests' HTTPAdapter.

Which requests are retried, and why that is safe:

- A connection that could not be made (refused, DNS, connect timeout): every method. The
  request never reached the server.
- 429 and 503 (with Retry-After honoured), 502 and 504, and a connection that broke after
  the request was sent (reset, read timeout): only where sending the request again cannot
  do anything twice. The server (or a proxy in front of it) may have acted on the first
  attempt: a 502/504 can come from a proxy whose upstream finished the work.
  - GET, HEAD, OPTIONS: read only.
  - PUT, DELETE: idempotent by HTTP's definition, and so in this API (PUT replaces a listing,
    DELETE archives it; a second DELETE may answer with an error, but changes nothing).
  - POST only under /api/v1/sync/: both sync endpoints are upserts keyed by the caller's
    external_id (listings) or the component's url (publiccode.yml), so a repeated request
    leaves the same state. Its answer may then say "unchanged" for items the first attempt
    created. Every other POST (create a listing, submit, reuses, status updates) and PATCH
    is sent once: a repeat could create a second object.
- Nothing else: 4xx other than 429 and 500 are answers, not accidents.

Waits: the first retry goes at once, then backoff * 2**(n-1) seconds plus up to `backoff`
of jitter, never more than max_backoff; a Retry-After header (seconds or an HTTP date) on
429/503 is waited for instead, also capped at max_backoff (a longer wait is cut short and
the request retried, rather than sleeping for hours in a batch job).
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger("marktplatz_client")

RETRY_STATUS = frozenset({429, 502, 503, 504})
#: Methods whose requests may be sent again anywhere (see the module docstring).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Path prefix of the endpoints where POST is an idempotent upsert.
IDEMPOTENT_POST_PREFIX = "/api/v1/sync/"


class ApiRetry(Retry):
    """urllib3's Retry that caps Retry-After at backoff_max and logs each retry."""

    # 413 answers a too-large body; sending it again cannot help, Retry-After or not.
    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})

    def get_retry_after(self, response: Any) -> float | None:
        """Return the server's Retry-After in seconds, at most backoff_max."""
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.backoff_max)

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> ApiRetry:
        """Count one retry (raises MaxRetryError when none is left) and log it."""
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        what = f"answered {response.status}" if response is not None and response.status else (
            f"failed ({type(error).__name__})" if error is not None else "failed")
        host = f"{_pool.scheme}://{_pool.host}:{_pool.port}" if _pool is not None else ""
        log.warning("%s %s%s %s, retry %d", method, host, url, what, len(new.history))
        return new


def retry_policy(retries: int, backoff: float, max_backoff: float, *, post: bool = False) -> ApiRetry:
    """Return the Retry of the client; post=True also retries POST (the sync endpoints)."""
    return ApiRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,  # unknown errors (TLS, proxy): not known to be harmless
        redirect=False,  # requests follows redirects itself
        allowed_methods=IDEMPOTENT_METHODS | ({"POST"} if post else set()),
        status_forcelist=RETRY_STATUS,
        backoff_factor=backoff,
        backoff_max=max_backoff,
        backoff_jitter=backoff,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last answer comes back, and becomes an ApiError
        raise_on_redirect=False,
    )


def mount(session: requests.Session, base_url: str, retries: int, backoff: float, max_backoff: float) -> None:
    """Mount the retrying adapters on session for base_url (the sync endpoints with POST)."""
    session.mount(base_url + "/", HTTPAdapter(max_retries=retry_policy(retries, backoff, max_backoff)))
    session.mount(base_url + IDEMPOTENT_POST_PREFIX,
                  HTTPAdapter(max_retries=retry_policy(retries, backoff, max_backoff, post=True)))
