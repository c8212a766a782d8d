"""``/admin/reload`` and ``/admin/status``: what this worker serves, and a nudge to re-read it.

Status gathers the store snapshot, the auth key and revocation state, and whatever other
subsystems register as *providers* (``{"mirror": mirror.status}``), so this module need not know
them. Each provider is a no-argument callable returning JSON-able data; one that raises is
reported as ``{"error": ...}`` rather than failing the whole page.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from segments import compiled
from segments.store.base import SegmentStore, store_health
from server.admin.common import StoreGetter, endpoint
from server.auth.guard import Guard
from server.auth.jsonio import json_response
from server.auth.service import IdentityService
from server.auth.types import Clock

StatusProvider = Callable[[], Any]


def store_status(store: SegmentStore, now: float) -> dict[str, Any]:
    info = store.info
    return {
        "version": info.version,
        "created_at": info.created_at,
        "age_seconds": round(now - info.created_at, 3) if info.created_at else None,
        "members": info.members,
        "segments": info.segments,
        "health": dataclasses.asdict(store_health(store)),  # state ok|degraded|failed, detail naming the file
    }


def status_routes(
    get_store: StoreGetter,
    guard: Guard,
    identities: IdentityService | None = None,
    providers: Mapping[str, StatusProvider] | None = None,
    *,
    clock: Clock = time.time,
) -> list[Route]:
    extra = dict(providers or {})

    async def reload(request: Request) -> Response:
        """Re-check the store now (new snapshot or live edits) in the worker serving this call.

        Other workers follow on their own within the store's check interval. A snapshot that
        fails its checks is not adopted: 200 with ``reloaded: false`` and ``store.health`` naming
        the file (the store never raises here; the guard below covers any other store).
        """
        store = get_store()
        try:
            changed = store.reload()  # on the event loop: the store's connection is used there
        except Exception as exc:  # noqa: BLE001 -- report it, do not answer 500
            return json_response({"reloaded": False, "error": f"{type(exc).__name__}: {exc}",
                                  "store": store_status(store, clock())}, 503)
        return json_response({"reloaded": changed, "store": store_status(store, clock())})

    async def status(request: Request) -> Response:
        """Store snapshot, auth state and registered subsystem status for this worker."""
        body: dict[str, Any] = {"store": store_status(get_store(), clock()), "hot_path": compiled.state()}
        auth: dict[str, Any] = {"enabled_scopes": sorted(guard.settings.enabled_scopes),
                                "revocations_loaded_at": guard.view.loaded_at,
                                "revoked_identities": len(guard.view.not_before)}
        if identities is not None:
            auth["signing_keys"] = await run_in_threadpool(identities.keys.key_state)
            auth["identities"] = len(await run_in_threadpool(identities.list_identities))
        body["auth"] = auth
        for name, provider in extra.items():
            try:
                body[name] = provider()
            except Exception as exc:  # noqa: BLE001 — one broken subsystem must not hide the rest
                body[name] = {"error": f"{type(exc).__name__}: {exc}"}
        return json_response(body)

    return [
        Route("/admin/reload", endpoint(guard, reload), methods=["POST"], name="admin_reload"),
        Route("/admin/status", endpoint(guard, status), methods=["GET"], name="admin_status"),
    ]
