"""The outside world's fakes (tests/fakes/) served on loopback for a subprocess server to call.

``FakeXandr`` is already an ASGI app; ``FakeUID2Operator`` answers ``httpx.Request`` objects, so it
gets a thin ASGI adapter here. Both run under ``tests.fakes.xandr.LoopbackServer`` (uvicorn in a
thread of the test process), so a test reads the fake's state directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.fakes.uid2_operator import FakeUID2Operator
from tests.server.uid2_app import SECRET, fresh_sharing_keys

__all__ = ["SECRET", "OperatorApp", "fresh_sharing_keys"]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class OperatorApp:
    """ASGI face of a :class:`FakeUID2Operator`."""

    def __init__(self, fake: FakeUID2Operator) -> None:
        self.fake = fake

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = httpx.Request(scope["method"], f"http://operator.test{scope['path']}",
                                headers=[(k.decode(), v.decode()) for k, v in scope["headers"]], content=body)
        response = await self.fake.handle(request)
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()
                                if k.lower() != "content-length"]
                    + [(b"content-length", str(len(response.content)).encode())]})
        await send({"type": "http.response.body", "body": response.content})
