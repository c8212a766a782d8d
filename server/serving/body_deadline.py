"""A request body must arrive within ``[server] body_timeout_seconds`` — on granian, which has no such limit.

hyper (granian's HTTP core) bounds the time to read a request's *headers*, but once they are in, a
client may send its declared ``Content-Length`` a byte a minute, or never, and hold the connection
and one of the worker's ``backpressure`` slots for as long as it likes: a few thousand such clients
stop a worker from accepting anyone. uvicorn's engine closes them in
:class:`~server.protocol.GuardedHttpToolsProtocol`; this wrapper does the same at the ASGI level.

The clock starts when the app is called (the headers are complete) and covers every ``receive()``
of the request. When it runs out, the app's pending ``receive()`` gets ``http.disconnect`` — the
handlers already treat that as a client that left — and, if nothing was answered yet, the client
gets ``408 Request Timeout`` with ``Connection: close`` (RFC 9110 §15.5.9), as on uvicorn.

Cost: requests without a body (``GET``, ``HEAD``) pass straight through; others pay one
``asyncio.timeout_at`` per ``receive()`` (a timer handle, about a microsecond or two).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from server.types import Message, Receive, Scope, Send

App = Callable[[Scope, Receive, Send], Awaitable[None]]

NO_BODY: Final = frozenset({"GET", "HEAD"})
DISCONNECT: Final[Message] = {"type": "http.disconnect"}
_BODY_408: Final = b'{"error":"request not received in time"}'
_START_408: Final[Message] = {"type": "http.response.start", "status": 408,
                              "headers": [(b"content-type", b"application/json"),
                                          (b"content-length", str(len(_BODY_408)).encode()),
                                          (b"connection", b"close")]}
_END_408: Final[Message] = {"type": "http.response.body", "body": _BODY_408}


class BodyDeadline:
    """ASGI middleware: ``receive()`` answers ``http.disconnect`` past the body deadline, then 408."""

    def __init__(self, app: App, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app
        if scope["type"] != "http" or scope.get("method") in NO_BODY:
            await app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout
        late = answered = False

        async def receive_in_time() -> Message:
            nonlocal late
            try:
                async with asyncio.timeout_at(deadline):
                    return await receive()
            except TimeoutError:
                late = True
                return DISCONNECT

        async def send_seen(message: Message) -> None:
            nonlocal answered
            answered = True
            await send(message)

        await app(scope, receive_in_time, send_seen)
        if late and not answered:
            await send(_START_408)
            await send(_END_408)

    def __getattr__(self, name: str) -> object:
        """``state``, ``routes``…: the wrapped app answers (as the dispatcher does for Starlette)."""
        return getattr(self.app, name)
