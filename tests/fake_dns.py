"""A resolver for tests: nothing in the suite resolves a real name (no network outside loopback)."""

from __future__ import annotations

import socket

# Names the tests use for webhook targets and the public address they stand for. Nothing
# in the suite resolves a real name (no network outside loopback).
FAKE_DNS = {"example.org": "93.184.216.34", "example.com": "93.184.216.34", "localhost": "127.0.0.1"}


def fake_resolver(host: str, port: int) -> list[str]:
    """Resolve the test names of FAKE_DNS and numeric forms; every other name is unknown."""
    name = host.lower().rstrip(".")
    for known, addr in FAKE_DNS.items():
        if name == known or name.endswith("." + known):
            return [addr]
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP, flags=socket.AI_NUMERICHOST)
    return [info[4][0] for info in infos]
