"""OpenAPI 3.1 fragments for the routes this package serves, for the app's ``/openapi.json``.

The app merges :func:`openapi_paths` into its document and :data:`SECURITY_SCHEMES` into
``components.securitySchemes``; its test that compares the document with the mounted routes
keeps both true. Written by hand (no schema generator) because the shapes are few and the RFC
error bodies are the point.
"""

from __future__ import annotations

from typing import Any, Final

_ERROR: Final = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
    "required": ["error"],
}
_ADMIN_ERROR: Final = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["error", "detail"],
}
_IDENTITY: Final = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "display_name": {"type": "string"},
        "scopes": {"type": "array", "items": {"enum": ["rtd", "segments", "admin"]}},
        "created_at": {"type": "number"},
        "has_client_secret": {"type": "boolean"},
        "tokens_valid_from": {"type": ["number", "null"]},
    },
}
_TOKEN: Final = {
    "type": "object",
    "properties": {
        "token": {"type": "string"},
        "token_type": {"const": "Bearer"},
        "scopes": {"type": "array", "items": {"type": "string"}},
        "expires_in": {"type": "integer", "minimum": 3600, "maximum": 86400},
        "expires_at": {"type": "integer"},
    },
}
_SCOPES: Final = {"oneOf": [{"type": "array", "items": {"enum": ["rtd", "segments", "admin"]}},
                            {"type": "string"}]}
_EXPIRES_IN: Final = {"type": "integer", "minimum": 3600, "maximum": 86400, "default": 86400}

SECURITY_SCHEMES: Final[dict[str, Any]] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Token from /oauth/token or the admin API"},
    "clientBasic": {"type": "http", "scheme": "basic",
                    "description": "OAuth client id and secret (RFC 6749 §2.3.1)"},
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _admin(summary: str, ok: tuple[str, dict[str, Any] | None],
           body: dict[str, Any] | None = None) -> dict[str, Any]:
    status, schema = ok
    responses: dict[str, Any] = {status: {"description": "OK", **(_json(schema) if schema else {})}}
    for code, text in (("400", "Invalid input"), ("401", "Missing or invalid token"),
                       ("403", "Token lacks admin"), ("404", "Unknown identity")):
        responses[code] = {"description": text, **_json(_ADMIN_ERROR if code in ("400", "404") else _ERROR)}
    op: dict[str, Any] = {"summary": summary, "security": [{"bearer": ["admin"]}], "responses": responses,
                          "tags": ["admin: identities"]}
    if body is not None:
        op["requestBody"] = {"required": False, **_json(body)}
    return op


_ID_PARAM: Final = [{"name": "identity_id", "in": "path", "required": True, "schema": {"type": "string"}}]


def openapi_paths() -> dict[str, Any]:
    """Path items for ``/oauth/token`` and ``/admin/identities…``."""
    create_body: dict[str, Any] = {"type": "object",
                                   "properties": {"display_name": {"type": "string"}, "scopes": _SCOPES,
                                                     "client_secret": {"type": "boolean", "default": True}},
                   "required": ["display_name", "scopes"]}
    created: dict[str, Any] = {"type": "object",
                               "properties": {"identity": _IDENTITY,
                                              "client_secret": {"type": ["string", "null"]}}}
    token_body = {"type": "object", "properties": {"scopes": _SCOPES, "expires_in": _EXPIRES_IN}}
    both_body = {"type": "object", "properties": {**create_body["properties"], "token_scopes": _SCOPES,
                                                   "expires_in": _EXPIRES_IN,
                                                   "client_secret": {"type": "boolean", "default": False}},
                 "required": ["display_name", "scopes"]}
    return {
        "/oauth/token": {
            "post": {
                "summary": "OAuth 2.0 client-credentials grant (RFC 6749 §4.4)",
                "tags": ["auth"],
                "security": [{"clientBasic": []}, {}],
                "requestBody": {"required": True,
                                "content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object",
                    "properties": {"grant_type": {"const": "client_credentials"}, "scope": {"type": "string"},
                                   "client_id": {"type": "string"}, "client_secret": {"type": "string"}},
                    "required": ["grant_type"]}}}},
                "responses": {
                    "200": {"description": "Token (RFC 6749 §5.1)", **_json({"type": "object", "properties": {
                        "access_token": {"type": "string"}, "token_type": {"const": "Bearer"},
                        "expires_in": {"type": "integer"}, "scope": {"type": "string"}}})},
                    "400": {"description": "invalid_request, unsupported_grant_type, invalid_scope",
                            **_json(_ERROR)},
                    "401": {"description": "invalid_client", **_json(_ERROR)},
                    "429": {"description": "Too many failed client authentications from this address, or too "
                                           "many in progress from it", **_json(_ERROR)},
                    "503": {"description": "temporarily_unavailable: the auth database cannot be read "
                                           "(issued tokens keep working)", **_json(_ERROR)},
                },
            }
        },
        "/admin/identities": {
            "get": _admin("List identities", ("200", {"type": "object", "properties": {
                "identities": {"type": "array", "items": _IDENTITY}}})),
            "post": _admin("Create an identity (client secret shown once)", ("201", created), create_body),
        },
        "/admin/identities/{identity_id}": {
            "parameters": _ID_PARAM,
            "get": _admin("Get an identity", ("200", _IDENTITY)),
            "delete": _admin("Delete an identity (its tokens stop working within ~1 s)", ("204", None)),
        },
        "/admin/identities/{identity_id}/tokens": {
            "parameters": _ID_PARAM,
            "post": _admin("Issue a token (lifetime 1–24 h)", ("201", _TOKEN), token_body),
            "delete": _admin("Revoke all of the identity's tokens", ("200", {"type": "object"})),
        },
        "/admin/identities-with-token": {
            "post": _admin("Create an identity and its first token",
                           ("201", {"type": "object", "properties": {
                **created["properties"], "token": _TOKEN}}), both_body),
        },
    }
