"""``[cluster]`` mirror on one worker: forward the node's outbox into the member's stream, and drain it.

    /rtd ─offer()─▶ memory ─≤100 ms─▶ local SQLite outbox ─forwarder─▶ engine stream ─▶ one sender ─▶ Xandr
                    (unchanged: no network on the hot path)  (this module)   (stream_source, lease, rate)

The local outbox stays each node's durable buffer. After every flush the forwarder reads it in
id order and XADDs the rows in pipelined script calls (:meth:`StreamOutbox.forward`), deleting
them locally only once the engine has them. Every worker of a node forwards (lowest latency: the
rows it just flushed go at once); the per-node mark in the forward script makes a row forwarded
twice — by two workers, or by a node killed between XADD and delete — land in the stream once.

When the engine is unreachable, or the stream is at ``[mirror] stream_max_len``, rows simply stay
in the local outbox (nothing dropped), readiness says ``degraded`` with the backlog, and the
forwarder retries every ``RETRY_MAX_S`` at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from typing import Any, Final

import httpx
import redis.asyncio as aioredis
import structlog

from server.cluster.engine import EngineError, connect
from server.cluster.settings import ClusterSettings
from server.cluster.stream import StreamKeys, StreamOutbox, StreamStatus
from server.cluster.stream_rate import SharedRate
from server.cluster.stream_source import MIRROR_STREAM_LENGTH, StreamSource
from server.mirror.client import XandrClient
from server.mirror.outbox import Outbox
from server.mirror.reconcile import Reconciler
from server.mirror.sender import Sender
from server.mirror.settings import MirrorSettings
from server.mirror.types import Clock

log = structlog.get_logger("server.mirror.cluster")

#: Local rows read per forward step (several pipelined script calls of FORWARD_CHUNK rows).
FETCH: Final = 5000
POLL_S: Final = 0.5  # rows written by another worker or `mirror remove` are forwarded this late at most
STATUS_EVERY_S: Final = 1.0
RETRY_MAX_S: Final = 2.0


@dataclasses.dataclass
class ForwardState:
    """The link as readiness and status report it."""

    connected: bool = False
    detail: str = "not forwarded yet"
    since: float | None = None  # when the current trouble began
    stream_full: bool = False
    forwarded: int = 0  # rows this worker moved into the stream


class Forwarder:
    def __init__(self, local: Outbox, stream: StreamOutbox, node_id: str, max_len: int) -> None:
        self._local = local
        self._stream = stream
        self.node_id = node_id
        self._max_len = max_len
        self.state = ForwardState()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def forward_once(self) -> int:
        """Move everything the local outbox holds now; returns rows moved."""
        moved = 0
        while True:
            rows = await asyncio.to_thread(self._local.fetch, FETCH)
            if not rows:
                break
            done, full = await self._stream.forward(self.node_id, rows, self._max_len)
            if done:
                await asyncio.to_thread(self._local.delete, done)
                moved += len(done)
            self.state.stream_full = full
            if full or len(done) < len(rows) or len(rows) < FETCH:
                break
        self.state.forwarded += moved
        return moved

    async def run(self, stopping: asyncio.Event) -> None:
        delay = 0.0  # at once: readiness says "forwarding" (or why not) right after start
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            try:
                await self.forward_once()
            except EngineError as exc:
                self._trouble(f"engine unreachable ({str(exc) or type(exc).__name__})")
                delay = min(RETRY_MAX_S, max(POLL_S, delay * 2))
                continue
            if self.state.stream_full:
                self._trouble(f"engine stream full (stream_max_len = {self._max_len})")
                delay = RETRY_MAX_S
                continue
            if not self.state.connected and self.state.since is not None:
                log.info("mirror_forward_resumed", after_s=round(time.time() - self.state.since, 1))
            self.state.connected, self.state.detail, self.state.since = True, "forwarding", None
            delay = POLL_S

    def _trouble(self, detail: str) -> None:
        if self.state.connected or self.state.since is None:
            log.warning("mirror_forward_paused", detail=detail)
            self.state.since = time.time()
        self.state.connected, self.state.detail = False, detail


class ClusterMirror:
    """What :class:`~server.mirror.queue.Mirror` runs per worker when ``[cluster]`` is on."""

    def __init__(self, settings: MirrorSettings, cluster: ClusterSettings, local: Outbox,
                 engine: aioredis.Redis, node_id: str) -> None:
        self.settings = settings
        self.local = local
        self.engine = engine
        self.stream = StreamOutbox(engine, StreamKeys.of(cluster.key_prefix, settings.member_id))
        self.forwarder = Forwarder(local, self.stream, node_id, settings.stream_max_len)
        self.sender: Sender | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._status: StreamStatus | None = None
        self._status_error: str | None = "not read yet"

    @classmethod
    async def start(cls, settings: MirrorSettings, cluster: ClusterSettings, local: Outbox, *,
                    transport: httpx.AsyncBaseTransport | None = None,
                    clock: Clock = time.time) -> ClusterMirror:
        node_id = await asyncio.to_thread(local.node_id)
        self = cls(settings, cluster, local, connect(cluster), node_id)
        with contextlib.suppress(*EngineError):  # down at start: the loops retry
            await self.stream.ensure_group()
        self._tasks.append(asyncio.create_task(self.forwarder.run(self._stopping), name="mirror-forward"))
        self._tasks.append(asyncio.create_task(self._status_loop(), name="mirror-stream-status"))
        if settings.embedded_sender:
            self.sender = make_stream_sender(settings, self.stream, local, transport, clock)
            self._tasks.append(asyncio.create_task(self.sender.run(), name="mirror-sender"))
        return self

    async def stop(self, sender_grace: float) -> None:
        """After the final local flush: one last forward (best effort), then stop everything."""
        self._stopping.set()
        self.forwarder.wake()
        if self.sender is not None:
            self.sender.stop()
        _, pending = await asyncio.wait(self._tasks, timeout=sender_grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.forwarder.forward_once()
        except EngineError:
            log.warning("mirror_forward_deferred", detail="engine unreachable; rows stay in the local outbox")
        if self.sender is not None:
            await self.sender.aclose()
        with contextlib.suppress(Exception):
            await self.engine.aclose()

    def readiness(self) -> tuple[bool, str, bool]:
        """(ok, detail, degraded): never failing — intents wait durably in the local outbox."""
        state = self.forwarder.state
        if state.connected:
            return True, "forwarding to the engine's stream", False
        since = f" since {time.time() - state.since:.1f} s" if state.since else ""
        return True, f"{state.detail}{since}; intents held in the local outbox", True

    def status(self) -> dict[str, Any]:
        """For ``/admin/status``: the stream as last read (once a second), and this node's forwarder."""
        state = self.forwarder.state
        out: dict[str, Any] = {"node_id": self.forwarder.node_id, "forwarding": state.connected,
                               "forward_detail": state.detail, "forwarded_by_this_worker": state.forwarded}
        if self.sender is not None:
            out["sender"] = self.sender.holder
        if self._status is None:
            out["stream"] = {"error": self._status_error}
        else:
            out["stream"] = dataclasses.asdict(self._status)
        return out

    async def _status_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._status = await self.stream.status()
                self._status_error = None
                MIRROR_STREAM_LENGTH.set(self._status.stream_length)
            except EngineError as exc:
                self._status = None
                self._status_error = f"engine unreachable ({str(exc) or type(exc).__name__})"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), STATUS_EVERY_S)


def make_stream_sender(settings: MirrorSettings, stream: StreamOutbox, local: Outbox,
                       transport: httpx.AsyncBaseTransport | None = None, clock: Clock = time.time) -> Sender:
    """The sender on the member's stream; the node's outbox keeps its auth log and reconciliation."""
    http = XandrClient.make_http(settings, transport)
    client = XandrClient(settings, http, clock=clock, auth_log=local)
    reconciler = Reconciler(client, local, settings.member_id, settings.reconcile_interval, clock)
    rate = SharedRate(stream.engine, stream.keys, settings.posts_per_second, settings.users_per_second)
    source = StreamSource(stream, rate, settings, local)
    return Sender(settings, source, client, clock=clock, reconciler=reconciler)
