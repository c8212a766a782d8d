"""OpenAPI 3.1 path items for this package's ``/admin`` routes (merged by the app's document)."""

from __future__ import annotations

from typing import Any, Final

_ERROR: Final = {"type": "object", "properties": {"error": {"type": "string"}, "detail": {"type": "string"},
                                                  "errors": {"type": "array", "items": {"type": "object"}}}}
_SEGMENT: Final = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "maxLength": 255},
        "name": {"type": "string", "maxLength": 255},
        "ttl_seconds": {"type": "integer", "minimum": 0},
        "deal_ids": {"type": "array", "items": {"type": "string"}},
        "xandr": {"type": "object", "properties": {
            "seg_id": {"type": "integer"}, "seg_code": {"type": "string"}, "member_id": {"type": "integer"},
            "value": {"type": "integer"}, "expiration": {"type": "integer", "minimum": -1}}},
        "classifying": {"type": "boolean"},
    },
}
_KEY: Final = {"kind": {"type": "string"}, "key": {"type": "string"}}


def _op(summary: str, ok: dict[str, Any] | None, status: str = "200", body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None,
        extra: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    responses: dict[str, Any] = {status: {"description": "OK"}}
    if ok is not None:
        responses[status]["content"] = {"application/json": {"schema": ok}}
    for code, text in (("400", "Invalid input"), ("401", "Missing or invalid token"),
                       ("403", "Token lacks admin"),
                       ("409", "No snapshot loaded"), ("503", "Snapshot damaged: nothing written, retry"),
                       *extra):
        responses[code] = {"description": text, "content": {"application/json": {"schema": _ERROR}}}
    op: dict[str, Any] = {"summary": summary, "tags": ["admin"], "security": [{"bearer": ["admin"]}],
                          "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def openapi_paths() -> dict[str, Any]:
    batch = {"type": "object",
             "properties": {"segments": {"type": "array", "items": _SEGMENT, "maxItems": 1000}},
             "required": ["segments"]}
    upserted = {"type": "object", "properties": {"upserted": {"type": "integer"},
                                                 "ids": {"type": "array", "items": {"type": "string"}}}}
    memberships = {"type": "object", "properties": {
        "upsert": {"type": "array", "items": {"type": "object", "properties": {
            **_KEY,
            "segments": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]},
            "expires": {"oneOf": [{"type": "integer"}, {"type": "string"}]}}}},
        "delete": {"type": "array", "items": {"type": "object", "properties": {
            **_KEY, "segments": {"type": "array", "items": {"type": "string"}}}}}}}
    query = [{"name": n, "in": "query", "required": True,
              "schema": {"type": "string"}} for n in ("kind", "key")]
    store = {"type": "object"}
    return {
        "/admin/taxonomy": {
            "get": _op("List the taxonomy", {"type": "object", "properties": {
                "version": {"type": "integer"}, "segments": {"type": "array", "items": _SEGMENT}}}),
            "post": _op("Upsert segments (≤ 1000, all or nothing)", upserted, body=batch),
            "put": _op("Upsert segments (same as POST)", upserted, body=batch),
        },
        "/admin/taxonomy/{segment_id}": {
            "parameters": [{"name": "segment_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "delete": _op("Delete a segment", None, "204", extra=(("404", "No such segment"),)),
        },
        "/admin/memberships": {
            "get": _op("One key's memberships", {"type": "object"}, params=query),
            "post": _op("Upsert and/or delete memberships (≤ 1000 items)", {"type": "object"},
                        body=memberships),
        },
        "/admin/reload": {"post": _op("Re-check the snapshot now (this worker)", store)},
        "/admin/status": {"get": _op("Store, auth and subsystem status", store)},
    }
