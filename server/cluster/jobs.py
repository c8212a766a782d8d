"""The UID2 identity jobs across a cluster: one runner at a time, progress any node can read.

Every node may run ``segment-server worker`` (or ``uid2 map --now``). A job runs only while its
runner holds the lease ``{prefix}:lease:identity`` (:mod:`server.cluster.lease`, renewed every
``job_lease_s / 3``): a second node finds it held and skips, saying by whom; a runner killed with
``kill -9`` frees it ``job_lease_s`` later; a runner that loses it (engine gone, lease expired)
cancels its job at once — the job resumes from its own cursors on the next turn, wherever it runs.

Results reach every node through the live-edit stream, not a publish: a job writes a batch of at
most a few thousand keys at a time (re-keyings, upserts, opt-out deletions), which is what the
stream is for, in order with the admin edits, and small next to a whole snapshot copy per batch.
:class:`StreamWriter` is the store writer the jobs get: each write is appended to the stream and
then applied here like any other node's, so no node — this one included — has it first or alone.

Progress is the hash ``{prefix}:identity:progress`` (job, state, holder, batches, times), shown by
``segment-server uid2 status`` and ``/admin/status`` (``subsystems.cluster.data.identity_job``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import redis
import structlog

from segments.store import StoreWriter
from server.cluster.edits import Op, encode, membership_ops
from server.cluster.engine import EngineError, Keys, connect
from server.cluster.errors import ClusterUnavailable
from server.cluster.lease import Lease
from server.cluster.publisher import catch_up, sync_client
from server.cluster.settings import ClusterSettings

log = structlog.get_logger("server.cluster")

#: How often the runner writes its batch count into the progress hash (s).
PROGRESS_EVERY_S = 1.0


class LeaseLost(Exception):
    """The job's lease passed to someone else (or could not be renewed): the job was stopped."""


class StreamWriter(StoreWriter):
    """A :class:`StoreWriter` whose edits go through the cluster's stream (blocking client)."""

    def __init__(self, data_dir: str | Path, settings: ClusterSettings) -> None:
        super().__init__(data_dir)
        self.data_dir = Path(data_dir)
        self._settings = settings
        self._keys = Keys(settings.key_prefix)
        self._client: redis.Redis = sync_client(settings)

    def close(self) -> None:
        self._client.close()

    def _edit(self, ops: list[Op]) -> None:
        """Append, then apply here with everything before it (as every other node will)."""
        try:
            self._client.xadd(self._keys.edits, {"e": encode(ops)}, maxlen=self._settings.edits_max,
                              approximate=True)
            catch_up(self._client, self._keys, self.data_dir)
        except EngineError as exc:
            raise ClusterUnavailable(f"cluster engine unreachable ({exc or type(exc).__name__})") from None

    def upsert_memberships(self, items: Iterable[tuple[str, dict[str, int | None]]]) -> int:
        rows = [(key, dict(entries)) for key, entries in items]
        if rows:
            self._edit(membership_ops(rows, []))
        return len(rows)

    def delete_memberships_many(self, items: Iterable[tuple[str, Sequence[str] | None]]
                                ) -> dict[str, list[str]]:
        rows = list(items)
        before = {key: self.get_memberships(key) for key, _ in rows}
        if rows:
            self._edit(membership_ops([], rows))
        return {key: [s for s in before[key] if segs is None or s in segs] for key, segs in rows}

    def share_optouts(self, since: dict[str, float]) -> None:
        """Opt-outs into every node's identity database (what ``/rtd``'s opt-out index reads)."""
        if since:
            self._edit([["o", [[uid, at] for uid, at in since.items()]]])

    def rekey(self, moves: Iterable[tuple[str, str]], *, keep_old: bool = False) -> int:
        pairs = [[old, new] for old, new in moves]
        if pairs:
            self._edit([["r", pairs, keep_old]])
        return len(pairs)


class ClusterJobs:
    """Lease and progress for one process's identity jobs (asyncio client; open per event loop)."""

    def __init__(self, settings: ClusterSettings) -> None:
        self.settings = settings
        self.engine = connect(settings)
        self.keys = Keys(settings.key_prefix)
        self.batches = 0

    def checkpoint(self, _name: str) -> None:
        """The jobs' checkpoint hook: one batch stored (flushed to the progress hash every second)."""
        self.batches += 1

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.engine.aclose()

    async def progress(self) -> dict[str, str]:
        raw = await self.engine.hgetall(self.keys.identity_progress)
        return {str(k): str(v) for k, v in raw.items()}

    async def run(self, name: str, job: Any) -> tuple[Any, str | None]:
        """Run ``job()`` (a coroutine function) holding the lease: (its result, None) or (None, holder)."""
        lease = Lease(self.engine, self.settings.key_prefix, "identity", ttl_s=self.settings.job_lease_s)
        try:
            held = lease.held()
            got = await held.__aenter__()
        except EngineError as exc:
            raise ClusterUnavailable(f"cluster engine unreachable ({exc or type(exc).__name__}): "
                                     "no identity job runs without the lease") from None
        try:
            if not got:
                return None, await _quiet(lease.holder()) or "another node"
            return await self._guarded(name, job, lease), None
        finally:
            await held.__aexit__(None, None, None)

    async def _guarded(self, name: str, job: Any, lease: Lease) -> Any:
        self.batches = 0
        await self._set({"job": name, "state": "running", "holder": lease.owner, "started": repr(time.time()),
                         "batches": "0", "finished": "", "error": ""})
        work = asyncio.ensure_future(job())
        lost = asyncio.ensure_future(lease.lost.wait())
        try:
            while not work.done():
                await asyncio.wait({work, lost}, timeout=PROGRESS_EVERY_S,
                                   return_when=asyncio.FIRST_COMPLETED)
                if lost.done() and not work.done():
                    work.cancel()
                    await asyncio.gather(work, return_exceptions=True)
                    await self._set({"state": "lease_lost", "finished": repr(time.time())})
                    log.error("identity job stopped: lease lost", job=name)
                    raise LeaseLost(f"identity job {name} stopped: its lease was lost")
                await self._set({"batches": str(self.batches)})
        finally:
            lost.cancel()
        try:
            result = work.result()
        except BaseException as exc:
            await self._set({"state": "crashed", "error": f"{type(exc).__name__}: {exc}",
                             "finished": repr(time.time())})
            raise
        error = getattr(result, "error", None)
        await self._set({"state": "failed" if error else "done", "error": error or "",
                         "batches": str(self.batches),
                         "finished": repr(time.time()), "report": _json(result)})
        return result

    async def _set(self, fields: dict[str, str]) -> None:
        with contextlib.suppress(*EngineError):
            await self.engine.hset(self.keys.identity_progress, mapping=dict(fields))  # type: ignore[arg-type]


async def _quiet(call: Any) -> str | None:
    try:
        value = await call
    except EngineError:
        return None
    return None if value is None else str(value)


def _json(result: Any) -> str:
    import orjson

    as_dict = getattr(result, "as_dict", None)
    return orjson.dumps(as_dict() if as_dict else None).decode()


def apply_pending(data_dir: Path, settings: ClusterSettings) -> None:
    """Bring this data dir's snapshot up to the stream (before a job reads the store)."""
    client = sync_client(settings)
    try:
        catch_up(client, Keys(settings.key_prefix), data_dir)
    except EngineError as exc:
        raise ClusterUnavailable(f"cluster engine unreachable ({exc or type(exc).__name__})") from None
    finally:
        client.close()


__all__ = ["ClusterJobs", "LeaseLost", "StreamWriter", "apply_pending"]
