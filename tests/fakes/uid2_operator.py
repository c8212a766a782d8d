"""A fake UID2 operator: the v2 envelope, Bearer auth, the key endpoints, and injectable faults.

Use it as an ``httpx.MockTransport`` handler (no sockets)::

    fake = FakeUID2Operator(secret=SECRET, keys={"/v2/key/bidstream": vectors["key_sets"]["bidstream"]})
    client = OperatorClient("https://operator.test", fake.api_key, SECRET, transport=fake.transport())
    fake.inject(Fault.SERVER_ERROR, Fault.SLOW)   # the next two requests fail, in that order

More endpoints (identity map, buckets, opt-out) plug in with ``fake.add_route(path, handler)``:
the handler gets the decrypted JSON payload (or None) and returns the JSON document to seal.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import orjson

from server.uid2.envelope import EnvelopeError, open_request, seal_response

Route = Callable[[Any], Any]
MAX_DRIFT_MS = 119_999  # the operator truncates the drift to whole minutes and rejects > 1


class Fault(enum.Enum):
    UNAUTHORIZED = "401"
    RATE_LIMITED = "429"
    SERVER_ERROR = "500"
    SLOW = "slow"  # sleeps `slow_seconds`, then answers normally
    GARBAGE = "garbage"  # 200 with a body that is not an envelope
    WRONG_NONCE = "wrong_nonce"  # a valid envelope for some other request
    BAD_KEYS = "bad_keys"  # a valid envelope around a malformed key document


class FakeUID2Operator:
    def __init__(
        self,
        *,
        secret: bytes,
        api_key: str = "fake-api-key",
        keys: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
        slow_seconds: float = 5.0,
    ) -> None:
        self.secret = secret
        self.api_key = api_key
        self.clock = clock
        self.slow_seconds = slow_seconds
        self.faults: deque[Fault] = deque()
        self.requests: list[tuple[str, int]] = []  # (path, status) per request
        self.routes: dict[str, Route] = {}
        for path, document in (keys or {}).items():
            self.set_document(path, document)

    def set_document(self, path: str, document: Any) -> None:
        """Answer ``path`` with a fixed document, e.g. a key response."""
        self.routes[path] = lambda _payload: document

    def add_route(self, path: str, route: Route) -> None:
        self.routes[path] = route

    def inject(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        response = await self._answer(request)
        self.requests.append((request.url.path, response.status_code))
        return response

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        fault = self.faults.popleft() if self.faults else None
        if fault is Fault.SLOW:
            await asyncio.sleep(self.slow_seconds)
        if fault is Fault.UNAUTHORIZED or request.headers.get("authorization") != f"Bearer {self.api_key}":
            return httpx.Response(401, json={"status": "unauthorized", "message": "invalid api key"})
        if fault is Fault.RATE_LIMITED:
            return httpx.Response(429)
        if fault is Fault.SERVER_ERROR:
            return httpx.Response(500, json={"status": "error", "message": "internal"})
        if request.method != "POST" or request.url.path not in self.routes:
            return httpx.Response(404, json={"status": "error", "message": "not found"})
        binary = request.headers.get("content-type") == "application/octet-stream"
        try:
            raw = await request.aread()
            opened = open_request(raw if binary else base64.b64decode(raw, validate=True), self.secret)
            payload = orjson.loads(opened.payload) if opened.payload.strip() else None
        except (binascii.Error, EnvelopeError, orjson.JSONDecodeError):
            return httpx.Response(400, json={"status": "client_error", "message": "bad envelope"})
        now_ms = int(self.clock() * 1000)
        if abs(now_ms - opened.timestamp_ms) > MAX_DRIFT_MS:
            return httpx.Response(400, json={"status": "client_error", "message": "request expired"})
        if fault is Fault.GARBAGE:
            return httpx.Response(200, content=b"<html>502 Bad Gateway</html>")
        document = self.routes[request.url.path](payload)
        if fault is Fault.BAD_KEYS:
            document = {"body": {"keys": [{"id": "x"}]}, "status": "success"}
        nonce = os.urandom(8) if fault is Fault.WRONG_NONCE else opened.nonce
        sealed = seal_response(orjson.dumps(document), self.secret, nonce=nonce, timestamp_ms=now_ms)
        if binary:
            return httpx.Response(200, content=sealed, headers={"content-type": "application/octet-stream"})
        return httpx.Response(200, content=base64.b64encode(sealed))
