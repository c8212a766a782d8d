"""Bad input gets a status with a message — never a crash, never UNKNOWN/INTERNAL."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.artf.pb import agenticrtbframework_pb2 as artf
from server.artf.service import Refusal, _decode
from tests.artf.conftest import Artf, sample

OK = grpc.StatusCode.OK
INVALID = grpc.StatusCode.INVALID_ARGUMENT
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
LIMIT = 65536
BID_REQUEST = artf.RTBRequest(id="x", bid_request={}).SerializeToString()  # field 4, empty message: valid


def oversized() -> bytes:
    request = sample("web")
    request.bid_request.user.id = "u" * LIMIT
    return request.SerializeToString()


@pytest.mark.parametrize(
    ("body", "code", "details"),
    [
        pytest.param(b"", INVALID, "empty RTBRequest", id="empty"),
        pytest.param(b"\xff\xff\xff", INVALID, "malformed RTBRequest", id="garbage"),
        pytest.param(b"\x12\x05ab", INVALID, "malformed RTBRequest", id="truncated-length"),
        pytest.param(b"\x12\x02\xff\xfe" + BID_REQUEST, INVALID, "malformed RTBRequest", id="id-not-utf8"),
        pytest.param(b"\x0f", INVALID, "malformed RTBRequest", id="bad-wire-type"),
        pytest.param(b"\x12\x03abc", INVALID, "bid_request (field 4) is required", id="no-bid-request"),
        pytest.param(b"\x22\x00", OK, "", id="empty-bid-request-is-a-miss"),
        pytest.param(b"\xa2\x06\x03xyz" + BID_REQUEST, OK, "", id="unknown-field-skipped"),
        pytest.param(oversized(), EXHAUSTED, "larger than max", id="oversized"),
    ],
)
def test_bad_input_table(server: Artf, body: bytes, code: grpc.StatusCode, details: str) -> None:
    got, text = server.status(body)
    assert got is code, text
    assert details in text


def test_the_server_still_answers_after_bad_input(server: Artf) -> None:
    for body in (b"\xff", b"", oversized()):
        server.status(body)
    assert server.call(sample("web")).mutations


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=256))
def test_any_bytes_decode_or_are_refused_with_invalid_argument(raw: bytes) -> None:
    try:
        _decode(raw)
    except Refusal as refusal:
        assert refusal.code is INVALID and refusal.details
