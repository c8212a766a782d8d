"""Tiny plain-ASGI helpers for the hot endpoints: read a capped body, send prebuilt bytes.

Starlette's ``Request``/``Response`` are fine for admin routes; on ``/rtd`` and ``/segments``
we skip them and talk ASGI directly, because every microsecond there is Index's.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from server.types import Receive, Send

JSON_HEADERS = [(b"content-type", b"application/json")]


class BodyTooLarge(Exception):
    """The request body exceeds the configured cap (answered with 413)."""


async def read_body(headers: dict[bytes, bytes], receive: Receive, limit: int) -> bytes:
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_bytes(send: Send, status: int, body: bytes,
                     headers: Iterable[tuple[bytes, bytes]] = JSON_HEADERS) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def error_body(message: str, **extra: object) -> bytes:
    return orjson.dumps({"error": message, **extra})
