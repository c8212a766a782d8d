"""Property tests: decryption never raises, and never yields SUCCESS with a uid that is not the token's."""

from __future__ import annotations

from typing import Any

from conftest import REFERENCE_NOW, VECTORS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.uid2 import DecryptionStatus, KeySet, decrypt_token, parse_key_response
from server.uid2.decrypt import DecryptionResult

KEYS: KeySet = parse_key_response(VECTORS["key_sets"]["bidstream"])
VALID = [
    v
    for v in VECTORS["tokens"]
    if v["reference_status"] == "SUCCESS" and v["decrypt_with"]["key_set"] == "bidstream"
]
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_="
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _decrypt(token: str, vector: dict[str, Any] | None = None) -> DecryptionResult:
    domain = vector["decrypt_with"]["domain_or_app_name"] if vector else None
    return decrypt_token(token, KEYS, now=REFERENCE_NOW, domain_or_app_name=domain)


@FAST
@given(st.text(max_size=600))
def test_arbitrary_text_never_raises_or_succeeds(token: str) -> None:
    assert _decrypt(token).status is not DecryptionStatus.SUCCESS


@FAST
@given(st.text(alphabet=ALPHABET, min_size=150, max_size=300))
def test_base64_looking_text_never_succeeds(token: str) -> None:
    assert _decrypt(token).status is not DecryptionStatus.SUCCESS


@FAST
@given(st.sampled_from(VALID), st.data())
def test_mutated_tokens_never_succeed_with_another_uid(vector: dict[str, Any], data: st.DataObject) -> None:
    token: str = vector["token"]
    position = data.draw(st.integers(0, len(token) - 1), label="position")
    replacement = data.draw(st.text(alphabet=ALPHABET, min_size=0, max_size=3), label="replacement")
    cut = data.draw(st.integers(0, 2), label="deleted")
    mutated = token[:position] + replacement + token[position + cut :]
    result = _decrypt(mutated, vector)
    if result.status is DecryptionStatus.SUCCESS:
        assert result.uid == vector["raw_uid"]


@FAST
@given(st.sampled_from(VALID), st.binary(min_size=1, max_size=4), st.data())
def test_mutated_bytes_never_succeed_with_another_uid(
    vector: dict[str, Any], noise: bytes, data: st.DataObject
) -> None:
    import base64

    from server.uid2.tokens import decode_token

    decoded = decode_token(vector["token"])
    assert isinstance(decoded, tuple)
    _version, raw = decoded
    position = data.draw(st.integers(0, len(raw) - 1))
    flipped = bytearray(raw)
    for i, byte in enumerate(noise):
        if position + i < len(flipped):
            flipped[position + i] ^= byte
    encoded = base64.b64encode(bytes(flipped)).decode()
    result = _decrypt(encoded, vector)
    if result.status is DecryptionStatus.SUCCESS:
        assert result.uid == vector["raw_uid"]
