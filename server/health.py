"""Kubernetes-style probes: live = the process answers; ready = it can answer *correctly*.

A check returns ``(ok, detail)`` or a :class:`Check`, which can also say *degraded*: the worker
answers correctly from an older source than it should (the store serving its last good snapshot
because the current one is damaged). Degraded stays 200 — taking the worker out of rotation
would turn stale answers into none — but the status and the check's detail say so, naming the
file, and ``segserver_store_state`` lets an alert fire on it.

==================  ======  =====================================================
status              HTTP    when
==================  ======  =====================================================
``ready``           200     every check ok
``degraded``        200     every check ok, at least one degraded
``not_ready``       503     at least one check failed
==================  ======  =====================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge
from starlette.requests import Request
from starlette.responses import JSONResponse


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str
    degraded: bool = False


ReadinessCheck = Callable[[], "tuple[bool, str] | Check"]

# Exported by the store upkeep task (server.wiring), once per check interval, from the store's
# own counters: the lookup path itself only increments an int.
STORE_LOOKUP_FAILURES = Counter("segserver_store_lookup_failures_total",
                                "Lookups answered empty because the snapshot could not be read")
STORE_STATE = Gauge("segserver_store_state", "Store state: 0 ok, 1 degraded (last good snapshot), 2 failed",
                    multiprocess_mode="livemax")
STATE_CODES = {"ok": 0, "degraded": 1, "failed": 2}


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = request.app.state.readiness
    results: dict[str, Any] = {}
    ok = True
    degraded = False
    for name, check in checks.items():
        outcome = check()
        result = outcome if isinstance(outcome, Check) else Check(*outcome)
        ok &= result.ok
        degraded |= result.degraded
        results[name] = {"ok": result.ok, "detail": result.detail}
        if result.degraded:
            results[name]["degraded"] = True
    status = "not_ready" if not ok else "degraded" if degraded else "ready"
    return JSONResponse({"status": status, "checks": results}, status_code=200 if ok else 503)
