"""Build the per-worker :class:`Services` from settings and run their background tasks.

Every optional subsystem (UID2 keys, auth, Xandr mirror) is wired here and nowhere else, so the
handlers stay ignorant of how their collaborators are made. Everything here runs in the
lifespan, i.e. after uvicorn forked the worker: no connection, key set or task crosses a fork.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Final

import structlog

from segments.store import SnapshotDir, SQLiteStore
from segments.store.base import store_health
from server.config import Settings
from server.health import STATE_CODES, STORE_LOOKUP_FAILURES, STORE_STATE, Check, ReadinessCheck
from server.mirror import Mirror
from server.mirror.outbox import Outbox
from server.privacy import PrivacyGate
from server.services import Services
from server.uid2 import BidstreamDecryptor, KeyRefresher, Readiness, StaticKeySource
from server.uid2.identity import OptOutIndex

log = structlog.get_logger("server.wiring")


def build_services(settings: Settings) -> Services:
    store = open_store(settings)
    svc = Services(settings=settings, store=store, gate=PrivacyGate(settings.privacy))
    _wire_uid2(svc)
    mirror = settings.mirror
    if mirror.enabled:  # the outbox is in [mirror] data_dir, which defaults to [store] data_dir
        svc.mirror = Mirror(mirror, cluster=settings.cluster if settings.cluster.enabled else None)
        if not mirror.embedded_sender:  # no sender here: give the status page its own outbox view
            svc.extras["outbox"] = Outbox(mirror.data_dir)
    return svc


def open_store(settings: Settings) -> SQLiteStore:
    """The worker's store: a brand-new data dir gets an empty snapshot; stale temp files of killed
    loads go (unless a load is running); the snapshot is checked before it serves. Raises
    :class:`StoreError` naming the file when nothing usable is left."""
    snapdir = SnapshotDir(settings.data_dir)
    snapdir.ensure()
    snapdir.clean_stale_if_idle()
    s = settings.store
    return SQLiteStore(settings.data_dir, check_interval=s.check_interval_seconds, prewarm=s.prewarm,
                       mmap=s.mmap, verify=s.verify_on_open, fallback=s.fallback)


def _wire_uid2(svc: Services) -> None:
    uid2, euid = svc.settings.uid2, svc.settings.euid
    # stamp_dir: where the early-refresh stamp lives
    refreshers = {scope: KeyRefresher.from_settings(cfg, stamp_dir=svc.settings.data_dir)
                  for scope, cfg in (("UID2", uid2), ("EUID", euid)) if cfg.enabled}
    if not refreshers:
        return
    svc.extras["uid2"] = refreshers
    svc.optouts = OptOutIndex(svc.settings.data_dir,
                              refresh_seconds=svc.settings.identity.optout_refresh_seconds)
    svc.decryptor = BidstreamDecryptor(refreshers.get("UID2", StaticKeySource()), refreshers.get("EUID"),
                                       client_type=uid2.client_type if uid2.enabled else euid.client_type)


def readiness_checks(svc: Services) -> dict[str, ReadinessCheck]:
    def store_check() -> Check:
        health = store_health(svc.store)
        if health.state != "failed" and not svc.store.info.segments:
            # A new data dir's empty first snapshot: every answer would be a miss (/segments says
            # "retry"), so a load balancer should not send traffic here yet.
            return Check(False, f"no segment data loaded yet ({health.path}): run `segment-server load` "
                                "or `segment-server demo`")
        return Check(health.state != "failed", health.detail, degraded=health.state == "degraded")

    checks: dict[str, ReadinessCheck] = {"store": store_check}
    for scope, refresher in svc.extras.get("uid2", {}).items():
        def keys_check(r: KeyRefresher = refresher) -> Check:
            state = r.readiness()
            if state is Readiness.READY and r.consecutive_failures:  # serving on the last good keys
                return Check(True, f"READY on the last good keys; {r.consecutive_failures} key refreshes "
                                   f"failed in a row, last: {r.last_error}", degraded=True)
            return Check(state is Readiness.READY, state.name)
        checks[f"{scope.lower()}_keys"] = keys_check
    if svc.settings.cluster.enabled:  # the node is made in start_background, after this runs
        checks["cluster"] = lambda: (node.readiness() if (node := svc.extras.get("cluster")) is not None
                                     else Check(True, "cluster starting", degraded=True))
        if isinstance(mirror := svc.mirror, Mirror):  # the mirror's forwarder into the engine's stream
            checks["mirror"] = lambda: Check(*(mirror.cluster_readiness() or (True, "")))
    return checks


# How often the upkeep task asks the store to check: the store itself does real work at most
# once per [store] check_interval_seconds, so a shorter tick only bounds how late that happens.
UPKEEP_TICK: Final = 0.25
MIN_UPKEEP_TICK: Final = 0.05


def upkeep_interval(check_interval: float) -> float:
    return max(MIN_UPKEEP_TICK, min(check_interval, UPKEEP_TICK))


async def store_upkeep(svc: Services, interval: float) -> None:
    """The store's periodic check: a new snapshot published, a live edit, a damaged file.

    This task is the only caller of ``maybe_reload`` in a worker: requests never call it (a
    time check and a branch per request, and a request that happened to land on the interval
    paid for the switch). It also renews the held read snapshot of an idle worker, which would
    otherwise keep WAL checkpoints from passing it. A publish is served within
    ``check_interval_seconds`` plus one tick.
    """
    exported = 0
    while True:
        await asyncio.sleep(interval)
        try:
            svc.store.maybe_reload()
            health = store_health(svc.store)
            STORE_STATE.set(STATE_CODES.get(health.state, 2))
            if health.lookup_failures > exported:
                STORE_LOOKUP_FAILURES.inc(health.lookup_failures - exported)
                exported = health.lookup_failures
        except Exception as exc:  # noqa: BLE001 -- requests see the same error; the loop must live on
            log.warning("store.upkeep_failed", error=str(exc))


async def start_background(svc: Services) -> list[asyncio.Task[Any]]:
    interval = upkeep_interval(svc.settings.store.check_interval_seconds)
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(store_upkeep(svc, interval), name="store-upkeep")]
    refreshers: dict[str, KeyRefresher] = svc.extras.get("uid2", {})
    for refresher in refreshers.values():
        await refresher.start()
    if isinstance(svc.mirror, Mirror):
        await svc.mirror.start()
    if svc.settings.grpc.enabled:  # ARTF gRPC, this worker
        from server.artf.server import start_for
        svc.extras["artf"] = await start_for(svc)
    if svc.settings.cluster.enabled:  # imported only when on: a single node never loads redis-py
        from server.cluster.node import start as start_cluster
        auth = svc.extras.get("auth")  # AuthComponents, put there by the app's lifespan
        svc.extras["cluster"] = await start_cluster(svc.settings.cluster, getattr(svc.guard, "view", None),
                                                    getattr(auth, "token_endpoint", None),
                                                    data_dir=svc.settings.data_dir)
    return tasks


async def stop_background(svc: Services, tasks: list[asyncio.Task[Any]]) -> None:
    if (artf := svc.extras.pop("artf", None)) is not None:
        await artf.stop()  # first: in-flight gRPC calls still need the store and the mirror
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if (node := svc.extras.pop("cluster", None)) is not None:
        await node.stop()
    if isinstance(svc.mirror, Mirror):
        await svc.mirror.stop()  # final flush of the in-memory buffer into the durable outbox
    for refresher in svc.extras.get("uid2", {}).values():
        await refresher.stop()
    if (outbox := svc.extras.get("outbox")) is not None:
        outbox.close()


def subsystem_status(svc: Services) -> dict[str, Any]:
    """UID2 key state and mirror outbox for ``/admin/status`` (plain data, no secrets)."""
    out: dict[str, Any] = {"uid2": {scope: r.ops_state() for scope, r in svc.extras.get("uid2", {}).items()}}
    outbox = svc.extras.get("outbox")
    if outbox is None and isinstance(svc.mirror, Mirror):
        try:
            outbox = svc.mirror.outbox
        except Exception:  # noqa: BLE001 -- not started yet
            outbox = None
    out["mirror"] = dataclasses.asdict(outbox.stats()) if outbox is not None else None
    if out["mirror"] is not None and isinstance(svc.mirror, Mirror) and svc.mirror.cluster is not None:
        out["mirror"]["cluster"] = svc.mirror.cluster_status()  # the shared stream, seen from any node
    if (node := svc.extras.get("cluster")) is not None:  # [cluster] on: the engine link and sync counters
        out["cluster"] = node.status()
    return out
