"""A scripted WSGI app for the client's retry tests (served by gunicorn in tests/test_client.py).

POST /_script {"path": "/api/v1/x", "responses": [{"status": 503, "headers": {...}, "body": {...}}, ...]}
sets the answers to the next requests of that path, one each, the last one repeated.
GET /_log?path=/api/v1/x lists the requests the path got: [{"method", "t"}], t from
time.monotonic() of this process. Unscripted paths answer 404 (problem+json). Run it with
one worker so every request sees the same script.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs

_lock = threading.Lock()
_scripts: dict[str, list[dict[str, Any]]] = {}
_log: dict[str, list[dict[str, Any]]] = {}


def _answer(start_response: Any, status: int, body: Any, headers: dict[str, str] | None = None,
            content_type: str | None = None) -> list[bytes]:
    data = json.dumps(body).encode()
    ctype = content_type or ("application/problem+json" if status >= 400 else "application/json")
    start_response(f"{status} X", [("Content-Type", ctype), ("Content-Length", str(len(data))),
                                   *(headers or {}).items()])
    return [data]


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answer as scripted, and log every request."""
    path = environ["PATH_INFO"]
    method = environ["REQUEST_METHOD"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    if path == "/_script":
        spec = json.loads(raw)
        with _lock:
            _scripts[spec["path"]] = list(spec["responses"])
            _log[spec["path"]] = []
        return _answer(start_response, 200, {"ok": True})
    if path == "/_log":
        with _lock:
            return _answer(start_response, 200, _log.get(parse_qs(environ["QUERY_STRING"])["path"][0], []))
    with _lock:
        script = _scripts.get(path)
        _log.setdefault(path, []).append({"method": method, "t": time.monotonic(), "query": environ["QUERY_STRING"]})
        step = (script.pop(0) if len(script) > 1 else script[0]) if script else None
    if step is None:
        return _answer(start_response, 404, {"type": "urn:marktplatz:problem:not-found", "title": "Nicht gefunden",
                                             "status": 404, "detail": f"Kein Skript für {path}."})
    return _answer(start_response, step["status"], step.get("body", {}), step.get("headers"), step.get("type"))
