"""The plain-ASGI access log: sampled lines, every error, never the query string or a full IP."""

from __future__ import annotations

import asyncio
import random

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from server.observability.access_log import AccessLogMiddleware
from tests.observability.conftest import Captured


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def missing(request: Request) -> PlainTextResponse:
    return PlainTextResponse("no", status_code=404)


async def boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("kaput")


def _client(rate: float) -> TestClient:
    app = Starlette(routes=[Route("/ok", ok), Route("/missing", missing), Route("/boom", boom)])
    wrapped = AccessLogMiddleware(app, sample_rate=rate, rng=random.Random(1))
    return TestClient(wrapped, raise_server_exceptions=False, client=("203.0.113.77", 5000))


def _access(logs: Captured) -> list[dict[str, object]]:
    return [r for r in logs.records() if r.get("event") == "access"]


@pytest.mark.parametrize(("rate", "expected"), [
    pytest.param(0.0, 0, id="off"),
    pytest.param(1.0, 20, id="all"),
])
def test_sampling_of_successes(captured_logs: Captured, rate: float, expected: int) -> None:
    with _client(rate) as client:
        for _ in range(20):
            assert client.get("/ok").status_code == 200
    assert len(_access(captured_logs)) == expected


def test_partial_sampling_writes_some(captured_logs: Captured) -> None:
    with _client(0.25) as client:
        for _ in range(200):
            client.get("/ok")
    n = len(_access(captured_logs))
    assert 0 < n < 200  # seeded RNG: deterministic, and neither none nor all


def test_errors_are_always_logged(captured_logs: Captured) -> None:
    with _client(0.0) as client:
        assert client.get("/missing").status_code == 404
        assert client.get("/boom").status_code == 500
    lines = _access(captured_logs)
    assert [(r["status"], r["level"], r["sampled"]) for r in lines] == [(404, "warning", False),
                                                                        (500, "error", False)]


def test_line_fields_hide_query_values_and_full_ip(captured_logs: Captured) -> None:
    with _client(1.0) as client:
        client.get("/ok", params={"ip": "198.51.100.23", "ifa": "aebe52e7-03ee-455a-b3c4-e57283966239"})
    (line,) = _access(captured_logs)
    assert line["path"] == "/ok" and line["method"] == "GET" and line["status"] == 200
    assert line["query_keys"] == ["ifa", "ip"]
    assert line["client"] == "203.0.113.0/24"
    assert isinstance(line["duration_ms"], float) and isinstance(line["pid"], int) and line["ts"]
    raw = captured_logs.getvalue()
    assert "198.51.100.23" not in raw and "aebe52e7" not in raw and "203.0.113.77" not in raw


def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append(str(scope["type"]))

    asyncio.run(AccessLogMiddleware(app, 1.0)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]
