"""The baseline: a bare Starlette app with a constant JSON answer, the best our stack can do.

Same routes and methods as ours (``POST /rtd`` reads the whole body, ``GET /segments``), same
plain-ASGI endpoint style, same headers and answer bytes as our miss; run by
:func:`loadtest.servers.start_bare` under uvicorn with our flags (uvloop, httptools, no access
log). Everything our server costs beyond this is the price of our own code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ANSWER = b'{"segment_ids":[],"deal_ids":[]}'
_START = {"type": "http.response.start", "status": 200,
          "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]}
_SEGMENTS_START = {"type": "http.response.start", "status": 200,
                   "headers": [(b"content-type", b"application/json"), (b"cache-control", b"max-age=3600"),
                               (b"content-length", str(len(ANSWER)).encode())]}
_BODY = {"type": "http.response.body", "body": ANSWER}


async def rtd(scope: Scope, receive: Receive, send: Send) -> None:
    more = True
    while more:  # read the body, as any real handler must
        message = await receive()
        more = message.get("more_body", False) and message["type"] == "http.request"
    await send(_START)
    await send(_BODY)


async def segments(scope: Scope, receive: Receive, send: Send) -> None:
    await send(_SEGMENTS_START)
    await send(_BODY)


async def health(scope: Scope, receive: Receive, send: Send) -> None:
    await send(_START)
    await send(_BODY)


class Endpoint:
    """A plain ASGI endpoint object: Starlette mounts callables that are not functions as raw ASGI
    apps (no Request/Response objects), which is how ``server/app.py`` mounts /rtd and /segments."""

    def __init__(self, handler: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(scope, receive, send)


app = Starlette(routes=[
    Route("/rtd", Endpoint(rtd), methods=["POST"]),
    Route("/segments", Endpoint(segments), methods=["GET"]),
    Route("/health", Endpoint(health), methods=["GET"]),
])
