"""``GET /openapi.json``: one OpenAPI 3.1 document for every public and admin route.

Each subsystem owns the fragment for its routes (``server.auth.openapi``, ``server.admin.openapi``);
this module describes the hot endpoints and operations routes and merges the rest. A test walks
the app's routes and fails when one is missing here, so the document cannot drift.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.admin import openapi as admin_openapi
from server.auth import openapi as auth_openapi
from server.config import CachedApiSettings

_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["segment_ids"],
    "properties": {
        "segment_ids": {"type": "array", "items": {"type": "string"}, "maxItems": 500},
        "deal_ids": {"type": "array", "items": {"type": "string"}},
    },
}
_ERROR: dict[str, Any] = {"type": "object", "properties": {"error": {"type": "string"}},
                          "required": ["error"]}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text(description: str, media: str) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


def _hot_paths(cached: CachedApiSettings) -> dict[str, Any]:
    params = [cached.url_param, cached.bundle_param, cached.content_id_param, cached.content_url_param,
              cached.ip_param, cached.device_id_param, cached.country_param, cached.zip_param]
    unauthorised = {"401": _json("Missing, invalid, expired or revoked token", _ERROR),
                    "403": _json("Token lacks the scope", _ERROR)}
    return {
        "/rtd": {"post": {
            "summary": ("Index Exchange Real-Time Data: segments and deals for one OpenRTB 2.5/2.6 "
                        "bid request"),
            "tags": ["index"],
            "security": [{"bearer": ["rtd"]}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object",
                "description": "OpenRTB BidRequest subset: app, site, device, imp, user, regs"}}}},
            "responses": {
                "200": _json("Matched segments (empty lists on a miss)", _ANSWER),
                "400": _json("Malformed JSON or not an object", _ERROR),
                "413": _json("Body larger than server.max_body_bytes", _ERROR),
                **unauthorised,
            },
        }},
        "/segments": {"get": {
            "summary": "Index Exchange Cached API: one key, or a complex key, per call",
            "tags": ["index"],
            "security": [{"bearer": ["segments"]}],
            "parameters": [{"name": p, "in": "query", "required": False, "schema": {"type": "string"}}
                           for p in params],
            "responses": {
                "200": {**_json("Segments; Cache-Control max-age (≤ 86400) or no-cache", _ANSWER),
                        "headers": {"Cache-Control": {"schema": {"type": "string"}}}},
                "204": {"description": "Miss, when cached_api.miss_status = 204"},
                "400": _json("Unknown, repeated, empty or missing key parameters", _ERROR),
                "404": _json("Miss, when cached_api.miss_status = 404", _ANSWER),
                "503": _json("Store unavailable: retry", _ERROR),
                **unauthorised,
            },
        }},
    }


def _ops_paths() -> dict[str, Any]:
    health = {"type": "object", "properties": {"status": {"type": "string"}, "checks": {"type": "object"}}}
    return {
        "/health/live": {"get": {"summary": "Liveness", "tags": ["ops"],
                                 "responses": {"200": _json("Process answers", health)}}},
        "/health/ready": {"get": {"summary": "Readiness: store open, UID2 keys loaded", "tags": ["ops"],
                                  "responses": {"200": _json("Ready", health),
                                                "503": _json("Not ready", health)}}},
        "/metrics": {"get": {"summary": "Prometheus metrics (all workers)", "tags": ["ops"],
                             "responses": {"200": _text("Prometheus text format", "text/plain")}}},
        "/status": {"get": {"summary": "Status page (HTML)", "tags": ["ops"],
                            "responses": {"200": _text("The page", "text/html")}}},
        "/status.json": {"get": {"summary": "Status page data", "tags": ["ops"],
                                 "security": [{"bearer": ["admin"]}],
                                 "responses": {"200": _json("Live numbers", {"type": "object"}),
                                               "401": _json("Admin token required", _ERROR),
                                               "403": _json("Local only, or token lacks admin", _ERROR)}}},
        "/openapi.json": {"get": {"summary": "This document", "tags": ["ops"],
                                  "responses": {"200": _json("OpenAPI 3.1", {"type": "object"})}}},
    }


def build_document(cached: CachedApiSettings) -> dict[str, Any]:
    paths = {**_hot_paths(cached), **_ops_paths(), **auth_openapi.openapi_paths(),
             **admin_openapi.openapi_paths()}
    return {
        "openapi": "3.1.0",
        "info": {"title": "segment-server", "version": "0.1.0",
                 "description": "Index Exchange data-partner server: RTD, Cached API, admin."},
        "paths": dict(sorted(paths.items())),
        "components": {"securitySchemes": dict(auth_openapi.SECURITY_SCHEMES)},
    }


def openapi_route(cached: CachedApiSettings) -> Any:
    document = build_document(cached)

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(document)

    return openapi
