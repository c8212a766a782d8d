"""The UID2 v2 API envelope: AES-256-GCM around every operator request and response.

Both directions are implemented so that the client (``operator.py``) and the fake operator in the
tests share one definition of the bytes; the data-provider endpoints (identity map, buckets,
opt-out status) reuse the same four functions.

Request (base64 text of, or raw bytes in binary mode)::

    0x01 | iv(12) | AES-GCM(secret, iv)(timestamp_ms(8, BE) | nonce(8) | payload) | tag(16)

Response (HTTP 200 only; no version byte)::

    iv(12) | AES-GCM(secret, iv)(timestamp_ms(8, BE) | request nonce(8) | payload) | tag(16)

There is no AAD. The response nonce must equal the request nonce, or the response is a replay or
belongs to another request.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "ENVELOPE_VERSION",
    "EnvelopeError",
    "OpenedRequest",
    "open_request",
    "open_response",
    "seal_request",
    "seal_response",
]

ENVELOPE_VERSION = 1
IV_SIZE = 12
NONCE_SIZE = 8
TAG_SIZE = 16
SECRET_SIZE = 32
_HEADER = struct.Struct(">q8s")  # timestamp ms, nonce
# version + iv + (timestamp + nonce) + tag: the operator's own minimum request size.
_MIN_REQUEST = 1 + IV_SIZE + _HEADER.size + TAG_SIZE
_MIN_RESPONSE = IV_SIZE + _HEADER.size + TAG_SIZE


class EnvelopeError(ValueError):
    """The envelope cannot be opened: wrong size or version, GCM failure, or a nonce mismatch.

    It is an input/protocol error (garbage from the network), never a programming error.
    """


@dataclass(frozen=True, slots=True)
class OpenedRequest:
    """What the operator sees after opening a request envelope."""

    timestamp_ms: int
    nonce: bytes
    payload: bytes


def _aead(secret: bytes) -> AESGCM:
    if len(secret) != SECRET_SIZE:
        raise EnvelopeError(f"client secret must be {SECRET_SIZE} bytes, got {len(secret)}")
    return AESGCM(secret)


def seal_request(
    payload: bytes,
    secret: bytes,
    *,
    timestamp_ms: int,
    nonce: bytes | None = None,
    iv: bytes | None = None,
) -> tuple[bytes, bytes]:
    """Return ``(envelope, nonce)``; keep the nonce to check the response.

    ``nonce`` and ``iv`` are parameters only so vectors can be reproduced; in production they are
    fresh random bytes for every request.
    """
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    iv = os.urandom(IV_SIZE) if iv is None else iv
    if len(nonce) != NONCE_SIZE or len(iv) != IV_SIZE:
        raise EnvelopeError("nonce must be 8 bytes and iv 12 bytes")
    plaintext = _HEADER.pack(timestamp_ms, nonce) + payload
    return bytes((ENVELOPE_VERSION,)) + iv + _aead(secret).encrypt(iv, plaintext, None), nonce


def open_response(envelope: bytes, secret: bytes, nonce: bytes) -> bytes:
    """Return the payload of a 200 response after checking the GCM tag and the nonce."""
    if len(envelope) < _MIN_RESPONSE:
        raise EnvelopeError("response envelope too short")
    iv, sealed = envelope[:IV_SIZE], envelope[IV_SIZE:]
    try:
        plaintext = _aead(secret).decrypt(iv, sealed, None)
    except InvalidTag:
        raise EnvelopeError("response envelope failed authentication") from None
    if plaintext[8:16] != nonce:
        raise EnvelopeError("nonce mismatch")
    return plaintext[_HEADER.size :]


def open_request(envelope: bytes, secret: bytes) -> OpenedRequest:
    """Operator side: open a request envelope (used by the fake operator and tests)."""
    if len(envelope) < _MIN_REQUEST:
        raise EnvelopeError("request envelope too short")
    if envelope[0] != ENVELOPE_VERSION:
        raise EnvelopeError(f"unsupported envelope version {envelope[0]}")
    iv, sealed = envelope[1 : 1 + IV_SIZE], envelope[1 + IV_SIZE :]
    try:
        plaintext = _aead(secret).decrypt(iv, sealed, None)
    except InvalidTag:
        raise EnvelopeError("request envelope failed authentication") from None
    timestamp_ms, nonce = _HEADER.unpack_from(plaintext)
    return OpenedRequest(timestamp_ms, nonce, plaintext[_HEADER.size :])


def seal_response(
    payload: bytes,
    secret: bytes,
    *,
    nonce: bytes,
    timestamp_ms: int,
    iv: bytes | None = None,
) -> bytes:
    """Operator side: seal a 200 response for the request that carried ``nonce``."""
    iv = os.urandom(IV_SIZE) if iv is None else iv
    plaintext = _HEADER.pack(timestamp_ms, nonce) + payload
    return iv + _aead(secret).encrypt(iv, plaintext, None)
