"""Token header detection and base64 decoding (reference note section 1.1).

The first four characters decode to three header bytes. ``byte0 == 2`` is v2 (standard base64);
otherwise ``byte1`` is the version: 112 (v3, standard base64) or 128 (v4, base64url without
padding, also accepted re-encoded as standard base64 with padding). A v3/v4 ``byte0`` always has
its low two bits set, so it can never be 2.

Lengths are checked here, before any key lookup, as .NET does: a v2 token is exactly 133 bytes
and a v3/v4 token at least 163. Anything else cannot be a token the operator made.
"""

from __future__ import annotations

import binascii

from .status import DecryptionStatus

__all__ = ["MAX_TOKEN_CHARS", "decode_token"]

MAX_TOKEN_CHARS = 500  # the docs' upper bound for future growth; longer input is refused undecoded
V2_TOKEN_BYTES = 133
V3_MIN_TOKEN_BYTES = 163
VERSION_BYTE_V3 = 112
VERSION_BYTE_V4 = 128
_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def _decode_header(token: bytes) -> bytes:
    return binascii.a2b_base64(token[:4].translate(_URL_TO_STANDARD), strict_mode=True)


def _decode_v4(token: bytes) -> bytes:
    """base64url without padding, or the same bytes re-encoded as padded standard base64."""
    data = token.translate(_URL_TO_STANDARD).rstrip(b"=")
    return binascii.a2b_base64(data + b"=" * (-len(data) % 4), strict_mode=True)


def decode_token(token: str) -> tuple[int, bytes] | DecryptionStatus:
    """Return ``(version, token bytes)`` or the status that rejects the token.

    Raises nothing for bad input: undecodable text is INVALID_PAYLOAD.
    """
    if len(token) < 4 or len(token) > MAX_TOKEN_CHARS:
        return DecryptionStatus.INVALID_PAYLOAD
    try:
        raw = token.encode("ascii")
        header = _decode_header(raw)
        if header[0] == 2:
            data = binascii.a2b_base64(raw, strict_mode=True)
            return (2, data) if len(data) == V2_TOKEN_BYTES else DecryptionStatus.INVALID_PAYLOAD
        if header[1] == VERSION_BYTE_V3:
            version, data = 3, binascii.a2b_base64(raw, strict_mode=True)
        elif header[1] == VERSION_BYTE_V4:
            version, data = 4, _decode_v4(raw)
        else:
            return DecryptionStatus.VERSION_NOT_SUPPORTED
    except (UnicodeEncodeError, binascii.Error, IndexError):
        return DecryptionStatus.INVALID_PAYLOAD
    return (version, data) if len(data) >= V3_MIN_TOKEN_BYTES else DecryptionStatus.INVALID_PAYLOAD
