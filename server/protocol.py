"""uvicorn's httptools protocol, plus the connection limits it lacks.

uvicorn closes a connection only when it stays idle *after* a response (``timeout_keep_alive``).
A client that connects and sends nothing, sends its headers a byte at a time (slowloris), or
declares a ``Content-Length`` it never sends is kept forever, and so are a thousand of them.
:class:`GuardedHttpToolsProtocol` adds, per worker:

* a **header read timeout** — a request's headers must be complete within
  ``header_timeout_seconds`` of the connection opening (first request) or of the request's first
  byte (later ones);
* a **body read timeout** — its body within ``body_timeout_seconds`` of the headers;
* a **header size cap** (:data:`MAX_HEADER_BYTES`, answered 431);
* a **connection cap** — past ``max_connections``, a new connection does not get a 503 (Index's
  circuit breaker counts any 5xx against us): the oldest connection that has not yet completed a
  request's headers is closed instead (the new one, if it is the only such). A connection that
  has served a request is never chosen, so Index's kept-alive connections outlive idle and
  trickling ones.

A request that times out mid-way gets ``408 Request Timeout`` with ``Connection: close`` (RFC
9110 §15.5.9) when no answer has started; a connection that never sent a byte is just closed.
Cost on the hot path: a timestamp or two per request; the deadlines are checked by one sweep per
worker a few times a second (:class:`_Sweeper`), not by a timer per request.

Used as ``uvicorn.run(http="server.protocol:GuardedHttpToolsProtocol")``; each worker reads the
limits from the same settings as the app (``load_settings()``, once per process).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from server.config import ServerSettings, load_settings

MAX_HEADER_BYTES: Final = 32768  # request line + headers; Index sends well under 2 KiB

DROPS_PER_SLICE: Final = 32  # overdue connections closed at a time by the sweeper,
SLICE_SECONDS: Final = 0.005  # ...with this pause between batches for the requests in between
_TIMEOUT_BODY: Final = b'{"error":"request not received in time"}'
_TIMEOUT_408: Final = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: "
                       + str(len(_TIMEOUT_BODY)).encode() + b"\r\nconnection: close\r\n\r\n" + _TIMEOUT_BODY)
_TOO_LARGE_431: Final = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
                         b"connection: close\r\n\r\n")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The ``[server]`` settings this protocol enforces (see config/default.toml)."""

    max_connections: int = 4096
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_header_bytes: int = MAX_HEADER_BYTES
    max_body: int = 65536  # a hot request's body past this goes to the ASGI path, which answers 413

    @classmethod
    def of(cls, server: ServerSettings) -> ConnectionLimits:
        return cls(server.max_connections, server.header_timeout_seconds, server.body_timeout_seconds,
                   max_body=server.max_body_bytes)


_process_limits: ConnectionLimits | None = None


def process_limits() -> ConnectionLimits:
    """This worker's limits: the ``[server]`` settings, loaded like ``create_app`` loads them."""
    global _process_limits
    if _process_limits is None:
        _process_limits = ConnectionLimits.of(load_settings().server)
    return _process_limits


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None, *,
                 limits: ConnectionLimits | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits or process_limits()
        self.started = 0.0  # loop time the pending request began (or the connection opened); 0: none pending
        self.body_since = 0.0  # loop time the pending request's headers completed (its body incomplete)
        self.header_bytes = 0
        self.fresh = True  # no request's headers complete yet on this connection
        self.idle_since = 0.0  # loop time the last response completed (the keep-alive clock)
        self.sweeper: _Sweeper | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.started = self.loop.time()  # the first request's clock starts at connect
        sweeper = self.sweeper = _Sweeper.of(self)
        sweeper.fresh[self] = None
        if len(self.connections) > self.limits.max_connections:
            victim = next(iter(sweeper.fresh))  # the oldest connection still without a request
            victim.drop()  # this new one itself when every other connection has served a request

    def connection_lost(self, exc: Exception | None) -> None:
        if self.fresh and self.sweeper is not None:
            self.sweeper.fresh.pop(self, None)
        super().connection_lost(exc)
        if self.timeout_keep_alive_task is not None:  # see _unset_keepalive_if_required
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        # Decided before the parser runs: a request answered within this chunk (server.direct)
        # completes its cycle here, and its body's last bytes are not a next request's headers.
        awaiting_headers = cycle is None or cycle.response_complete
        if not self.started:  # the first bytes of a request on a kept-alive connection
            self.started = self.loop.time()
        HttpToolsProtocol.data_received(self, data)  # not super(): this runs for every chunk
        if self.cycle is cycle:  # no new request's headers completed in this chunk
            if awaiting_headers:
                self.header_bytes += len(data)
                if self.header_bytes > self.limits.max_header_bytes and not self.transport.is_closing():
                    self.transport.write(_TOO_LARGE_431)
                    self.transport.close()
        else:
            self.header_bytes = 0
            if self.fresh:  # its first request: no longer a candidate for making room
                self.fresh = False
                if self.sweeper is not None:
                    self.sweeper.fresh.pop(self, None)
            if self.cycle.more_body:  # headers complete, body still to come: its own clock
                self.body_since = self.loop.time()

    def on_response_complete(self) -> None:
        """uvicorn's, except that its keep-alive timer is armed once per idle spell, not per response.

        uvicorn cancels the timer when a request's first bytes arrive and arms a new one (a
        ``TimerHandle`` and a libuv timer) after every response: ~4 k instructions a request.
        Here the armed timer stays; when it fires, :meth:`_idle_check` closes the connection
        only if it has really been idle ``timeout_keep_alive`` seconds, else re-arms for the rest.
        """
        self.server_state.total_requests += 1
        if self.cycle.response_complete:  # else a pipelined request is pending: its clock keeps running
            self.started = 0.0
        if self.transport.is_closing():
            return
        if self.flow.read_paused:  # FlowControl.resume_reading's own test, without the interpreted call
            self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self.idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self._idle_check)

    def _unset_keepalive_if_required(self) -> None:
        """uvicorn calls this as every request begins, to cancel its timer; ours stays armed."""

    def _idle_check(self) -> None:
        """The keep-alive timer fired: close if idle since the last response for the whole timeout."""
        self.timeout_keep_alive_task = None
        cycle = self.cycle
        if self.started or self.transport.is_closing() or (cycle is not None and not cycle.response_complete):
            return  # a request under way: the sweeper times it, and its response re-arms the timer
        remaining = self.idle_since + self.timeout_keep_alive - self.loop.time()
        if remaining > 0:
            self.timeout_keep_alive_task = self.loop.call_later(remaining, self._idle_check)
        else:
            self.transport.close()

    def overdue(self, now: float) -> bool:
        """Whether the pending request missed its header or body deadline (checked by the sweeper)."""
        if not self.started or self.transport.is_closing():
            return False
        cycle = self.cycle
        if cycle is None or cycle.response_complete:  # headers incomplete (or nothing sent yet)
            return now - self.started > self.limits.header_timeout
        if cycle.more_body:
            return now - self.body_since > self.limits.body_timeout
        return False  # complete: being answered

    def drop(self) -> None:
        """Close this connection: 408 if part of a request arrived and nothing was answered yet."""
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:  # body incomplete, or being answered
            if cycle.more_body and not cycle.response_started:
                self.transport.write(_TIMEOUT_408)
            cycle.disconnected = True  # the app's read sees http.disconnect; any answer is dropped
            cycle.message_event.set()
        elif self.header_bytes:
            self.transport.write(_TIMEOUT_408)
        self.transport.close()


class _Sweeper:
    """One per event loop: every ``tick`` seconds, drop the connections whose request is overdue.

    A periodic sweep instead of a timer per request: a request costs a timestamp or two and no
    timer object. ``fresh`` holds the connections that have not completed a request's headers
    yet, oldest first — where idle and slowloris connections sit, and where room is made at the
    cap in O(1) (a scan per new connection would turn a reconnecting attacker into a CPU sink).
    """

    _loops: ClassVar[dict[int, _Sweeper]] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop, connections: set[Any],
                 limits: ConnectionLimits) -> None:
        self.loop, self.connections = loop, connections
        self.tick = min(1.0, max(0.05, min(limits.header_timeout, limits.body_timeout) / 4))
        self.soonest = min(limits.header_timeout, limits.body_timeout)
        self.fresh: dict[GuardedHttpToolsProtocol, None] = {}
        self.late: list[GuardedHttpToolsProtocol] = []
        self.handle = loop.call_later(self.tick, self.sweep)

    @classmethod
    def of(cls, protocol: GuardedHttpToolsProtocol) -> _Sweeper:
        sweeper = cls._loops.get(id(protocol.loop))
        if sweeper is None or sweeper.loop is not protocol.loop or sweeper.loop.is_closed():
            sweeper = cls._loops[id(protocol.loop)] = cls(protocol.loop, protocol.connections,
                                                          protocol.limits)
        return sweeper

    def sweep(self) -> None:
        now = self.loop.time()
        since = now - self.soonest  # nothing that started later can be overdue yet
        self.late = [c for c in self.connections
                     if isinstance(c,
                                   GuardedHttpToolsProtocol) and 0.0 < c.started < since and c.overdue(now)]
        self.drain()

    def drain(self) -> None:
        """Drop :data:`DROPS_PER_SLICE` late connections, then let requests run for a moment.

        Connections opened together time out together; closing a thousand in one go (and
        accepting their owners' reconnects) would stall every request behind them for tens of ms.
        """
        late, self.late = self.late[:DROPS_PER_SLICE], self.late[DROPS_PER_SLICE:]
        now = self.loop.time()
        for connection in late:
            if connection.overdue(now):
                connection.drop()
        self.handle = self.loop.call_later(SLICE_SECONDS, self.drain) if self.late \
            else self.loop.call_later(self.tick, self.sweep)
