"""Async client for the UID2 operator's enveloped v2 API.

``post_enveloped`` is the one primitive: seal a payload, POST it with the API key, check the HTTP
status, open the response, check the nonce, parse the JSON. ``fetch_keys`` is built on it, and the
data-provider endpoints (identity map, buckets, opt-out status) can be too. The HTTP transport is
injectable (``httpx.MockTransport`` in tests), and every call has both httpx's per-phase timeouts
and an overall deadline, because a server trickling bytes never trips a read timeout.

Errors (all I/O; the caller decides whether to retry)::

    OperatorError             any failed call; ``status_code`` is set for HTTP errors
    ├── OperatorHTTPError     non-200 status (401 bad key, 429 throttled, 5xx)
    └── OperatorResponseError 200 with a body we cannot use (not base64, bad tag, nonce, JSON)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Callable, Mapping
from typing import Any, Self

import httpx
import orjson

from .envelope import EnvelopeError, open_response, seal_request
from .keys import KeyParseError, KeySet, parse_key_response
from .types import ClientType

__all__ = ["OperatorClient", "OperatorError", "OperatorHTTPError", "OperatorResponseError"]

USER_AGENT = "segment-server-uid2"


class OperatorError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class OperatorHTTPError(OperatorError):
    pass


class OperatorResponseError(OperatorError):
    pass


class OperatorClient:
    """One per operator (UID2 or EUID). Use as ``async with`` or call ``aclose()``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        secret: bytes,
        *,
        timeout: httpx.Timeout | None = None,
        total_timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._clock = clock
        self._total_timeout = total_timeout
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
            timeout=timeout or httpx.Timeout(10.0, connect=2.0),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"OperatorClient(base_url={str(self._http.base_url)!r})"  # never the key or secret

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post_enveloped(self, path: str, payload: Mapping[str, Any] | bytes | None = None) -> Any:
        """POST ``payload`` (a JSON object, raw bytes, or nothing) and return the decrypted JSON.

        The return value is the whole document, normally ``{"body": ..., "status": "success"}``.
        """
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload) if payload else b""
        envelope, nonce = seal_request(data, self._secret, timestamp_ms=int(self._clock() * 1000))
        try:
            async with asyncio.timeout(self._total_timeout):
                response = await self._http.post(path, content=base64.b64encode(envelope))
        except TimeoutError:
            raise OperatorError(f"POST {path}: no answer within {self._total_timeout}s") from None
        except httpx.HTTPError as exc:
            raise OperatorError(f"POST {path}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise OperatorHTTPError(
                f"POST {path}: HTTP {response.status_code}", status_code=response.status_code
            )
        try:
            plain = open_response(base64.b64decode(response.content, validate=True), self._secret, nonce)
            return orjson.loads(plain)
        except (binascii.Error, EnvelopeError, orjson.JSONDecodeError) as exc:
            raise OperatorResponseError(f"POST {path}: unusable response ({exc})", status_code=200) from None

    async def fetch_keys(self, client_type: ClientType = ClientType.BIDSTREAM) -> KeySet:
        document = await self.post_enveloped(client_type.key_path)
        try:
            return parse_key_response(document)
        except KeyParseError as exc:
            raise OperatorResponseError(f"{client_type.key_path}: {exc}", status_code=200) from None
