"""The one exception table (server.auth.exception_handlers, re-exported by server.admin.common):
one row per exception."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from segments.rows import RowError
from segments.store.base import NoSnapshot
from segments.taxonomy import InvalidSegment
from server.admin.common import EXCEPTION_HANDLERS, BatchError, endpoint
from server.auth.errors import AuthDatabaseUnavailable, IdentityNotFound, InvalidScope

from .conftest import Env


@pytest.mark.parametrize(("exc", "status", "error"), [
    pytest.param(IdentityNotFound("gone"), 404, None, id="auth-not-found"),
    pytest.param(InvalidScope("root"), 400, None, id="auth-scope"),
    pytest.param(BatchError([{"index": 1, "error": "x"}]), 400, "invalid_batch", id="batch"),
    pytest.param(InvalidSegment("bad id"), 400, "invalid_request", id="segment"),
    pytest.param(RowError("bad row"), 400, "invalid_request", id="row"),
    pytest.param(NoSnapshot("load first"), 409, "no_snapshot", id="no-snapshot"),
    pytest.param(AuthDatabaseUnavailable("unreadable"), 503, "auth_database_unavailable", id="auth-db"),
])
def test_each_exception_has_its_answer(env: Env, exc: Exception, status: int, error: str | None) -> None:
    async def handler(request: Request) -> Response:
        raise exc

    app = Starlette(routes=[Route("/admin/x", endpoint(env.guard, handler), methods=["GET"])])
    with TestClient(app) as client:
        assert client.get("/admin/x").status_code == 401  # the scope check comes first
        r = client.get("/admin/x", headers=env.admin)
        assert r.status_code == status
        assert error is None or r.json()["error"] == error
        assert client.post("/admin/x", headers=env.admin).status_code == 405


def test_every_handled_exception_is_a_class_of_ours() -> None:
    assert all(issubclass(kind, Exception) for kind in EXCEPTION_HANDLERS)

