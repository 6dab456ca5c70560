"""Outbound requests pin the DNS answer: resolve once, vet every address, connect to it.

Every server here is one the test starts on 127.0.0.1. The "public" address a fake resolver
returns is never dialled: the socket layer is patched to record the address it is asked
for and to reach the local server instead, so the test sees where the connection would go.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests
from sqlalchemy import select
from urllib3.util import connection as u3_connection

from marktplatz.core import outbound
from marktplatz.models import WebhookDelivery
from marktplatz.services import webhooks

from . import factories as f

PUBLIC = "93.184.216.34"
HOST = "hooks.example.org"


class Server:
    """A local HTTP(S) server recording each request's Host header."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.hosts: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                outer.hosts.append(self.headers.get("Host", ""))
                length = int(self.headers.get("Content-Length", 0) or 0)
                self.rfile.read(length)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *_args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Rebinding:
    """A resolver that answers PUBLIC first and 127.0.0.1 afterwards (a DNS rebinding)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers) or [[PUBLIC], ["127.0.0.1"]]
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return self.answers[min(len(self.calls) - 1, len(self.answers) - 1)]


@pytest.fixture
def dialled(monkeypatch):
    """Record every address the transport connects to; route PUBLIC to the local server."""
    seen: list[tuple[str, int]] = []
    real = u3_connection.create_connection

    def fake(address, *args, **kwargs):
        seen.append(address)
        host, port = address
        if host == PUBLIC:
            host = "127.0.0.1"
        return real((host, port), *args, **kwargs)

    monkeypatch.setattr(u3_connection, "create_connection", fake)
    return seen


def test_connection_goes_to_the_address_that_was_checked(dialled):
    resolver = Rebinding()
    with Server() as srv:
        resp = outbound.request("GET", f"http://{HOST}:{srv.port}/x", outbound.Policy(resolver=resolver))
    assert resp.status_code == 200
    assert resolver.calls == [HOST]  # resolved once: the rebinding answer is never asked for
    assert dialled == [(PUBLIC, srv.port)]  # connected to the vetted address, not re-resolved
    assert srv.hosts == [f"{HOST}:{srv.port}"]  # the Host header keeps the name


def test_rebinding_after_the_check_is_refused_at_connect(dialled):
    """check_url (as at registration) sees PUBLIC; the connection sees 127.0.0.1 and refuses."""
    resolver = Rebinding()
    policy = outbound.Policy(resolver=resolver)
    with Server() as srv:
        url = f"http://{HOST}:{srv.port}/x"
        outbound.check_url(url, policy)
        with pytest.raises(outbound.OutboundRefused) as exc:
            outbound.request("GET", url, policy)
    assert dialled == [] and srv.hosts == []
    assert "127.0.0.1" not in str(exc.value) and HOST not in str(exc.value)


def test_every_address_of_an_answer_is_checked(dialled):
    resolver = Rebinding([PUBLIC, "10.0.0.1"])
    with pytest.raises(outbound.OutboundRefused) as exc:
        outbound.request("GET", f"http://{HOST}/", outbound.Policy(resolver=resolver))
    assert dialled == [] and "10.0.0.1" not in str(exc.value)


def test_unknown_and_internal_names_get_the_same_refusal():
    def unknown(host, port):
        raise OSError("Name or service not known")

    with pytest.raises(outbound.OutboundRefused) as a:
        outbound.check_url("http://db.intern/", outbound.Policy(resolver=unknown))
    with pytest.raises(outbound.OutboundRefused) as b:
        outbound.check_url("http://db.intern/", outbound.Policy(resolver=lambda h, p: ["10.1.2.3"]))
    assert str(a.value) == str(b.value) == outbound.REFUSED_ADDRESS


def test_proxy_settings_from_the_environment_are_ignored(dialled, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    with Server() as srv:
        resp = outbound.request("GET", f"http://{HOST}:{srv.port}/", outbound.Policy(resolver=Rebinding()))
    assert resp.status_code == 200 and dialled == [(PUBLIC, srv.port)]


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for HOST (its own CA), made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={HOST}",
         "-addext", f"subjectAltName=DNS:{HOST}"],
        check=True, capture_output=True,
    )
    return cert, key


def test_https_verifies_the_certificate_for_the_host_name(dialled, certificate):
    """The connection goes to the IP, but SNI and the certificate check use the name."""
    cert, key = certificate
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    names: list[str | None] = []
    ctx.sni_callback = lambda sock, name, _ctx: names.append(name)
    with Server(ctx) as srv:
        policy = outbound.Policy(resolver=Rebinding([PUBLIC]), timeout=5)
        resp = outbound.request("GET", f"https://{HOST}:{srv.port}/", policy, verify=str(cert))
        assert resp.status_code == 200
        with pytest.raises(requests.exceptions.SSLError):  # the system CAs do not know it
            outbound.request("GET", f"https://{HOST}:{srv.port}/", policy)
    assert names[0] == HOST and dialled[0] == (PUBLIC, srv.port)


def test_webhook_delivery_after_a_rebinding_is_refused(app, session, dialled):
    """Registered while the name was public; at delivery it points to loopback: refused."""
    net = f.network(session, "n1", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", f.MANNHEIM, [net])
    owner = f.user(session, "officer", f.FREIBURG)
    with Server() as srv:
        webhooks.create_webhook(session, owner, owner.organisation, f"http://{HOST}:{srv.port}/hook",
                                "s" * 32)  # tests/conftest.py resolves *.example.org as public
        app.config["OUTBOUND_RESOLVER"] = lambda host, port: ["127.0.0.1"]
        f.listing(session, owner, publish_by=coord)
        webhooks.deliver_due(session, app.config)
    assert srv.hosts == [] and dialled == []
    session.expire_all()
    d = session.scalar(select(WebhookDelivery))
    assert d.last_error.startswith("Abgelehnt") and "127.0.0.1" not in d.last_error
