"""Configuration defaults, overridden by MARKTPLATZ_* environment variables."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

PASSWORD_HASH = "scrypt"
FAST_TEST_PASSWORD_HASH = "pbkdf2:sha256:1000"


class ConfigError(RuntimeError):
    """Raised when the configuration cannot be used to start the app."""


DEFAULTS: dict[str, Any] = {
    # "development" (default for make run) or "production".
    "ENV": "development",
    "SECRET_KEY": None,
    "DATABASE_URL": None,
    "SQL_ECHO": False,
    "INDEX_DIR": None,
    "MAIL_DIR": None,
    "SMTP_HOST": None,
    "SMTP_PORT": 25,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
    "MAIL_FROM": "marktplatz@localhost",
    "BASE_URL": "http://127.0.0.1:5000",
    # Legal pages (Impressum, Datenschutz, Barrierefreiheit): a folder with impressum.md,
    # datenschutz.md and barrierefreiheit.md written by the operator. Unset: the example
    # texts shipped in marktplatz/data/legal/, marked as examples on every page.
    "LEGAL_DIR": None,
    # Who receives the feedback of the accessibility statement by e-mail (comma-separated
    # addresses); unset: every active admin. Admins also see it under /barrierefreiheit/rueckmeldungen.
    "FEEDBACK_MAIL_TO": "",
    # Lifetimes of the signed links sent by e-mail, in seconds.
    "PASSWORD_RESET_SECONDS": 3600,
    "INVITATION_SECONDS": 7 * 24 * 3600,
    # "Zugang beantragen": how long the link that confirms the address is valid.
    "ACCESS_CONFIRM_SECONDS": 2 * 24 * 3600,
    # Outbound HTTP (webhooks, publiccode.yml fetch): hosts or networks allowed even when
    # private or loopback; a comma-separated list such as "127.0.0.1,10.0.0.0/8".
    "OUTBOUND_ALLOWLIST": "",
    "OUTBOUND_TIMEOUT": 10,
    "OUTBOUND_MAX_BYTES": 1_000_000,
    # Federation (services/federation.py): how often a failed request to a followed
    # instance is retried (with backoff) before the pull records the failure.
    "FEDERATION_RETRIES": 3,
    # A function (host, port) -> addresses used instead of the system resolver; for tests,
    # which must not resolve real names. Not settable from the environment.
    "OUTBOUND_RESOLVER": None,
    # Where rate-limit counters live. Unset: a SQLite file in the instance folder, shared by
    # every worker of this host (core/ratelimit_store.py); tests use "memory://". Several hosts:
    # a shared store such as "redis://host:6379" (needs the redis package).
    "RATELIMIT_STORAGE_URI": None,
    # /healthz shows queue, lag and index details only from loopback or with this bearer token.
    "HEALTHZ_TOKEN": "",
    # Password hashing (a werkzeug method); unset means scrypt, or FAST_TEST_PASSWORD_HASH
    # when TESTING is true (tests create hundreds of accounts; production always hashes slowly).
    "PASSWORD_HASH_METHOD": None,
    # Sign-in backoff (never a lock-out): after LOGIN_MAX_FAILURES failed sign-ins for one
    # e-mail address, or LOGIN_IP_MAX_FAILURES from one client address, each further failure
    # opens a wait (LOGIN_DELAY_SECONDS, doubling, at most LOGIN_DELAY_MAX_SECONDS) during which
    # sign-ins are answered "Bitte warten" unchecked; after it the right password works.
    # Failures older than LOGIN_FORGET_SECONDS are forgotten.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_IP_MAX_FAILURES": 50,
    "LOGIN_DELAY_SECONDS": 2,
    "LOGIN_DELAY_MAX_SECONDS": 60,
    "LOGIN_FORGET_SECONDS": 900,
    "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PAGE_SIZE": 20,
    # Number of reverse proxies in front of gunicorn whose X-Forwarded-* headers to trust.
    "TRUSTED_PROXIES": 0,
    # Seconds the start page's key numbers and the browse filter choices may be cached.
    "STATS_CACHE_SECONDS": 30,
    # Listing pages kept per process for anonymous readers, valid until the data changes
    # (marktplatz/pagecache.py); 0 switches the cache off.
    "PAGE_CACHE_ENTRIES": 500,
    # Read-your-writes: seconds a search by someone whose last write the search index has
    # not applied yet waits for `marktplatz worker` (if it runs) before it answers from SQL.
    "SEARCH_FRESH_WAIT": 1.0,
    # Seconds between two rounds of the worker's search-index follower.
    "SEARCH_POLL_SECONDS": 0.2,
    # Webhooks: a hook is switched off after this many failed deliveries in a row; one
    # delivery is tried at most WEBHOOK_MAX_ATTEMPTS times, backing off from
    # WEBHOOK_RETRY_BASE seconds; a worker holds a claimed delivery for WEBHOOK_LEASE_SECONDS.
    "WEBHOOK_MAX_FAILURES": 5,
    "WEBHOOK_MAX_ATTEMPTS": 8,
    "WEBHOOK_RETRY_BASE": 30,
    "WEBHOOK_LEASE_SECONDS": 300,
    # Per-client rate limits (flask-limiter syntax) of requests that search: the browse page
    # and the API list with q=, and the autocomplete (which asks once per typed letter).
    "SEARCH_RATELIMIT": "60/minute",
    "SUGGEST_RATELIMIT": "120/minute",
    # REST API: rate limits (flask-limiter syntax) and the OpenAPI document (flask-smorest).
    "API_RATELIMIT_PER_TOKEN": "600/minute",
    "API_RATELIMIT_PER_IP": "1200/minute",
    "API_TITLE": "Marktplatz API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Lesen und Synchronisieren von Einträgen des Marktplatzes. Anonyme Aufrufe "
                "lesen öffentliche Daten; Schreiben braucht einen API-Token der Kommune "
                "(Authorization: Bearer mpk_...). Fehler als application/problem+json."
            )
        },
        "servers": [{"url": "/"}],
    },
}


def _coerce(value: str) -> Any:
    """Interpret environment strings like 'true' or '5' the way a person would."""
    low = value.strip().lower()
    if low in {"true", "yes", "on"}:
        return True
    if low in {"false", "no", "off"}:
        return False
    if low.isdigit():
        return int(low)
    return value


def init_app(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    """Load defaults, then the environment, then explicit overrides; validate."""
    app.config.update(DEFAULTS)
    for key, raw in os.environ.items():
        if key.startswith("MARKTPLATZ_") and key not in ("MARKTPLATZ_INSTANCE_PATH",):
            name = key[len("MARKTPLATZ_") :]
            if name.startswith("TEST_"):
                continue
            app.config[name] = _coerce(raw)
    if overrides:
        app.config.update(overrides)

    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "marktplatz.db")
    if not app.config.get("INDEX_DIR"):
        app.config["INDEX_DIR"] = os.path.join(app.instance_path, "index")
    if not app.config.get("MAIL_DIR"):
        app.config["MAIL_DIR"] = os.path.join(app.instance_path, "mail")
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        from .core.ratelimit_store import SCHEME

        app.config["RATELIMIT_STORAGE_URI"] = "memory://" if app.config.get("TESTING") else (
            f"{SCHEME}://" + os.path.join(os.path.abspath(app.instance_path), "ratelimits.sqlite"))

    _check_numbers(app.config)
    if not app.config.get("PASSWORD_HASH_METHOD"):
        app.config["PASSWORD_HASH_METHOD"] = FAST_TEST_PASSWORD_HASH if app.config.get("TESTING") else PASSWORD_HASH
    production = app.config["ENV"] == "production"
    if not app.config.get("SECRET_KEY"):
        if production:
            raise ConfigError(
                "MARKTPLATZ_SECRET_KEY ist nicht gesetzt. In production a secret key is "
                "required: export MARKTPLATZ_SECRET_KEY=$(python -c 'import secrets; "
                "print(secrets.token_hex(32))')"
            )
        app.config["SECRET_KEY"] = _dev_secret(app.instance_path)
    if "SESSION_COOKIE_SECURE" not in app.config or app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = production and not app.config["BASE_URL"].startswith(
            ("http://127.0.0.1", "http://localhost")
        )


# Numeric settings that are durations and may have a fraction ("2.5"); the other numeric
# settings count something and must be whole numbers.
_SECONDS = {"OUTBOUND_TIMEOUT", "LOGIN_DELAY_SECONDS", "LOGIN_DELAY_MAX_SECONDS", "LOGIN_FORGET_SECONDS",
            "STATS_CACHE_SECONDS", "SEARCH_FRESH_WAIT", "SEARCH_POLL_SECONDS"}


def _check_numbers(config: dict[str, Any]) -> None:
    """Check every numeric setting (those whose default is a number) and store it as one.

    A wrong value stops the start with a message naming the variable, instead of a
    traceback in the first request that uses it.
    """
    for name, default in DEFAULTS.items():
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            continue
        value = config.get(name)
        seconds = name in _SECONDS
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value) if seconds else int(str(value).strip())
            if number < 0 or number != number or number == float("inf"):
                raise ValueError
        except (TypeError, ValueError):
            kind = "eine Zahl" if seconds else "eine ganze Zahl"
            raise ConfigError(f"MARKTPLATZ_{name} muss {kind} ab 0 sein, nicht {value!r}.") from None
        config[name] = number


def _dev_secret(instance_path: str) -> str:
    """Return a per-installation development secret, created once in the instance folder."""
    import secrets

    path = os.path.join(instance_path, "dev-secret-key")
    try:
        with open(path, encoding="ascii") as fh:
            value = fh.read().strip()
            if value:
                return value
    except FileNotFoundError:
        pass
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value)
    return value
