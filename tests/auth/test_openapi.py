"""The OpenAPI fragment names exactly the routes and methods this package mounts."""

from __future__ import annotations

from starlette.routing import Route

from server.auth import IdentityService, TokenEndpoint, admin_identity_routes
from server.auth.guard import Guard
from server.auth.openapi import openapi_paths


def test_fragment_matches_routes(service: IdentityService, guard: Guard) -> None:
    routes = [*TokenEndpoint(service).routes(), *admin_identity_routes(service, guard)]
    mounted = {(r.path, m.lower()) for r in routes if isinstance(r, Route)
               for m in (r.methods or ()) if m != "HEAD"}
    documented = {(p, m) for p, item in openapi_paths().items() for m in item if m != "parameters"}
    assert documented == mounted
