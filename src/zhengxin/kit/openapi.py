"""The OpenAPI document as the API answers: every operation lists the problem+json answers it
can give, with one `Problem` schema, so a bank's engineer can integrate from /docs alone."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from zhengxin.kit.errors import PROBLEM_JSON

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details with a stable `code` (and the `rule` id where a rule decided).",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "code": {"type": "string", "description": "stable, machine-readable"},
        "detail": {"type": "string"},
        "rule": {"type": "string", "description": "the RULES.md id of the rule that decided"},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}

WHY = {
    "400": "The request cannot be read",
    "401": "No API key, or an unknown or revoked one",
    "403": "This role may not do this, or a rule forbids it (`rule` names it)",
    "404": "No such object (named in the path, query or body), or not one you may see",
    "409": "In conflict with the current state (a reused Idempotency-Key, say)",
    "413": "The body is larger than allowed",
    "415": "The body is not of a media type this operation takes (`Content-Type`)",
    "422": "The request does not match the schema, or a value is refused (`code` says which)",
    "429": "Too many requests: wait `Retry-After` seconds",
    "503": "The database is busy or unreachable: nothing was stored; retry after `Retry-After` seconds",
}


def install(app: FastAPI, names: dict[str, list[str]] | None = None) -> None:
    """`names`: the values of each kind of catalog name (`x-catalog` in a schema) in force."""

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        doc.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        ref = {"$ref": "#/components/schemas/Problem"}
        for path, operations in doc.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                # FastAPI's own 422 names its HTTPValidationError; ours are problem+json.
                statuses = ["400", "422", "429", "503"]
                if operation.get("security") or path.startswith("/v1/"):
                    # Any API operation may name a party or an object that does not exist (a lender
                    # in a query, a furnisher in a body), so 404 is one of its answers.
                    statuses += ["401", "403", "404"]
                elif "{" in path:
                    statuses.append("404")
                if method in ("post", "put", "patch"):
                    statuses += ["409", "413"]
                if set(operation.get("requestBody", {}).get("content", {})) - {"application/json"}:
                    statuses.append("415")  # a file upload checks its media type itself
                for status in statuses:
                    responses[status] = {"description": WHY[status], "content": {PROBLEM_JSON: {"schema": ref}}}
        _enumerate(doc, names or {})
        app.openapi_schema = doc
        return doc

    app.openapi = openapi


def _enumerate(node, names: dict[str, list[str]]) -> None:
    """Give every schema that holds a catalog name the values of the catalog in force."""
    if isinstance(node, dict):
        kinds = node.pop("x-catalog", None)
        if kinds is not None:
            node["enum"] = [v for kind in ([kinds] if isinstance(kinds, str) else kinds) for v in names[kind]]
        for value in node.values():
            _enumerate(value, names)
    elif isinstance(node, list):
        for value in node:
            _enumerate(value, names)
