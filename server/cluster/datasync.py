"""Each worker's segment-data sync: live edits in order, published snapshots, job progress.

Every ``sync_interval_s`` one pipelined round trip reads the stream entries after the serving
snapshot's offset (``XRANGE``), the published version key and the identity-job progress hash. New
entries are applied in a thread under the store's write lock (:mod:`server.cluster.edits`); a new
published version is installed by one worker of the node (:mod:`server.cluster.publish`). The hot
path never waits for any of it: readers see the changes as they see any live edit or load.

The admin API goes through :meth:`DataSync.append` (``XADD``; refused with
:class:`~server.cluster.errors.ClusterUnavailable` when the engine cannot take it) and then
:meth:`DataSync.apply_through`, so the node that took the edit answers with it already applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import structlog

from segments.store import StoreError, StoreWriter
from server.cluster.edits import (
    BATCH,
    START,
    Edit,
    Op,
    after,
    apply_to_store,
    current_offset,
    encode,
    parse_entries,
)
from server.cluster.engine import EngineError, Keys
from server.cluster.errors import ClusterUnavailable
from server.cluster.publish import Installer, Published, PublishProblem, installed_version
from server.cluster.settings import ClusterSettings

log = structlog.get_logger("server.cluster")

#: A published version that failed to install is tried again after this long (or when it changes).
RETRY_FAILED_S = 30.0


class DataSync:
    """This worker's view of the shared segment data, and its part in applying it."""

    def __init__(self, engine: aioredis.Redis, settings: ClusterSettings, data_dir: str | Path) -> None:
        self._engine = engine
        self._keys = Keys(settings.key_prefix)
        self._settings = settings
        self.data_dir = Path(data_dir)
        source = settings.publish_path
        self._installer = Installer(data_dir, source) if source is not None else None
        self._installed: int | None = None
        self._failed: tuple[int, float, str] | None = None  # (version, when, why)
        self.engine_error: str | None = "not synced yet"
        self.store_error: str | None = None
        self.gap: str | None = None  # edits trimmed from the engine before this node applied them
        self.published: Published | None = None
        self.progress: dict[str, str] = {}
        self.applied = self.installs = 0
        self.last_install_s: float | None = None
        self._wake: asyncio.Event | None = None

    # -- admin writes -----------------------------------------------------------------------

    async def append(self, ops: list[Op]) -> str:
        """``XADD`` one entry; its id. Raises :class:`ClusterUnavailable` if the engine did not take it."""
        try:
            entry_id = await self._engine.xadd(self._keys.edits, {"e": encode(ops)},
                                               maxlen=self._settings.edits_max, approximate=True)
        except EngineError as exc:
            raise ClusterUnavailable(
                f"cluster engine unreachable ({exc or type(exc).__name__}): nothing was changed, since only "
                "this node would have the edit. Retry once /health/ready is no longer degraded") from None
        return str(entry_id)  # (the caller applies it here; other workers at their next tick)

    async def edit(self, ops: list[Op]) -> dict[str, Any]:
        """An admin edit: appended for every node (or :class:`ClusterUnavailable`), then applied here.

        Once appended the edit is the cluster's: a local failure to apply it (a damaged snapshot)
        is reported in the answer, and this node applies it when it can, like every other node.
        """
        expected = await asyncio.to_thread(_expected, self.data_dir, ops)
        entry_id = await self.append(ops)
        try:
            result = await self.apply_through(entry_id)
        except (*EngineError, StoreError, sqlite3.Error) as exc:
            return {**expected, "edit": entry_id, "applied_here": False,
                    "detail": f"accepted for every node; not applied on this one yet: {exc}"}
        # ``None``: another worker of this node applied it first; the answer is then what this
        # node held just before the edit was appended.
        return {**(result or expected), "edit": entry_id, "applied_here": True}

    async def apply_through(self, entry_id: str) -> dict[str, Any] | None:
        """Apply every entry up to ``entry_id`` here now; that entry's result (``None``: already applied)."""
        result: dict[str, Any] | None = None
        while True:
            offset = await asyncio.to_thread(current_offset, self.data_dir)
            if not after(entry_id, offset):
                return result
            raw = await self._engine.xrange(self._keys.edits, f"({offset}", entry_id, count=BATCH)
            edits = parse_entries(raw)
            if not edits:
                return result
            _, _, got = await asyncio.to_thread(apply_to_store, self.data_dir, edits, entry_id)
            result = got or result

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        self._wake = wake = asyncio.Event()
        while True:
            await self.sync_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._settings.sync_interval_s)
            wake.clear()

    async def sync_once(self) -> bool:
        try:
            offset = await asyncio.to_thread(current_offset, self.data_dir)
            async with self._engine.pipeline(transaction=False) as pipe:
                pipe.xrange(self._keys.edits, f"({offset}", "+", count=BATCH)
                pipe.get(self._keys.published)
                pipe.hgetall(self._keys.identity_progress)
                raw, published, progress = await pipe.execute()
        except EngineError as exc:
            if self.engine_error is None:
                log.warning("cluster.data_sync_unreachable", error=str(exc) or type(exc).__name__)
            self.engine_error = str(exc) or type(exc).__name__
            return False
        except (sqlite3.Error, StoreError) as exc:  # the store check names the file; retry next tick
            self.store_error = f"cannot read the snapshot's edit offset: {exc}"
            return False
        self.engine_error, self.progress = None, dict(progress)
        self.published = Published.from_json(published)
        try:
            if edits := parse_entries(raw):
                await self._check_gap(offset)
                _, applied, _ = await asyncio.to_thread(apply_to_store, self.data_dir, edits)
                self.applied += applied
                if len(edits) == BATCH and self._wake is not None:
                    self._wake.set()  # more waiting: next round at once
            self.store_error = None
        except (sqlite3.Error, StoreError) as exc:
            self.store_error = f"live edits not applied: {exc}"
        if self.published is not None and self._installer is not None:
            await self._maybe_install(self.published, self._installer)
        return True

    async def _maybe_install(self, pub: Published, installer: Installer) -> None:
        if self._installed is None or pub.version > self._installed:
            self._installed = await asyncio.to_thread(installed_version, self.data_dir)
        if pub.version <= self._installed:
            return
        if self._failed and self._failed[0] == pub.version and time.time() - self._failed[1] < RETRY_FAILED_S:
            return
        with installer.exclusive() as mine:
            if not mine:
                return
            started = time.monotonic()
            try:
                if pub.version <= await asyncio.to_thread(installed_version, self.data_dir):
                    return  # another worker of this node just did it
                staging = await asyncio.to_thread(installer.stage, pub)
                edits = await self._edits_after(await asyncio.to_thread(installer.offset_of, staging))
                final = await asyncio.to_thread(installer.switch, staging, pub, edits)
            except (PublishProblem, StoreError, sqlite3.Error, OSError) as exc:
                self._failed = (pub.version, time.time(), str(exc))
                log.error("cluster.publish_not_installed", version=pub.version, error=str(exc))
                return
            except EngineError as exc:
                self.engine_error = str(exc) or type(exc).__name__
                return
        self._failed, self._installed, self.gap = None, pub.version, None
        self.installs += 1
        self.last_install_s = time.monotonic() - started
        log.info("cluster.publish_installed", version=pub.version, snapshot=str(final),
                 seconds=round(self.last_install_s, 3))

    async def _check_gap(self, offset: str) -> None:
        """Were edits after ``offset`` trimmed (``edits_max``) before we applied them? Then only a
        publish from an up-to-date node brings this one back in step: say so in readiness.

        Trimming removes the oldest entries. The offset is the id of an entry this snapshot
        applied (or :data:`START`): while that entry is still in the stream nothing after it is
        gone. Once it is gone too, its successor may have been trimmed as well: taken as a gap
        (a node that keeps up has its offset near the newest entry, far from the trimmed end).
        """
        try:
            async with self._engine.pipeline(transaction=False) as pipe:
                pipe.xinfo_stream(self._keys.edits)
                pipe.xrange(self._keys.edits, offset, offset, count=1)
                info, own = await pipe.execute()
        except EngineError:
            return
        trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        first = info.get("first-entry")
        first_id = str(first[0]) if first else START
        gone = trimmed and not own and (offset == START or after(first_id, offset))
        if gone and self.gap is None:
            log.error("cluster.edits_trimmed", offset=offset, oldest_kept=first_id)
        self.gap = (f"live edits after {offset} were trimmed from the engine before this node applied "
                    "them: run `segment-server cluster publish` on an up-to-date node") if gone else None

    async def _edits_after(self, offset: str) -> list[Edit]:
        edits: list[Edit] = []
        while True:
            batch = parse_entries(await self._engine.xrange(self._keys.edits, f"({offset}", "+", count=BATCH))
            edits += batch
            if len(batch) < BATCH:
                return edits
            offset = batch[-1].id

    # -- what readiness and /admin/status show -----------------------------------------------

    @property
    def problem(self) -> str | None:
        """Why this node's segment data may lag the cluster (``None``: it does not)."""
        if self.engine_error is not None:
            return f"segment data: engine unreachable ({self.engine_error})"
        if self.store_error is not None:
            return self.store_error
        if self.gap is not None:
            return self.gap
        if self._failed is not None:
            return f"{self._failed[2]}; serving the last good snapshot"
        return None

    def status(self) -> dict[str, Any]:
        pub = self.published
        return {"edits_applied": self.applied, "installs": self.installs,
                "published_version": pub.version if pub else None, "installed_version": self._installed,
                "last_install_seconds": self.last_install_s, "problem": self.problem,
                "identity_job": self.progress or None}


def _expected(data_dir: Path, ops: list[Op]) -> dict[str, Any]:
    """An admin edit's answer as the node's store stands now (before the edit is appended)."""
    reader = StoreWriter(data_dir)
    upserted, deleted = 0, {}
    for op in ops:
        if op[0] == "u":
            upserted += len(op[1])
        elif op[0] == "d":
            for key, segs in op[1]:
                current = reader.get_memberships(key)
                deleted[key] = [s for s in current if segs is None or s in segs]
    return {"upserted": upserted, "deleted": deleted}
