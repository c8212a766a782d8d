"""Tiny plain-ASGI helpers for the hot endpoints: read a capped body, send prebuilt bytes.

Starlette's ``Request``/``Response`` are fine for admin routes; on ``/rtd`` and ``/segments``
we skip them and talk ASGI directly, because every microsecond there is Index's.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Final

import orjson

from server.types import Message, Receive, Send

Headers = list[tuple[bytes, bytes]]
JSON_HEADERS: Final[Headers] = [(b"content-type", b"application/json")]
AUTHORIZATION: Final = b"authorization"
CONTENT_ENCODING: Final = b"content-encoding"
# The only content coding we decode. RFC 9110 §15.5.16: a 415 for an unsupported coding "ought to"
# carry Accept-Encoding naming the codings that would have been accepted.
ACCEPTED_ENCODINGS: Final = (b"gzip", b"x-gzip")  # RFC 9110 §8.4.1.3: x-gzip is an alias of gzip
UNSUPPORTED_ENCODING_HEADERS: Final = [*JSON_HEADERS, (b"accept-encoding", b"gzip")]

Reply = tuple[int, Headers, bytes]
"""A hot endpoint's whole answer: status, headers (lower-case names, no ``Content-Length``: the
sender adds it) and body. The ASGI path sends it as two messages; the direct path
(:mod:`server.protocol`) writes it to the socket as one response."""


class BodyTooLarge(Exception):
    """The request body exceeds the configured cap (answered with 413)."""


class ClientGone(Exception):
    """The connection closed before the body was complete (the client left, or a read timeout)."""


class BadRequest(ValueError):
    """A request that cannot be read as sent (answered with 400 and this message)."""


class UnsupportedEncoding(ValueError):
    """A ``Content-Encoding`` we do not decode (answered with 415): we never guess."""


def authorization(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The one ``Authorization`` header of a request, for ``/rtd`` and ``/segments`` alike.

    RFC 9110 §5.3: a sender must not repeat a field whose value is not a comma-separated list,
    and ``credentials`` is not one. Two of them are ambiguous — one endpoint reading the first
    and another the last would accept different callers — so more than one is a
    :class:`BadRequest`, whether or not auth is enabled.
    """
    found: bytes | None = None
    for name, value in headers:
        if name == AUTHORIZATION:
            if found is not None:
                raise BadRequest("more than one Authorization header")
            found = value
    return (found.decode("latin-1") or None) if found is not None else None


def check_repeats(headers: list[tuple[bytes, bytes]]) -> None:
    """For a request that repeats some header: two ``Authorization`` are a :class:`BadRequest`,
    two ``Content-Encoding`` a list of codings (:class:`UnsupportedEncoding`, RFC 9110 §8.4)."""
    authorization(headers)
    if sum(1 for name, _ in headers if name == CONTENT_ENCODING) > 1:
        raise UnsupportedEncoding(", ".join(v.decode("latin-1") for n, v in headers if n == CONTENT_ENCODING))


async def read_body(headers: dict[bytes, bytes], receive: Receive, limit: int) -> bytes:
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        if not message.get("more_body", False):
            if not chunks:  # the whole body in one message: the usual case
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


def decode_body(raw: bytes, encoding: bytes, limit: int) -> bytes:
    """The body under its ``Content-Encoding``: gzip decoded up to ``limit`` bytes, nothing guessed.

    Decompression stops at ``limit + 1`` output bytes whatever the input claims, so a zip bomb
    costs at most ``limit`` bytes of memory before it becomes a :class:`BodyTooLarge` (413).
    ``identity`` is the body as sent; any other coding, or a list of codings, is
    :class:`UnsupportedEncoding` (415); a damaged or truncated gzip stream is :class:`BadRequest`.
    """
    coding = encoding.strip().lower()
    if coding == b"identity" or not coding:
        return raw
    if coding not in ACCEPTED_ENCODINGS:
        raise UnsupportedEncoding(coding.decode("latin-1"))
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing only (RFC 1952)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"malformed gzip body: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge()
    if not inflater.eof:
        raise BadRequest("malformed gzip body: truncated stream")
    if inflater.unused_data:
        raise BadRequest("malformed gzip body: data after the end of the stream")
    return out


async def send_bytes(send: Send, status: int, body: bytes,
                     headers: Iterable[tuple[bytes, bytes]] = JSON_HEADERS) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class ResponseHeads:
    """Writes a :data:`Reply` as one HTTP/1.1 response, the way uvicorn's ``send`` does: status
    line, the server's default headers (``date``, ``server``), the reply's, ``content-length``,
    ``connection: close`` when the connection ends after it.

    Everything before ``content-length`` depends only on the status, the reply's headers (a
    handful of long-lived lists) and the default headers, which uvicorn replaces once a second
    (the date): it is built once per pair and second, not per response.
    """

    MAX_HEADS: Final = 64

    def __init__(self) -> None:
        self.defaults: object = None
        self.heads: dict[tuple[int, int], tuple[Headers, bytes]] = {}  # (status, id(headers)) → both

    def render(self, status_line: bytes, defaults: Headers, reply: Reply, keep_alive: bool) -> bytes:
        status, headers, body = reply
        if defaults is not self.defaults:
            self.heads.clear()
            self.defaults = defaults
        key = (status, id(headers))
        entry = self.heads.get(key)
        if entry is None or entry[0] is not headers:  # the ``is`` guards against a reused id
            parts = [status_line]
            for name, value in defaults:
                parts += (name, b": ", value, b"\r\n")
            for name, value in headers:
                parts += (name, b": ", value, b"\r\n")
            entry = (headers, b"".join(parts))
            if len(self.heads) < self.MAX_HEADS:
                self.heads[key] = entry
        return b"".join((entry[1], b"content-length: ", str(len(body)).encode(),
                         b"\r\n\r\n" if keep_alive else b"\r\nconnection: close\r\n\r\n", body))


def prepared(status: int, body: bytes,
             headers: Iterable[tuple[bytes, bytes]] = JSON_HEADERS) -> tuple[Message, Message]:
    """The two ASGI messages of a constant answer, built once and sent as they are (servers read
    a message, never change it; the bare baseline app does the same)."""
    return ({"type": "http.response.start", "status": status,
             "headers": [*headers, (b"content-length", str(len(body)).encode())]},
            {"type": "http.response.body", "body": body})


def error_body(message: str, **extra: object) -> bytes:
    return orjson.dumps({"error": message, **extra})
