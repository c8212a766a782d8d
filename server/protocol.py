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
  circuit breaker counts any 5xx against us): the connection that has waited longest for its
  request to arrive is closed instead. Connections whose request is being answered are never
  chosen, so a busy keep-alive connection (Index's) always outlives an idle or trickling one.

A request that times out mid-way gets ``408 Request Timeout`` with ``Connection: close`` (RFC
9110 §15.5.9) when no answer has started; a connection that never sent a byte is just closed.
Cost on the hot path: one ``call_later`` and one ``cancel`` per request, never per chunk.

Used as ``uvicorn.run(http="server.protocol:GuardedHttpToolsProtocol")``; each worker reads the
limits from the same settings as the app (``load_settings()``, once per process).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from server.config import ServerSettings, load_settings

MAX_HEADER_BYTES: Final = 32768  # request line + headers; Index sends well under 2 KiB
# Phases of the connection's current request.
IDLE: Final = 0  # no byte of a request yet (fresh connection, or between keep-alive requests)
HEADERS: Final = 1  # request line or headers arriving
BODY: Final = 2  # headers complete, body arriving
ANSWERING: Final = 3  # request complete, the app is answering

_TIMEOUT_BODY: Final = b'{"error":"request not received in time"}'
_TIMEOUT_408: Final = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: "
                       + str(len(_TIMEOUT_BODY)).encode() + b"\r\nconnection: close\r\n\r\n" + _TIMEOUT_BODY)
_TOO_LARGE_431: Final = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
                         b"connection: close\r\n\r\n")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The ``[server]`` settings this protocol enforces (see config/default.toml)."""

    max_connections: int = 1024
    header_timeout: float = 5.0
    body_timeout: float = 10.0
    max_header_bytes: int = MAX_HEADER_BYTES

    @classmethod
    def of(cls, server: ServerSettings) -> ConnectionLimits:
        return cls(server.max_connections, server.header_timeout_seconds, server.body_timeout_seconds)


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
        self.phase = IDLE
        self.waiting_since = 0.0  # loop time the connection began waiting for its current request
        self._body_since = 0.0
        self._header_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None

    # -- connection --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.waiting_since = self.loop.time()
        self._arm(self.limits.header_timeout)  # the first request must arrive in time too
        if len(self.connections) > self.limits.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.phase <= HEADERS:  # headers still incomplete after this chunk: count them
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes and not self.transport.is_closing():
                self.transport.write(_TOO_LARGE_431)
                self.transport.close()

    # -- request phases (httptools parser callbacks) -----------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.phase == IDLE and self._deadline is None:  # keep-alive: this request's clock starts now
            self.waiting_since = self.loop.time()
            self._arm(self.limits.header_timeout)
        self.phase = HEADERS

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.phase = BODY
        self._header_bytes = 0
        self._body_since = self.loop.time()  # the running timer re-arms itself for the body on expiry

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.phase = ANSWERING
        self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # arms uvicorn's keep-alive timeout
        if self.phase == ANSWERING:
            self.phase = IDLE
            self.waiting_since = self.loop.time()

    # -- limits ------------------------------------------------------------------------------

    def _arm(self, delay: float) -> None:
        self._deadline = self.loop.call_later(delay, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.phase == ANSWERING:
            return
        if self.phase == BODY:
            left = self._body_since + self.limits.body_timeout - self.loop.time()
            if left > 0:
                self._arm(left)
                return
        self.drop()

    def drop(self) -> None:
        """Close this connection: 408 if a request was under way and nothing was answered yet."""
        cycle = self.cycle
        answering = cycle is not None and not cycle.response_complete
        if self.phase == BODY and answering:
            if not cycle.response_started:
                self.transport.write(_TIMEOUT_408)
            cycle.disconnected = True  # the app's read sees http.disconnect; its answer is dropped
            cycle.message_event.set()
        elif self.phase == HEADERS and not answering:
            self.transport.write(_TIMEOUT_408)
        self.transport.close()

    def _make_room(self) -> None:
        """At the cap: close the connection waiting longest for a request, or else this new one."""
        victim: GuardedHttpToolsProtocol = self
        for other in self.connections:
            if (isinstance(other, GuardedHttpToolsProtocol) and other.phase != ANSWERING
                    and other.waiting_since < victim.waiting_since and not other.transport.is_closing()):
                victim = other
        victim.drop()
