"""Safe outbound HTTP (webhooks, publiccode.yml fetching): no SSRF into internal networks.

Only http(s); the host is resolved and every address must be public unless the
configured allow-list (``OUTBOUND_ALLOWLIST``: hosts, IPs or CIDR networks) permits it.
Redirects are followed by hand so each hop is checked again. Responses are size- and
time-limited.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests


class OutboundRefused(Exception):
    """The target URL is not allowed (scheme, address or size)."""


@dataclass
class Policy:
    """Limits for one outbound request."""

    allowlist: tuple[str, ...] = ()
    timeout: float = 10.0
    max_bytes: int = 1_000_000
    max_redirects: int = 3

    @classmethod
    def from_config(cls, config: Any) -> Policy:
        """Build the policy from the app config."""
        raw = config.get("OUTBOUND_ALLOWLIST") or ""
        items = tuple(x.strip() for x in str(raw).split(",") if x.strip())
        return cls(
            allowlist=items,
            timeout=float(config.get("OUTBOUND_TIMEOUT", 10)),
            max_bytes=int(config.get("OUTBOUND_MAX_BYTES", 1_000_000)),
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


def check_url(url: str, policy: Policy) -> None:
    """Raise OutboundRefused unless url is http(s) and resolves only to permitted addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise OutboundRefused("Nur http- und https-Adressen sind erlaubt.")
    host = parts.hostname
    if not host:
        raise OutboundRefused("Die Adresse enthält keinen Host.")
    if parts.username or parts.password:
        raise OutboundRefused("Zugangsdaten in der Adresse sind nicht erlaubt.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, ValueError) as err:
        raise OutboundRefused(f"Der Host {host!r} ist nicht auflösbar.") from err
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if not _is_public(addr) and not _allowed_by_list(host, addr, policy.allowlist):
            raise OutboundRefused(
                f"Die Adresse {host!r} zeigt auf ein internes Netz ({addr}); das ist nicht erlaubt."
            )


def request(method: str, url: str, policy: Policy, **kwargs: Any) -> requests.Response:
    """Send a request with SSRF checks on every hop and a size limit on the body."""
    session = kwargs.pop("session", None) or requests.Session()
    current = url
    for _hop in range(policy.max_redirects + 1):
        check_url(current, policy)
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
