"""This worker's cluster membership: built in the lifespan (after fork), stopped with it.

:func:`start` connects (its own pool per worker), runs one sync before the worker serves (so a
freshly started node verifies every token the cluster issued, and its own first signing key
yields to the cluster's), then leaves the sync loop running. An engine that is down at start is
not fatal: the node serves from its local state, degraded, and joins when the engine comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import structlog

from server.auth.oauth import TokenEndpoint
from server.auth.ratelimit import FailureLimiter
from server.auth.revocation import RevocationView
from server.cluster.authsync import AuthSync
from server.cluster.datasync import DataSync
from server.cluster.engine import Keys, connect
from server.cluster.ratelimit import SharedFailureLimiter
from server.cluster.settings import ClusterSettings
from server.health import Check

log = structlog.get_logger("server.cluster")


@dataclass
class ClusterNode:
    """The engine client and the tasks using it, for one worker."""

    settings: ClusterSettings
    engine: aioredis.Redis
    auth: AuthSync | None
    tasks: list[asyncio.Task[None]]
    #: The token endpoint's own limiters, put back at stop.
    limiters: tuple[TokenEndpoint, FailureLimiter, FailureLimiter] | None = None
    #: Live segment edits, published snapshots and job progress (``None``: no data dir given).
    data: DataSync | None = None

    def readiness(self) -> Check:
        """Never fails readiness: without the engine the node still answers from local state."""
        data_problem = self.data.problem if self.data is not None else None
        if self.auth is None:
            detail = "cluster on; no shared auth state (auth off)"
            return Check(True, data_problem or detail, degraded=data_problem is not None)
        state = self.auth.state
        detail = state.detail if data_problem is None else f"{state.detail}; {data_problem}"
        return Check(True, detail, degraded=not state.connected or data_problem is not None)

    def status(self) -> dict[str, Any]:
        """For ``/admin/status``: link state and counters, no key material."""
        data = self.data.status() if self.data is not None else None
        if self.auth is None:
            return {"enabled": True, "auth": None, "data": data}
        state = self.auth.state
        return {"enabled": True, "connected": state.connected, "detail": state.detail,
                "auth_version": state.version, "last_ok": state.last_ok,
                "pushes": self.auth.pushes, "pulls": self.auth.pulls, "data": data}

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.auth is not None:
            self.auth.close()
        if self.limiters is not None:
            endpoint, by_client_address, by_address = self.limiters
            endpoint.by_client_address, endpoint.by_address = by_client_address, by_address
        with contextlib.suppress(Exception):
            await self.engine.aclose()


async def start(settings: ClusterSettings, view: RevocationView | None,
                token_endpoint: TokenEndpoint | None = None,
                data_dir: str | Path | None = None) -> ClusterNode:
    """Connect, sync once, start the loops (call in the lifespan, per worker)."""
    engine = connect(settings)
    limiters = None
    if token_endpoint is not None:  # failed /oauth/token logins count across nodes
        ep = token_endpoint
        limiters = (ep, ep.by_client_address, ep.by_address)
        ep.by_client_address = SharedFailureLimiter(ep.by_client_address, engine, settings.key_prefix,
                                                    "client")
        ep.by_address = SharedFailureLimiter(ep.by_address, engine, settings.key_prefix, "address")
    auth = None
    tasks: list[asyncio.Task[None]] = []
    if view is not None:
        auth = AuthSync(engine, Keys(settings.key_prefix), view, interval_s=settings.sync_interval_s)
        if not await auth.sync_once():
            log.warning("cluster.start_degraded", detail=auth.state.detail)
        tasks.append(asyncio.create_task(auth.run(), name="cluster-auth-sync"))
        view.shared = auth  # admin revokes: refused while the engine is unreachable, shared at once
    data = None
    if data_dir is not None:  # live edits and published snapshots reach this node's store
        data = DataSync(engine, settings, data_dir)
        if not await data.sync_once():
            log.warning("cluster.start_degraded", detail=data.problem)
        tasks.append(asyncio.create_task(data.run(), name="cluster-data-sync"))
    return ClusterNode(settings, engine, auth, tasks, limiters, data)
