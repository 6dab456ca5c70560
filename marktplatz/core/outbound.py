"""Safe outbound HTTP (webhooks, publiccode.yml fetching): no SSRF into internal networks.

Only http(s); the host is resolved and every address must be public unless the
configured allow-list (``OUTBOUND_ALLOWLIST``: hosts, IPs or CIDR networks) permits it.

The DNS answer is pinned: the connection itself resolves the host once, checks every
address, and connects only to an address it checked (a transport adapter in the style of
the ``advocate`` library). The URL is left alone, so the ``Host`` header, TLS SNI and
certificate verification still use the host name. A DNS rebinding between a check and the
connection therefore cannot reach loopback or an internal network.

Redirects are followed by hand so each hop is checked again. Responses are size- and
time-limited. Refusals never say what a name resolved to: an answer that names an internal
address, or tells an unknown name from an internal one, maps the internal network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.poolmanager import PoolManager
from urllib3.util import connection as u3_connection

# A resolver returns the addresses of (host, port) as strings; the default is getaddrinfo.
Resolver = Callable[[str, int], Iterable[str]]

REFUSED_ADDRESS = (
    "Diese Adresse ist nicht erlaubt: Ziele müssen öffentlich im Internet erreichbar sein."
)


class OutboundRefused(Exception):
    """The target URL is not allowed (scheme, address or size)."""


@dataclass
class Policy:
    """Limits for one outbound request."""

    allowlist: tuple[str, ...] = ()
    timeout: float = 10.0
    max_bytes: int = 1_000_000
    max_redirects: int = 3
    resolver: Resolver | None = None  # tests inject one; None: the system resolver

    @classmethod
    def from_config(cls, config: Any) -> Policy:
        """Build the policy from the app config."""
        raw = config.get("OUTBOUND_ALLOWLIST") or ""
        items = tuple(x.strip() for x in str(raw).split(",") if x.strip())
        resolver = config.get("OUTBOUND_RESOLVER")
        return cls(
            allowlist=items,
            timeout=float(config.get("OUTBOUND_TIMEOUT", 10)),
            max_bytes=int(config.get("OUTBOUND_MAX_BYTES", 1_000_000)),
            resolver=resolver if callable(resolver) else None,
        )


def _allowed_by_list(host: str, addr: ipaddress._BaseAddress, allowlist: tuple[str, ...]) -> bool:
    for item in allowlist:
        if item.lower() == host.lower():
            return True
        try:
            if addr in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False


def _is_public(addr: ipaddress._BaseAddress) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not (
        addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
        or addr.is_reserved or addr.is_unspecified or getattr(addr, "is_site_local", False)
    ) and addr.is_global


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [info[4][0] for info in infos]


def vetted_addresses(host: str, port: int, policy: Policy) -> list[str]:
    """Resolve host once and return its addresses if every one is permitted, else refuse."""
    host = host.strip("[]")
    try:
        literal = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        literal = None
    if literal is not None:
        answers: list[str] = [str(literal)]
    else:
        try:
            answers = list((policy.resolver or _system_resolver)(host, port))
        except (OSError, UnicodeError, ValueError) as err:
            # An unknown name gets the same answer as an internal one (no DNS oracle).
            raise OutboundRefused(REFUSED_ADDRESS) from err
    addrs: list[str] = []
    for answer in answers:
        try:
            addr = ipaddress.ip_address(str(answer).split("%")[0])
        except ValueError as err:
            raise OutboundRefused(REFUSED_ADDRESS) from err
        if not _is_public(addr) and not _allowed_by_list(host, addr, policy.allowlist):
            raise OutboundRefused(REFUSED_ADDRESS)
        addrs.append(str(addr))
    if not addrs:
        raise OutboundRefused(REFUSED_ADDRESS)
    return addrs


def _check_form(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
    except ValueError as err:
        raise OutboundRefused("Die Adresse ist ungültig.") from err
    if parts.scheme not in ("http", "https"):
        raise OutboundRefused("Nur http- und https-Adressen sind erlaubt.")
    try:
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as err:
        raise OutboundRefused("Die Adresse ist ungültig.") from err
    if not host:
        raise OutboundRefused("Die Adresse enthält keinen Host.")
    if parts.username or parts.password:
        raise OutboundRefused("Zugangsdaten in der Adresse sind nicht erlaubt.")
    return host, port


def check_url(url: str, policy: Policy) -> None:
    """Raise OutboundRefused unless url is http(s) and resolves only to permitted addresses.

    For checks ahead of time (registration). A request checks again when it connects, on
    the answer it connects to.
    """
    host, port = _check_form(url)
    vetted_addresses(host, port, policy)


def failure_reason(err: Exception, policy: Policy) -> str:
    """Say in German why a request failed, without internals (no addresses, no class names)."""
    if isinstance(err, OutboundRefused):
        return f"Abgelehnt: {err}"
    if isinstance(err, requests.exceptions.Timeout):
        return f"Nicht erreichbar: keine Antwort innerhalb von {policy.timeout:g} Sekunden."
    if isinstance(err, requests.exceptions.SSLError):
        return "Nicht erreichbar: Das TLS-Zertifikat des Empfängers ist ungültig."
    if isinstance(err, requests.exceptions.ConnectionError):
        return "Nicht erreichbar: Der Empfänger nimmt keine Verbindung an."
    return "Nicht erreichbar: Die Übertragung ist fehlgeschlagen."


# ---------------------------------------------------------------- pinned transport


class _PinnedMixin:
    """Resolve, vet and connect to a vetted address, in one step, for each new connection."""

    def __init__(self, *args: Any, outbound_policy: Policy, **kwargs: Any) -> None:
        self._outbound_policy = outbound_policy
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        host, port = self._dns_host, self.port  # type: ignore[attr-defined]
        last: OSError | None = None
        for addr in vetted_addresses(host, port, self._outbound_policy):
            try:
                # An IP literal: create_connection does no name resolution of its own.
                return u3_connection.create_connection(
                    (addr, port), self.timeout,  # type: ignore[attr-defined]
                    source_address=self.source_address,  # type: ignore[attr-defined]
                    socket_options=self.socket_options,  # type: ignore[attr-defined]
                )
            except OSError as err:  # includes TimeoutError: try the next vetted address
                last = err
        if isinstance(last, TimeoutError):
            raise ConnectTimeoutError(self, f"Connection to {host} timed out.") from last
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}") from last


class PinnedHTTPConnection(_PinnedMixin, HTTPConnection):
    """An HTTP connection to a vetted address."""


class PinnedHTTPSConnection(_PinnedMixin, HTTPSConnection):
    """An HTTPS connection to a vetted address; SNI and certificate check use the host name."""


class _PinnedPoolManager(PoolManager):
    def __init__(self, policy: Policy, *args: Any, **kwargs: Any) -> None:
        self._outbound_policy = policy
        super().__init__(*args, **kwargs)

    def _new_pool(self, scheme: str, host: str, port: int,
                  request_context: dict[str, Any] | None = None) -> Any:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.ConnectionCls = PinnedHTTPSConnection if scheme == "https" else PinnedHTTPConnection
        pool.conn_kw["outbound_policy"] = self._outbound_policy
        return pool


class PinnedAdapter(HTTPAdapter):
    """A requests transport adapter whose connections go only to addresses the policy allows."""

    def __init__(self, policy: Policy, **kwargs: Any) -> None:
        self._outbound_policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        """Create the pool manager that pins each connection to a vetted address."""
        self._pool_connections, self._pool_maxsize, self._pool_block = connections, maxsize, block
        self.poolmanager = _PinnedPoolManager(
            self._outbound_policy, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Refuse proxies: the connection would go to the proxy, not to a vetted address."""
        raise OutboundRefused("Ausgehende Anfragen über einen Proxy sind nicht vorgesehen.")


def pinned_session(policy: Policy) -> requests.Session:
    """Return a requests session whose every connection is pinned to a vetted address."""
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc from the environment
    adapter = PinnedAdapter(policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def request(method: str, url: str, policy: Policy, **kwargs: Any) -> requests.Response:
    """Send a request with SSRF checks on every hop and a size limit on the body."""
    session = pinned_session(policy)
    try:
        return _request(session, method, url, policy, **kwargs)
    finally:
        session.close()


def _request(session: requests.Session, method: str, url: str, policy: Policy,
             **kwargs: Any) -> requests.Response:
    current = url
    for _hop in range(policy.max_redirects + 1):
        _check_form(current)  # the address itself is vetted by the connection
        resp = session.request(
            method, current, allow_redirects=False, timeout=policy.timeout, stream=True, **kwargs
        )
        if resp.is_redirect and resp.headers.get("Location"):
            current = urljoin(current, resp.headers["Location"])
            resp.close()
            if resp.status_code in (301, 302, 303) and method.upper() != "GET":
                method = "GET"
                kwargs.pop("data", None)
                kwargs.pop("json", None)
            continue
        body = bytearray()
        for chunk in resp.iter_content(65536):
            body.extend(chunk)
            if len(body) > policy.max_bytes:
                resp.close()
                raise OutboundRefused(f"Die Antwort ist größer als {policy.max_bytes} Bytes.")
        resp._content = bytes(body)
        resp._content_consumed = True
        return resp
    raise OutboundRefused("Zu viele Weiterleitungen.")
