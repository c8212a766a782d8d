"""The admin OpenAPI fragment names exactly the routes and methods mounted."""

from __future__ import annotations

from starlette.routing import Route

from server.admin.openapi import openapi_paths

from .conftest import Env


def test_fragment_matches_routes(env: Env) -> None:
    mounted = {(r.path.replace(":path}", "}"), m.lower()) for r in env.app.routes if isinstance(r, Route)
               for m in (r.methods or ()) if m != "HEAD"}
    documented = {(p, m) for p, item in openapi_paths().items() for m in item if m != "parameters"}
    assert documented == mounted
