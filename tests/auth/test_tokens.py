"""Token codec: round trip, byte-exact HMAC, and every way a token can be wrong."""

from __future__ import annotations

import base64
import hmac
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.auth import tokens
from server.auth.tokens import Claims, MacKey, TokenStatus

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
IDENTITY = bytes.fromhex("0123456789abcdef0123456789abcdef")
NOW = 1_750_000_000
CLAIMS = Claims(kid=7, identity=IDENTITY, scope_mask=3, issued_at_ms=NOW * 1000, expires_at=NOW + 3600)
KEYS = {7: MacKey(KEY)}


def _raw(token: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(token[4:]))


def _reencode(raw: bytes) -> str:
    return tokens.PREFIX + base64.urlsafe_b64encode(bytes(raw)).decode()


def _flip(token: str, offset: int) -> str:
    raw = _raw(token)
    raw[offset] ^= 0x01
    return _reencode(raw)


def _resign(token: str, offset: int, value: int, key: bytes = KEY) -> str:
    """Change a claim byte and sign again (a forger holding the key) — for claim validation."""
    raw = _raw(token)
    raw[offset] = value
    block = bytes(raw[:34])
    return _reencode(block + hmac.digest(key, block, "sha256"))


def test_round_trip() -> None:
    token = tokens.encode(CLAIMS, KEY)
    assert token.startswith("ss1_") and len(token) == tokens.TOKEN_LEN == 92
    assert tokens.verify(token, KEYS, NOW) == CLAIMS


@pytest.mark.parametrize("length", [1, 16, 32, 64, 65, 200], ids=lambda n: f"key{n}")
def test_mac_key_is_hmac_sha256(length: int) -> None:
    secret = os.urandom(length)
    for message in (b"", b"abc", os.urandom(34), os.urandom(200)):
        assert MacKey(secret).digest(message) == hmac.digest(secret, message, "sha256")


def test_repr_hides_key_material() -> None:
    assert KEY.hex() not in repr(MacKey(KEY))


GOOD = tokens.encode(CLAIMS, KEY)


@pytest.mark.parametrize(
    ("token", "keys", "now", "expected"),
    [
        pytest.param("", KEYS, NOW, TokenStatus.MALFORMED, id="empty"),
        pytest.param(GOOD[:-1], KEYS, NOW, TokenStatus.MALFORMED, id="truncated"),
        pytest.param(GOOD + "A", KEYS, NOW, TokenStatus.MALFORMED, id="too-long"),
        pytest.param("xx1_" + GOOD[4:], KEYS, NOW, TokenStatus.MALFORMED, id="wrong-prefix"),
        pytest.param(GOOD[:50] + "*" + GOOD[51:], KEYS, NOW, TokenStatus.MALFORMED, id="not-base64"),
        pytest.param(GOOD[:50] + "é" + GOOD[51:], KEYS, NOW, TokenStatus.MALFORMED, id="non-ascii"),
        pytest.param(_resign(GOOD, 0, 2), KEYS, NOW, TokenStatus.MALFORMED, id="unknown-version"),
        pytest.param(_resign(GOOD, 21, 0x08), KEYS, NOW, TokenStatus.MALFORMED, id="unknown-scope-bit"),
        pytest.param(_flip(GOOD, 4), KEYS, NOW, TokenStatus.UNKNOWN_KEY, id="tampered-kid"),
        pytest.param(GOOD, {8: MacKey(KEY)}, NOW, TokenStatus.UNKNOWN_KEY, id="key-gone"),
        pytest.param(_flip(GOOD, 10), KEYS, NOW, TokenStatus.BAD_SIGNATURE, id="tampered-identity"),
        pytest.param(_flip(GOOD, 21), KEYS, NOW, TokenStatus.BAD_SIGNATURE, id="tampered-scope-escalation"),
        pytest.param(_flip(GOOD, 25), KEYS, NOW, TokenStatus.BAD_SIGNATURE, id="tampered-issued-at"),
        pytest.param(_flip(GOOD, 33), KEYS, NOW, TokenStatus.BAD_SIGNATURE, id="tampered-expiry"),
        pytest.param(_flip(GOOD, 40), KEYS, NOW, TokenStatus.BAD_SIGNATURE, id="tampered-mac"),
        pytest.param(GOOD, {7: MacKey(OTHER_KEY)}, NOW, TokenStatus.BAD_SIGNATURE, id="wrong-key"),
        pytest.param(_resign(GOOD, 21, 7, OTHER_KEY), KEYS, NOW, TokenStatus.BAD_SIGNATURE,
                     id="escalation-signed-with-other-key"),
        pytest.param(GOOD, KEYS, NOW + 3600, TokenStatus.EXPIRED, id="expired-at-boundary"),
        pytest.param(GOOD, KEYS, NOW + 86400, TokenStatus.EXPIRED, id="expired-long-ago"),
        pytest.param(GOOD, KEYS, NOW + 3599.9, CLAIMS, id="valid-just-before-expiry"),
    ],
)
def test_verify(token: str, keys: dict[int, MacKey], now: float, expected: object) -> None:
    assert tokens.verify(token, keys, now) == expected


@given(st.text(max_size=120))
def test_verify_never_raises_on_text(text: str) -> None:
    assert isinstance(tokens.verify(text, KEYS, NOW), TokenStatus)


@given(st.binary(min_size=66, max_size=66))
def test_verify_never_raises_on_well_formed_garbage(raw: bytes) -> None:
    assert tokens.verify(_reencode(raw), KEYS, NOW) in set(TokenStatus)


@given(
    kid=st.integers(0, 2**32 - 1),
    identity=st.binary(min_size=16, max_size=16),
    mask=st.integers(1, 7),
    issued_at_ms=st.integers(0, 2**63 - 1),
    lifetime=st.integers(1, 86400),
    flip=st.integers(0, 65 * 8 - 1),
)
def test_round_trip_and_every_bit_flip_refused(
    kid: int, identity: bytes, mask: int, issued_at_ms: int, lifetime: int, flip: int
) -> None:
    claims = Claims(kid, identity, mask, issued_at_ms, NOW + lifetime)
    token = tokens.encode(claims, KEY)
    keys = {kid: MacKey(KEY)}
    assert tokens.verify(token, keys, NOW) == claims
    raw = _raw(token)
    raw[flip // 8] ^= 1 << (flip % 8)
    assert isinstance(tokens.verify(_reencode(raw), keys, NOW), TokenStatus)
