from __future__ import annotations

import base64

import orjson
import pytest
from conftest import VECTORS

from server.uid2.envelope import EnvelopeError, open_request, open_response, seal_request, seal_response

ENV = VECTORS["envelopes"]
SECRET = base64.b64decode(ENV["client_secret_b64"])
REQUEST = ENV["request"]
ENVELOPE = base64.b64decode(REQUEST["envelope_b64"])
NONCE = bytes.fromhex(REQUEST["nonce_hex"])


def test_request_vector_opens() -> None:
    opened = open_request(ENVELOPE, SECRET)
    assert (opened.timestamp_ms, opened.nonce, opened.payload.decode()) == (
        REQUEST["timestamp_ms"],
        NONCE,
        REQUEST["plaintext_json"],
    )


def test_request_vector_is_reproduced_byte_for_byte() -> None:
    sealed, nonce = seal_request(
        REQUEST["plaintext_json"].encode(),
        SECRET,
        timestamp_ms=REQUEST["timestamp_ms"],
        nonce=NONCE,
        iv=ENVELOPE[1:13],
    )
    assert (sealed, nonce) == (ENVELOPE, NONCE)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("response", ENV["response"]["parsed_by_package"], id="buckets-response"),
        pytest.param("key_sharing_response", VECTORS["key_sets"]["sharing"], id="key-sharing-response"),
    ],
)
def test_response_vectors_open_and_round_trip(name: str, expected: object) -> None:
    body = base64.b64decode(ENV[name]["body_b64"])
    plain = open_response(body, SECRET, NONCE)
    assert orjson.loads(plain) == expected
    resealed = seal_response(plain, SECRET, nonce=NONCE, timestamp_ms=1, iv=body[:12])
    assert open_response(resealed, SECRET, NONCE) == plain


def test_fresh_round_trip_uses_random_nonce_and_iv() -> None:
    first, nonce1 = seal_request(b"{}", SECRET, timestamp_ms=5)
    second, nonce2 = seal_request(b"{}", SECRET, timestamp_ms=5)
    assert first != second and nonce1 != nonce2
    assert open_request(first, SECRET).nonce == nonce1


@pytest.mark.parametrize(
    ("opener", "message"),
    [
        pytest.param(
            lambda: open_response(base64.b64decode(ENV["response"]["body_b64"]), SECRET, bytes(8)),
            "nonce mismatch",
            id="wrong-nonce",
        ),
        pytest.param(lambda: open_response(b"short", SECRET, NONCE), "too short", id="short-response"),
        pytest.param(lambda: open_response(bytes(60), SECRET, NONCE), "authentication", id="bad-tag"),
        pytest.param(lambda: open_request(b"\x02" + ENVELOPE[1:], SECRET), "version", id="request-version"),
        pytest.param(lambda: open_request(ENVELOPE, bytes(32)), "authentication", id="wrong-secret"),
        pytest.param(lambda: open_request(ENVELOPE[:20], SECRET), "too short", id="short-request"),
        pytest.param(lambda: seal_request(b"", b"short", timestamp_ms=0), "32 bytes", id="short-secret"),
    ],
)
def test_envelope_errors(opener: object, message: str) -> None:
    with pytest.raises(EnvelopeError, match=message):
        opener()  # type: ignore[operator]
