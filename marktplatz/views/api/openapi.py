"""Complete the generated OpenAPI document: typed error responses and examples everywhere.

flask-smorest declares 422 and a default error per operation, as application/json and
without examples. Here, once all blueprints are registered, every operation gets the error
responses it can really answer (each a problem+json with one example per problem type of
its status) and every request body and JSON response an example built from its schema.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .problems import PROBLEM_TYPE, PROBLEM_TYPES, ProblemType

METHODS = ("get", "post", "put", "patch", "delete")
WRITE_METHODS = ("post", "put", "patch", "delete")
MAX_DEPTH = 4

# Hand-written request examples where a schema-built one would not be a valid input.
LISTING_EXAMPLE: dict[str, Any] = {
    "kind": "dienst",
    "title": "Hundesteuer online",
    "summary": "Hunde online an- und abmelden, ohne Termin im Rathaus.",
    "description": "Ein **Online-Dienst** für die Hundesteuer.",
    "tags": ["Hundesteuer"],
    "ozg_ids": [10160],
    "leika_keys": ["99102013000000"],
    "phase": "live",
    "external_id": "cms-42",
}
REQUEST_EXAMPLES: dict[str, Any] = {
    "Listing": LISTING_EXAMPLE,
    "SyncRequest": {"items": [LISTING_EXAMPLE], "full_sync": False, "then": "submit"},
    "DuplicateCheck": {"title": "Hundesteuer online", "ozg_ids": [10160], "leika_keys": ["99102013000000"]},
    "StatusUpdate": {"title": "Pilot läuft", "body": "Seit März im Echtbetrieb mit 3 Ortsteilen.",
                     "phase": "pilot"},
    "Reuse": {"stage": "interested", "note": "Wir prüfen die Nachnutzung 2026."},
    "PubliccodeUrl": {"url": "https://github.com/example/hundesteuer/blob/main/publiccode.yml"},
}
YAML_EXAMPLE = ("publiccodeYmlVersion: '0.4'\nname: Hundesteuer online\n"
                "url: https://github.com/example/hundesteuer\n...\n")
STRING_EXAMPLES = {"date-time": "2026-03-01T09:30:00+00:00", "date": "2026-03-01", "email": "digital@freiburg.example",
                   "uri": "https://www.freiburg.de/", "url": "https://www.freiburg.de/"}
NAME_EXAMPLES: dict[str, Any] = {
    "title": "Hundesteuer online", "name": "Freiburg im Breisgau", "slug": "hundesteuer-online",
    "ags": "08311000", "key": "08311000", "kind": "dienst", "status": "published", "phase": "live",
    "cursor": "MTIzLTQ1Ng", "next_cursor": "MTIzLTQ1Ng", "external_id": "cms-42", "op": "updated",
    "entity_type": "listing", "result": "created", "stage": "interested", "land": "Baden-Württemberg",
    **{k: v for k, v in LISTING_EXAMPLE.items() if k not in ("kind",)},
}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref")
    if not ref:
        return None, schema
    name = ref.rsplit("/", 1)[-1]
    return name, spec.get("components", {}).get("schemas", {}).get(name, {})


def example_of(spec: dict[str, Any], schema: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """Return an example value for schema: its own example, an enum's first value, or one by type."""
    ref_name, schema = _resolve(spec, schema)
    if "example" in schema:
        return schema["example"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    named = NAME_EXAMPLES.get(name)
    if (kind == "array" and isinstance(named, list)) or (kind in (None, "string") and isinstance(named, str)):
        return copy.deepcopy(named)
    if kind == "array":
        if depth >= MAX_DEPTH:
            return []
        return [example_of(spec, schema.get("items") or {}, name, depth + 1)]
    if kind == "object" or "properties" in schema:
        if depth >= MAX_DEPTH:
            return {}
        props = schema.get("properties") or {}
        if not props and isinstance(schema.get("additionalProperties"), dict):
            return {"dienst": example_of(spec, schema["additionalProperties"], "", depth + 1)}
        return {key: example_of(spec, sub, key, depth + 1) for key, sub in props.items()
                if not sub.get("writeOnly")}
    if kind == "integer":
        return 10160 if name.endswith("ozg_id") else 42
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return False
    if name == "self" or name == "next":
        return "https://marktplatz.example/api/v1/listings/42"
    return STRING_EXAMPLES.get(schema.get("format", ""), "Text")


def _problem_example(kind: ProblemType) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind.uri, "title": kind.title, "status": kind.status, "detail": kind.detail}
    if kind.slug == "validation":
        body["errors"] = {"kind": ["Erlaubt ist einer der Werte: dienst, komponente, projekt."]}
    return body


def problem_responses() -> dict[int, dict[str, Any]]:
    """Return one response object per error status, with an example per problem type."""
    out: dict[int, dict[str, Any]] = {}
    for kind in PROBLEM_TYPES.values():
        entry = out.setdefault(kind.status, {
            "description": "", "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"},
                                                          "examples": {}}}})
        entry["description"] = (entry["description"] + "; " if entry["description"] else "") + \
            f"{kind.title} ({kind.uri})"
        entry["content"][PROBLEM_TYPE]["examples"][kind.slug] = {"summary": kind.title,
                                                                 "value": _problem_example(kind)}
        if kind.status in (429, 503):
            entry["headers"] = {"Retry-After": {"description": "Sekunden bis zum nächsten Versuch",
                                                "schema": {"type": "integer"}}}
        if kind.status == 405:
            entry["headers"] = {"Allow": {"description": "Die erlaubten Methoden", "schema": {"type": "string"}}}
    return out


def error_statuses(path: str, method: str, op: dict[str, Any], read_only: bool = False) -> list[int]:
    """Return the error statuses an operation can answer."""
    params = [p for p in op.get("parameters", []) if isinstance(p, dict)]
    refs = {p.get("$ref", "").rsplit("/", 1)[-1] for p in params}
    codes = {401, 429, 500, 503}
    if "{" in path:
        codes.add(404)
    if op.get("requestBody"):
        codes |= {400, 413, 415, 422}
    if any(p.get("in") == "query" for p in params):
        codes.add(422)
    if method in WRITE_METHODS and not read_only:
        codes |= {403, 409}
    if "IF_MATCH" in refs:
        codes.add(412)
    return sorted(codes)


def read_only_operations(app: Any) -> set[tuple[str, str]]:
    """Return the (OpenAPI path, method) of the POST views marked read_only (no write scope)."""
    out = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        if getattr(view, "_api_read_only", False):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            out |= {(path, m.lower()) for m in rule.methods or ()}
    return out


def complete(api: Any, app: Any) -> None:
    """Add the problem responses and the examples to every operation of api's spec."""
    spec = api.spec
    read_only = read_only_operations(app)
    for status, response in problem_responses().items():
        spec.components.response(f"Problem{status}", response)
    # flask-smorest's own error components stay unused once replaced below; drop them so
    # the document names each error once, as problem+json.
    for name in ("UNPROCESSABLE_ENTITY", "PRECONDITION_FAILED", "PRECONDITION_REQUIRED"):
        spec.components.responses.pop(name, None)
    spec.components.responses["DEFAULT_ERROR"] = {
        "description": "Jeder andere Fehler, als application/problem+json",
        "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    whole = spec.to_dict()
    for path, ops in spec._paths.items():
        for method in METHODS:
            op = ops.get(method)
            if not op:
                continue
            responses = {str(code): value for code, value in op.get("responses", {}).items()
                         if str(code) not in ("412", "422", "428")}
            for status in error_statuses(path, method, op, (path, method) in read_only):
                responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
            for code, value in responses.items():
                if code.startswith("2"):
                    _add_example(whole, value.get("content") or {}, request=False)
            op["responses"] = dict(sorted(responses.items()))
            _add_example(whole, (op.get("requestBody") or {}).get("content") or {}, request=True)


def _add_example(whole: dict[str, Any], content: dict[str, Any], request: bool) -> None:
    for media_type, media in content.items():
        if "example" in media or "examples" in media:
            continue
        schema = media.get("schema") or {}
        ref_name, _ = _resolve(whole, schema)
        if request and ref_name in REQUEST_EXAMPLES:
            media["example"] = copy.deepcopy(REQUEST_EXAMPLES[ref_name])
        elif media_type == "application/merge-patch+json":
            media["example"] = {"summary": "Hunde online an- und abmelden, jetzt auch mit App.", "phase": None}
        elif "yaml" in media_type:
            media["example"] = YAML_EXAMPLE
        elif "json" in media_type:
            media["example"] = example_of(whole, schema)
        else:
            media["example"] = "Text"
