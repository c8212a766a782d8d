from __future__ import annotations

import base64

import pytest
from conftest import VECTORS

from server.uid2.status import DecryptionStatus
from server.uid2.tokens import decode_token

_BY_NAME = {v["name"]: v for v in VECTORS["tokens"]}


def _url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param(_BY_NAME["valid_v2_uid2_email_v3"]["token"], 2, id="v2"),
        pytest.param(_BY_NAME["valid_v3_uid2_email_v3"]["token"], 3, id="v3"),
        pytest.param(_BY_NAME["valid_v4_uid2_email_v3"]["token"], 4, id="v4-base64url"),
        pytest.param(_BY_NAME["valid_v4_reencoded_standard_base64"]["token"], 4, id="v4-standard-base64"),
        pytest.param(_url(b"\x13\x80" + bytes(170)), 4, id="v4-euid-header"),
        pytest.param(
            _url(b"\x03\x81" + bytes(170)), DecryptionStatus.VERSION_NOT_SUPPORTED, id="v4-plus-one"
        ),
        pytest.param(
            base64.b64encode(b"\x03\x70" + bytes(100)).decode(),
            DecryptionStatus.INVALID_PAYLOAD,
            id="v3-under-163-bytes",
        ),
        pytest.param(
            base64.b64encode(b"\x02" + bytes(140)).decode(),
            DecryptionStatus.INVALID_PAYLOAD,
            id="v2-not-133-bytes",
        ),
        pytest.param("A4A=" + "A" * 200, DecryptionStatus.INVALID_PAYLOAD, id="padding-in-header"),
    ],
)
def test_header_detection(token: str, expected: int | DecryptionStatus) -> None:
    decoded = decode_token(token)
    assert (decoded[0] if isinstance(decoded, tuple) else decoded) == expected


def test_v4_both_encodings_give_the_same_bytes() -> None:
    url = decode_token(_BY_NAME["valid_v4_uid2_email_v3"]["token"])
    assert isinstance(url, tuple)
    standard = decode_token(base64.b64encode(url[1]).decode())
    assert standard == url
