"""Browsable API documentation rendered on the server from the generated OpenAPI document.

No Swagger UI: it would need JavaScript from a CDN (or vendored assets) and inline script,
which the CSP forbids; a server-rendered page works offline, without JavaScript and with
screen readers, and always matches /api/v1/openapi.json because it is built from it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

from .problems import PROBLEM_TYPES

bp = Blueprint("api_docs", __name__)
METHODS = ("get", "post", "put", "patch", "delete")


SECTIONS = {"schemas": "schemas", "parameters": "parameters", "responses": "responses"}


def _resolve(spec: dict[str, Any], obj: Any) -> Any:
    """Return obj with a $ref (to a schema, parameter or response) replaced by its target."""
    if isinstance(obj, dict) and "$ref" in obj:
        _, section, name = obj["$ref"].rsplit("/", 2)
        return spec.get("components", {}).get(SECTIONS.get(section, section), {}).get(name, {}) | {"_name": name}
    return obj


def _fields(spec: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Return the top-level field names of schema (of its items for a list)."""
    schema = _resolve(spec, schema)
    if schema.get("type") == "array":
        schema = _resolve(spec, schema.get("items") or {})
    return list((schema.get("properties") or {}).keys())


def _responses(spec: dict[str, Any], op: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for code, raw in sorted(op.get("responses", {}).items()):
        resp = _resolve(spec, raw)
        shapes = []
        for ctype, media in (resp.get("content") or {}).items():
            schema = _resolve(spec, media.get("schema") or {})
            shapes.append({"type": ctype, "name": schema.get("_name", ""), "fields": _fields(spec, schema)})
        out.append({"code": code, "description": resp.get("description", ""), "content": shapes})
    return out


@bp.route("/api/v1/docs")
def docs():
    """Render the endpoint reference from the OpenAPI document."""
    spec = current_app.extensions["marktplatz_api"].spec.to_dict()
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, ops in spec.get("paths", {}).items():
        for method in METHODS:
            op = ops.get(method)
            if not op:
                continue
            params = [_resolve(spec, p) for p in op.get("parameters", []) + ops.get("parameters", [])]
            params = [p for p in params if isinstance(p, dict) and p.get("name")]
            body = op.get("requestBody", {}).get("content", {})
            body_schemas = []
            for ctype, media in body.items():
                schema = _resolve(spec, media.get("schema", {}))
                body_schemas.append({"type": ctype, "name": schema.get("_name", schema.get("type", "")),
                                     "fields": _fields(spec, schema)})
            tag = (op.get("tags") or ["API"])[0]
            groups.setdefault(tag, []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": params,
                    "body": body_schemas,
                    "responses": _responses(spec, op),
                }
            )
    tags = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    return render_template("tokens/api_docs.html", spec=spec, groups=groups, tags=tags,
                           problem_types=list(PROBLEM_TYPES.values()))
