"""Kubernetes-style probes: live = the process answers; ready = it can answer *correctly*."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

ReadinessCheck = Callable[[], tuple[bool, str]]


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = request.app.state.readiness
    results: dict[str, Any] = {}
    ok = True
    for name, check in checks.items():
        passed, detail = check()
        ok &= passed
        results[name] = {"ok": passed, "detail": detail}
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": results}, status_code=200 if ok else 503)
