"""Fixtures for the auth tests: a fake clock, a temp data dir, and a small Starlette app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from server.auth import (
    AuthSettings,
    Guard,
    IdentityService,
    RevocationView,
    TokenEndpoint,
    admin_identity_routes,
)
from tests.fakes.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings() -> AuthSettings:
    # Cheap scrypt keeps the suite fast; production default is 2**15.
    return AuthSettings(scrypt_n=2**10, failed_auth_max_per_client=3, failed_auth_max_per_address=5)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def service(data_dir: Path, settings: AuthSettings, clock: FakeClock) -> IdentityService:
    return IdentityService(data_dir, settings, clock=clock)


@pytest.fixture
def view(data_dir: Path, service: IdentityService, clock: FakeClock) -> Iterator[RevocationView]:
    v = RevocationView(data_dir, clock=clock)
    yield v
    v.close()


@pytest.fixture
def guard(view: RevocationView, settings: AuthSettings, clock: FakeClock) -> Guard:
    return Guard(view, settings, clock=clock)


def build_app(service: IdentityService, guard: Guard, clock: FakeClock) -> Starlette:
    """What server/app.py is expected to do, in miniature: guarded endpoints + our routes."""

    async def rtd(request: Request) -> Response:
        denial = guard.check(request.headers.get("authorization"), "rtd")
        return denial.response() if denial else PlainTextResponse("rtd ok")

    async def segments(request: Request) -> Response:
        denial = guard.check(request.headers.get("authorization"), "segments")
        return denial.response() if denial else PlainTextResponse("segments ok")

    routes = [
        Route("/rtd", rtd, methods=["POST"]),
        Route("/segments", segments, methods=["GET"]),
        *TokenEndpoint(service, clock=clock).routes(),
        *admin_identity_routes(service, guard),
    ]
    return Starlette(routes=routes)


@pytest.fixture
def client(service: IdentityService, guard: Guard, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(build_app(service, guard, clock)) as c:
        yield c


@pytest.fixture
def admin_token(service: IdentityService) -> str:
    identity, _ = service.create_identity("ops", ["admin"], with_secret=False)
    return service.get_token(identity.id).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
