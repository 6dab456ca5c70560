"""Attack suite: XSS, CSRF, SQL injection, SSRF, session fixation, secrets, headers, throttling.

Every test counts the cases it tried and prints the figure (`pytest -s` shows them).
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from marktplatz import create_app
from marktplatz.core.outbound import OutboundRefused, Policy
from marktplatz.core.outbound import request as outbound_request
from marktplatz.models import AuditEvent, ChangeLog, Listing, Reuse, StatusUpdate, User
from marktplatz.services import accounts, listings, reuse

from . import factories as f
from .live_server import free_port, gunicorn

# Each payload sets window.__xss when it runs, so the browser test can tell.
XSS_PAYLOADS = [
    "<script>window.__xss=1</script>",
    '"><script>window.__xss=2</script>',
    "'><img src=x onerror=window.__xss=3>",
    '<img src="x" onerror="window.__xss=4">',
    "<svg onload=window.__xss=5>",
    "<body onload=window.__xss=6>",
    '<iframe src="javascript:window.__xss=7"></iframe>',
    '<a href="javascript:window.__xss=8">Klick</a>',
    "[Klick](javascript:window.__xss=9)",
    "[Daten](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTA8L3NjcmlwdD4=)",
    "<details open ontoggle=window.__xss=11>",
    "<input autofocus onfocus=window.__xss=12>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=13>",
    '<div style="background:url(javascript:window.__xss=14)">x</div>',
    "</textarea><script>window.__xss=15</script>",
    "<video><source onerror=window.__xss=16></video>",
    '<object data="javascript:window.__xss=17"></object>',
]
TEXT_FIELDS = ("title", "summary", "description", "contact_name", "reuse_terms", "partners",
               "platform", "technologies")


class _TagCollector(HTMLParser):
    """Collect every element and attribute the browser would see."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script",):
            src = dict(attrs).get("src") or ""
            if not src.startswith("/static/"):
                self.problems.append(f"<{tag}> without a static src")
        # Our server-rendered charts are <svg role="img">; any event handler, script or
        # javascript: URL inside an svg is still caught by the checks below.
        if tag == "svg" and dict(attrs).get("role") == "img":
            pass
        elif tag in ("iframe", "object", "embed", "svg", "math", "base"):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            low = (value or "").strip().lower()
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "data", "formaction") and low.startswith(
                ("javascript:", "data:", "vbscript:")
            ):
                self.problems.append(f"<{tag} {name}={low[:30]}>")
            if name == "style":
                self.problems.append(f"<{tag} style=...>")


def dangerous_markup(html: str) -> list[str]:
    """Return the active markup in html that did not come from our templates."""
    parser = _TagCollector()
    parser.feed(html)
    return parser.problems


def xss_listing_data(payload: str, n: int) -> dict[str, Any]:
    """Return listing input with payload in every free-text field."""
    data = f.listing_data()
    for field in TEXT_FIELDS:
        data[field] = f"{payload} {n}" if field == "title" else payload
    data["tags"] = [f"tag{n}"]  # tags are letters and digits only: see the validation test
    return data


def test_tags_with_markup_are_refused_at_input(session):
    """Tag input is validated: markup payloads never get stored."""
    from marktplatz.services.errors import Invalid

    officer = f.user(session, "officer", f.FREIBURG)
    for payload in XSS_PAYLOADS:
        with pytest.raises(Invalid) as err:
            listings.create_listing(session, officer, {**f.listing_data(), "tags": [payload[:60]]})
        assert "tags" in err.value.errors
    assert session.scalar(select(Listing.id)) is None


@pytest.fixture
def xss_world(session):
    """Publish one listing per payload, with a status update and a reuse carrying it too."""
    net = f.network(session, "xss-netz", f.FREIBURG, f.MANNHEIM)
    admin = f.user(session, "admin", ags=None)
    owner = f.user(session, "officer", f.FREIBURG, email="xss-owner@example.org")
    reuser = f.user(session, "officer", f.MANNHEIM, email="xss-reuser@example.org")
    coord = f.user(session, "coordinator", ags=None, networks=[net], email="xss-coord@example.org")
    items = []
    for n, payload in enumerate(XSS_PAYLOADS):
        item = listings.create_listing(session, owner, xss_listing_data(payload, n))
        listings.submit_for_review(session, owner, item)
        from marktplatz.services import moderation

        moderation.approve(session, admin, item, payload)
        listings.post_status_update(session, owner, item, {"title": payload[:150], "body": payload})
        reuse.declare_reuse(session, reuser, item, {"stage": "pilot", "note": payload})
        items.append(item)
    session.commit()
    return {"items": items, "owner": owner, "reuser": reuser, "coord": coord, "admin": admin}


def _urls_showing_listings(app, items) -> list[str]:
    """Return every GET URL that may render the listings: all routes, filled with real values."""
    urls: set[str] = set()
    first = items[0]
    values = {"slug": first.slug, "key": first.organisation.key, "id": first.id,
              "listing_id": first.id, "ags": first.organisation.ags}
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint == "static":
            continue
        if not set(rule.arguments) <= set(values):
            continue
        urls.add(rule.build({a: values[a] for a in rule.arguments}, append_unknown=False)[1])
    for item in items:
        urls.add(f"/eintraege/{item.slug}")
    return sorted(urls)


@pytest.mark.parametrize("who", ["anonymous", "owner", "coord", "admin"])
def test_xss_payloads_escaped_on_every_page(app, client, auth, xss_world, who):
    """Payloads in every text field never become active markup, for any viewer."""
    if who != "anonymous":
        auth.login(xss_world[who].email)
    urls = _urls_showing_listings(app, xss_world["items"])
    problems, cases = [], 0
    for url in urls:
        resp = client.get(url)
        assert resp.status_code < 500, url
        if resp.mimetype not in ("text/html", "application/xhtml+xml"):
            # JSON, CSV and Atom carry the raw text by design; escaping is the job of
            # whatever renders them as HTML. Their content types are checked below.
            assert resp.mimetype != "text/html"
            continue
        body = resp.get_data(as_text=True)
        for issue in dangerous_markup(body):
            problems.append(f"{url}: {issue}")
        cases += 1
    assert not problems, "\n".join(problems[:20])
    detail = client.get(f"/eintraege/{xss_world['items'][0].slug}").get_data(as_text=True)
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in detail  # escaped, still readable
    print(f"XSS: {len(XSS_PAYLOADS)} payloads x {len(TEXT_FIELDS) + 4} fields, {cases} pages as {who}")


@pytest.mark.browser
@pytest.mark.sqlite_only  # what runs is the templates' escaping; both backends store the payloads
def test_xss_no_script_runs_in_a_real_browser(app, xss_world, tmp_path, browser):
    """Chromium with CSP bypassed (so escaping alone is tested) runs none of the payloads.

    On SQLite only: the pages built from payloads stored in PostgreSQL are checked by
    test_xss_payloads_escaped_on_every_page, for every viewer class, on both backends."""
    urls = [u for u in _urls_showing_listings(app, xss_world["items"])
            if not u.startswith(("/api/", "/export/", "/feeds/")) and not u.endswith((".atom", ".csv", ".json", ".yml"))]
    detail_urls = {f"/eintraege/{item.slug}" for item in xss_world["items"]}
    dialogs: list[str] = []
    with gunicorn(app.config["DATABASE_URL"], str(tmp_path / "live"), workers=2) as server:
        context = browser.new_context(bypass_csp=True)
        try:
            page = context.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(server.url + "/anmelden")
            page.fill("input[name=email]", xss_world["owner"].email)
            page.fill("input[name=password]", f.PASSWORD)
            page.click("button[type=submit]")
            for url in urls:
                page.goto(server.url + url)
                page.wait_for_load_state("load")
                flag = page.evaluate("() => window.__xss")
                assert flag is None, f"payload {flag} ran on {url}"
                if url in detail_urls:  # the payload is on the page, as plain text
                    text = page.inner_text("body")
                    assert "__xss" in text or "base64" in text, url
        finally:
            context.close()
    assert not dialogs
    print(f"browser XSS: {len(urls)} pages loaded, no payload ran")


def f_in_ci() -> bool:
    """Tell whether this runs under CI (where nothing may skip)."""
    from .conftest import IN_CI

    return IN_CI


def _fingerprint(session) -> dict[str, list[tuple]]:
    session.expire_all()
    return {m.__tablename__: [tuple(r) for r in session.execute(select(m.__table__)).all()]
            for m in (Listing, AuditEvent, ChangeLog, StatusUpdate, Reuse, User)}


def _dummy_url(rule, values: dict[str, Any]) -> str:
    args = {a: values.get(a, 1 if "int" in str(rule._converters[a]).lower() else "x")
            for a in rule.arguments}
    return rule.build(args, append_unknown=False)[1]


def test_csrf_required_on_every_state_changing_form(app, session, tmp_path):
    """With CSRF on, every POST route outside /api/ without a token gives 400 and changes nothing."""
    officer = f.user(session, "officer", f.FREIBURG, email="csrf@example.org")
    item = f.listing(session, officer)
    csrf_app = create_app({**{k: app.config[k] for k in ("DATABASE_URL", "INDEX_DIR", "MAIL_DIR")},
                           "TESTING": True, "SECRET_KEY": "csrf-secret", "WTF_CSRF_ENABLED": True})
    from .conftest import IsolatedClient

    csrf_app.test_client_class = IsolatedClient
    client = csrf_app.test_client()
    # Signing in needs the token from the form; with it, sign-in works.
    page = client.get("/anmelden").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/anmelden", data={"email": officer.email, "password": f.PASSWORD}).status_code == 400
    resp = client.post("/anmelden", data={"email": officer.email, "password": f.PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    before = _fingerprint(session)
    tried = 0
    for rule in csrf_app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            url = _dummy_url(rule, {"slug": item.slug, "id": item.id, "key": item.organisation.key})
            resp = client.open(url, method=method, data={"title": "CSRF", "new_password": "x" * 12,
                                                         "repeat_password": "x" * 12,
                                                         "current_password": f.PASSWORD})
            assert resp.status_code == 400, (method, url, resp.status_code)
            tried += 1
    assert tried >= 2
    assert _fingerprint(session) == before
    # Still signed in: the refused logout did not log us out.
    assert client.get("/konto/passwort").status_code == 200
    csrf_app.extensions["sqlalchemy_engine"].dispose()
    print(f"CSRF: {tried} state-changing routes refused without token")


SQLI = [
    "' OR '1'='1", "1; DROP TABLE listing; --", "\" OR 1=1 --", "1' UNION SELECT password_hash FROM user_account --",
    "%' AND 1=CAST((SELECT password_hash FROM user_account LIMIT 1) AS INT) --", "' ; UPDATE listing SET title='x' --",
    "0x27", "\\' OR 1=1 #", "1)) OR ((1=1", "-1", "99999999999999999999", "*", "%", "_", "ä' OR 'ö",
    "\x00", "a\x00b", "'||pg_sleep(5)||'",
]
# Every GET route gets the values of each kind (quotes, statement break, overflow, wildcard,
# NUL, sleep) and three of the others in rotation, so each value still meets about a quarter
# of the routes: the whole matrix cost 80 s per backend.
SQLI_EVERY_ROUTE = ["' OR '1'='1", "1; DROP TABLE listing; --", "99999999999999999999", "%", "a\x00b",
                    "'||pg_sleep(5)||'"]
SQLI_ROTATING = [v for v in SQLI if v not in SQLI_EVERY_ROUTE]


def _sqli_values(route_number: int) -> list[str]:
    start = 3 * route_number
    return SQLI_EVERY_ROUTE + [SQLI_ROTATING[(start + k) % len(SQLI_ROTATING)] for k in range(3)]
COMMON_PARAMS = {"q", "seite", "page", "kind", "art", "status", "land", "ozg", "leika", "tag", "sort",
                 "phase", "kommune", "netzwerk", "network", "reifegrad", "lizenz", "format", "since",
                 "cursor", "limit", "per_page", "next", "typ", "themenfeld", "lebenslage"}


def _params_of(view: Any) -> set[str]:
    try:
        src = inspect.getsource(view)
    except (OSError, TypeError):
        return set()
    return set(re.findall(r"request\.args\.get(?:list)?\(\s*[\"'](\w+)", src))


def test_sql_injection_in_every_filter_is_harmless(app, client, session):
    """Injection strings in every query parameter of every GET route: no 500, no change."""
    officer = f.user(session, "officer", f.FREIBURG)
    admin = f.user(session, "admin", ags=None)
    item = f.listing(session, officer, publish_by=admin)
    before = _fingerprint(session)
    cases = 0
    tried: set[str] = set()
    rules = [r for r in app.url_map.iter_rules() if "GET" in (r.methods or set()) and r.endpoint != "static"]
    for number, rule in enumerate(sorted(rules, key=lambda r: r.rule)):
        params = COMMON_PARAMS | _params_of(app.view_functions[rule.endpoint])
        for value in _sqli_values(number):
            tried.add(value)
            url = _dummy_url(rule, {"slug": item.slug, "key": item.organisation.key})
            resp = client.get(url, query_string={p: value for p in params})
            assert resp.status_code < 500, (url, value, resp.status_code)
            cases += len(params)
            if rule.arguments:
                # int converters refuse non-digits at routing (404); inject into the others.
                path_url = _dummy_url(rule, {a: value.replace("/", "") or "x" for a in rule.arguments
                                             if "int" not in str(rule._converters[a]).lower()})
                resp = client.get(path_url)
                assert resp.status_code < 500, (path_url, resp.status_code)
                cases += 1
    assert _fingerprint(session) == before
    assert tried == set(SQLI)
    print(f"SQL injection: {cases} parameter cases, no error, no change")


# --- SSRF -----------------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []
    redirect_to: str | None = None

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits.append(self.path)
        if self.path.startswith("/redirect") and self.server.redirect_to:  # type: ignore[attr-defined]
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to + self.path)  # type: ignore[attr-defined]
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"secret internal data")

    def log_message(self, *_args: Any) -> None:
        return None


@pytest.fixture
def local_servers():
    """Start two local HTTP servers: 127.0.0.1 (allow-listed) and 127.0.0.2 (internal)."""
    servers = []
    threads = []
    try:
        for host in ("127.0.0.1", "127.0.0.2"):
            handler = type(f"Rec{host}", (_Recorder,), {"hits": []})
            srv = ThreadingHTTPServer((host, free_port(host)), handler)
            srv.redirect_to = None  # type: ignore[attr-defined]
            t = threading.Thread(target=srv.serve_forever, daemon=True)
            t.start()
            servers.append(srv)
            threads.append(t)
        yield servers
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()


def test_ssrf_targets_are_refused(local_servers):
    """Loopback, link-local metadata, private ranges, odd notations and non-HTTP schemes are refused."""
    inner = local_servers[1]
    port = inner.server_address[1]
    targets = [
        f"http://127.0.0.2:{port}/", f"http://127.0.0.1:{local_servers[0].server_address[1]}/",
        f"http://localhost:{port}/", "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/", "http://10.0.0.1/", "http://172.16.0.1/", "http://192.168.1.1/",
        "http://100.64.0.1/", "http://0.0.0.0/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
        "http://2130706433/", "http://0x7f000001/", "http://127.1/", "http://017700000001/",
        "file:///etc/passwd", "gopher://127.0.0.1:25/", "ftp://127.0.0.1/",
        f"http://user:pw@127.0.0.2:{port}/", "http://[fe80::1]/",
    ]
    refused = 0
    for url in targets:
        with pytest.raises(OutboundRefused):
            outbound_request("GET", url, Policy(timeout=2))
        refused += 1
    assert inner.RequestHandlerClass.hits == [] and local_servers[0].RequestHandlerClass.hits == []
    print(f"SSRF: {refused} direct targets refused")


@pytest.mark.parametrize("target", ["http://127.0.0.2:{port}", "http://169.254.169.254",
                                    "http://[::1]:{port}", "http://10.1.2.3"])
def test_ssrf_redirect_from_allowed_server_is_refused(local_servers, target):
    """A redirect from an allow-listed server to an internal address is checked again and refused."""
    outer, inner = local_servers
    outer.redirect_to = target.format(port=inner.server_address[1])  # type: ignore[attr-defined]
    policy = Policy(allowlist=("127.0.0.1",), timeout=2)
    ok = outbound_request("GET", f"http://127.0.0.1:{outer.server_address[1]}/plain", policy)
    assert ok.status_code == 200  # the allow-list itself works
    with pytest.raises(OutboundRefused):
        outbound_request("GET", f"http://127.0.0.1:{outer.server_address[1]}/redirect", policy)
    assert inner.RequestHandlerClass.hits == []


# --- sessions, passwords, headers, throttling -------------------------------------------------


def test_session_fixation_prevented_on_login(app, client, session):
    """A session planted before sign-in is replaced; the old cookie does not become signed in."""
    officer = f.user(session, "officer", f.FREIBURG)
    with client.session_transaction() as sess:
        sess["planted"] = "by-attacker"
    old_cookie = client.get_cookie("session").value
    resp = client.post("/anmelden", data={"email": officer.email, "password": f.PASSWORD})
    assert resp.status_code == 302
    new_cookie = client.get_cookie("session").value
    assert new_cookie != old_cookie
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("_user_id")
    assert client.get("/konto/passwort").status_code == 200
    from .conftest import IsolatedClient

    app.test_client_class = IsolatedClient
    attacker = app.test_client()
    attacker.set_cookie("session", old_cookie)
    resp = attacker.get("/konto/passwort")
    assert resp.status_code == 302 and "/anmelden" in resp.headers["Location"]


def test_passwords_hashed_at_rest_and_never_logged(app, client, session, caplog):
    """Passwords are stored as scrypt/pbkdf2 hashes and appear in no log record."""
    secret = "Geheim-Passwort-1234"
    caplog.set_level(logging.DEBUG)
    user = accounts.create_user(session, "hash@example.org", "Hash Test", secret, "officer",
                                f.org(session, f.FREIBURG))
    client.post("/anmelden", data={"email": "hash@example.org", "password": secret + "x"})
    client.post("/anmelden", data={"email": "hash@example.org", "password": secret})
    client.post("/konto/passwort", data={"current_password": secret, "new_password": secret + "-neu",
                                         "repeat_password": secret + "-neu"})
    session.expire_all()
    stored = session.get(User, user.id).password_hash
    assert stored.startswith(("scrypt:", "pbkdf2:")) and secret not in stored
    assert caplog.records, "expected some log records to check"
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in str(record.args)
    assert secret not in caplog.text


def _get_routes(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or set()) and rule.endpoint != "static":
            urls.append(_dummy_url(rule, {}))
    return urls + ["/gibt-es-nicht", "/static/../../etc/passwd"]


def test_security_headers_on_every_get_route(app, client):
    """CSP without unsafe-inline, nosniff, frame-ancestors and Referrer-Policy on every answer."""
    for url in _get_routes(app):
        resp = client.get(url)
        csp = resp.headers.get("Content-Security-Policy", "")
        assert csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp, url
        assert "frame-ancestors 'none'" in csp, url
        assert "default-src 'self'" in csp and "object-src 'none'" in csp, url
        assert resp.headers.get("X-Content-Type-Options") == "nosniff", url
        assert resp.headers.get("Referrer-Policy") in ("strict-origin-when-cross-origin", "no-referrer", "same-origin"), url


def test_account_waits_after_repeated_failures(app, client, session):
    """After LOGIN_MAX_FAILURES wrong passwords even the right one waits for a while (see test_login_backoff)."""
    app.config["LOGIN_DELAY_SECONDS"] = 30
    officer = f.user(session, "officer", f.FREIBURG)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert client.post("/anmelden", data={"email": officer.email, "password": "falsch-falsch"}).status_code == 422
    resp = client.post("/anmelden", data={"email": officer.email, "password": f.PASSWORD})
    assert resp.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldeversuche. Bitte warten Sie" in resp.get_data(as_text=True)


def test_login_rate_limited_per_ip(app, client):
    """More than 20 sign-in attempts a minute from one address get 429, another address still works."""
    codes = [client.post("/anmelden", data={"email": f"nobody{i}@example.org", "password": "x"},
                         environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code for i in range(21)]
    assert codes[:20] == [422] * 20
    assert codes[20] == 429
    other = client.post("/anmelden", data={"email": "nobody@example.org", "password": "x"},
                        environ_base={"REMOTE_ADDR": "203.0.113.8"})
    assert other.status_code == 422
