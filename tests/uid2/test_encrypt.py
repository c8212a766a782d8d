from __future__ import annotations

from typing import Any

import pytest
from conftest import REFERENCE_NOW, VECTORS, instant

from server.uid2 import (
    ClientType,
    DecryptionStatus,
    EncryptionStatus,
    IdentityType,
    KeySet,
    decrypt_token,
    encrypt_raw_uid,
)

RAW = VECTORS["raw_uids"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in VECTORS["sharing_encrypt_cases"]])
def test_sdk_encrypt_cases(case: dict[str, Any], key_sets: dict[str, KeySet]) -> None:
    keys = {
        "keys_none": None,
        "no_master_keyset_in_bidstream_keys": key_sets["bidstream"],
    }.get(case["name"], key_sets["sharing"])
    result = encrypt_raw_uid(
        RAW["uid2_email_v3"], keys, now=instant(case["now"]), keyset_id=case["keyset_id"]
    )
    assert result.status.name == case["expected_python_status"]
    assert (result.token is not None) == (result.status is EncryptionStatus.SUCCESS)


@pytest.mark.parametrize(("name", "raw_uid"), [pytest.param(k, v, id=k) for k, v in RAW.items()])
def test_round_trip_through_decrypt(name: str, raw_uid: str, key_sets: dict[str, KeySet]) -> None:
    encrypted = encrypt_raw_uid(raw_uid, key_sets["sharing"], now=REFERENCE_NOW)
    assert encrypted.token is not None and len(encrypted.token) in (218, 219)
    result = decrypt_token(
        encrypted.token, key_sets["sharing"], now=REFERENCE_NOW, client_type=ClientType.SHARING
    )
    assert (result.status, result.uid, result.version, result.site_id) == (
        DecryptionStatus.SUCCESS,
        raw_uid,
        4,
        9000,
    )
    expected_type = IdentityType.PHONE if raw_uid.startswith("B") else IdentityType.EMAIL
    assert result.identity_type is expected_type
    # A 30-day sharing token is refused in the bidstream (lifetime), as the docs say.
    bid = decrypt_token(encrypted.token, key_sets["bidstream"], now=REFERENCE_NOW)
    assert bid.status is DecryptionStatus.INVALID_TOKEN_LIFETIME


@pytest.mark.parametrize(
    "raw_uid",
    [
        pytest.param("", id="empty"),
        pytest.param("not base64!", id="not-base64"),
        pytest.param("A" * 104, id="long"),
    ],
)
def test_bad_raw_uid_is_encryption_failure(raw_uid: str, key_sets: dict[str, KeySet]) -> None:
    assert encrypt_raw_uid(raw_uid, key_sets["sharing"], now=REFERENCE_NOW).status is (
        EncryptionStatus.ENCRYPTION_FAILURE
    )


def test_future_keys_are_used_once_active(key_sets: dict[str, KeySet]) -> None:
    later = REFERENCE_NOW + 2 * 86400
    token = encrypt_raw_uid(RAW["uid2_email_v3"], key_sets["sharing"], now=later).token
    assert token is not None
    from server.uid2.tokens import decode_token

    decoded = decode_token(token)
    assert isinstance(decoded, tuple) and int.from_bytes(decoded[1][2:6]) == 102
