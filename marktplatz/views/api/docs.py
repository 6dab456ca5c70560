"""Browsable API documentation rendered on the server from the generated OpenAPI document.

No Swagger UI: it would need JavaScript from a CDN (or vendored assets) and inline script,
which the CSP forbids; a server-rendered page works offline, without JavaScript and with
screen readers, and always matches /api/v1/openapi.json because it is built from it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

bp = Blueprint("api_docs", __name__)
METHODS = ("get", "post", "put", "patch", "delete")


def _resolve(spec: dict[str, Any], obj: Any) -> Any:
    if isinstance(obj, dict) and "$ref" in obj:
        name = obj["$ref"].rsplit("/", 1)[-1]
        return spec.get("components", {}).get("schemas", {}).get(name, {}) | {"_name": name}
    return obj


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
            params = [p for p in op.get("parameters", []) + ops.get("parameters", []) if isinstance(p, dict)]
            body = op.get("requestBody", {}).get("content", {})
            body_schemas = []
            for ctype, media in body.items():
                schema = _resolve(spec, media.get("schema", {}))
                body_schemas.append({"type": ctype, "name": schema.get("_name", schema.get("type", "")),
                                     "fields": sorted((schema.get("properties") or {}).keys())})
            tag = (op.get("tags") or ["API"])[0]
            groups.setdefault(tag, []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": params,
                    "body": body_schemas,
                    "responses": sorted(op.get("responses", {}).items()),
                }
            )
    tags = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    return render_template("tokens/api_docs.html", spec=spec, groups=groups, tags=tags)
