from __future__ import annotations

import base64
import os
import struct
from typing import Any

import pytest
from conftest import REFERENCE_NOW, VECTORS, instant
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from server.uid2 import (
    DECRYPT_CHECK_ORDER,
    BidstreamDecryptor,
    ClientType,
    DecryptionResult,
    DecryptionStatus,
    IdentityScope,
    KeySet,
    StaticKeySource,
    decrypt_token,
)


def _expected(vector: dict[str, Any]) -> str:
    # "SUCCESS (Java) / UserOptedOut (.NET)": we honour the opt-out bit, as .NET does.
    return "USER_OPTED_OUT" if "UserOptedOut" in vector["reference_status"] else vector["reference_status"]


@pytest.mark.parametrize("vector", [pytest.param(v, id=v["name"]) for v in VECTORS["tokens"]])
def test_vectors_give_reference_status(vector: dict[str, Any], key_sets: dict[str, KeySet]) -> None:
    with_ = vector["decrypt_with"]
    keys = key_sets[with_["key_set"]] if with_["key_set"] else None
    result = decrypt_token(
        vector["token"],
        keys,
        now=instant(with_["now"]),
        client_type=ClientType[with_["client_type"]],
        domain_or_app_name=with_["domain_or_app_name"],
    )
    assert result.status.name == _expected(vector)
    if result.status is DecryptionStatus.SUCCESS:
        assert result.uid == vector["raw_uid"]
        assert result.site_id == vector["site_id"]
        assert result.version == vector["version"]
        assert result.expires == vector["expires_ms"] / 1000
        assert result.established == vector["established_ms"] / 1000
    else:
        assert result.uid is None


def _vector(name: str) -> dict[str, Any]:
    return next(v for v in VECTORS["tokens"] if v["name"] == name)


def _v2_with_bad_padding(keys: KeySet) -> str:
    """A well-formed 133-byte v2 token whose outer padding is wrong in one byte only."""
    master = keys.keys[101]
    iv = os.urandom(16)
    plain = os.urandom(112)
    plain = plain[:-16] + bytes([16] * 15 + [15])  # last byte says 15, the others 16: invalid
    encryptor = Cipher(algorithms.AES(master.secret), modes.CBC(iv)).encryptor()
    token = b"\x02" + struct.pack(">I", 101) + iv + encryptor.update(plain) + encryptor.finalize()
    return base64.b64encode(token).decode()


@pytest.mark.parametrize(
    ("token", "status"),
    [
        pytest.param("A" * 501, DecryptionStatus.INVALID_PAYLOAD, id="longer-than-500"),
        pytest.param("", DecryptionStatus.INVALID_PAYLOAD, id="empty"),
        pytest.param("AIA", DecryptionStatus.INVALID_PAYLOAD, id="three-chars"),
        pytest.param("A4AAé" + "A" * 200, DecryptionStatus.INVALID_PAYLOAD, id="non-ascii"),
        pytest.param("A4A!" + "A" * 200, DecryptionStatus.INVALID_PAYLOAD, id="bad-header-char"),
        pytest.param("AAAA" * 55, DecryptionStatus.VERSION_NOT_SUPPORTED, id="version-0"),
        pytest.param("A3AA" * 10, DecryptionStatus.INVALID_PAYLOAD, id="v3-too-short"),
        pytest.param(
            _vector("valid_v3_uid2_email_v3")["token"][:-4],
            DecryptionStatus.INVALID_PAYLOAD,
            id="v3-truncated",
        ),
        pytest.param(
            _vector("valid_v4_uid2_email_v3")["token"] + "A",
            DecryptionStatus.INVALID_PAYLOAD,
            id="v4-one-extra-char",
        ),
        pytest.param(
            _vector("valid_v2_uid2_email_v3")["token"].rstrip("="),
            DecryptionStatus.INVALID_PAYLOAD,
            id="v2-unpadded",
        ),
    ],
)
def test_malformed_tokens(token: str, status: DecryptionStatus, key_sets: dict[str, KeySet]) -> None:
    assert decrypt_token(token, key_sets["bidstream"], now=REFERENCE_NOW).status is status


def test_v2_padding_is_checked_strictly(key_sets: dict[str, KeySet]) -> None:
    token = _v2_with_bad_padding(key_sets["bidstream"])
    assert (
        decrypt_token(token, key_sets["bidstream"], now=REFERENCE_NOW).status
        is DecryptionStatus.INVALID_PAYLOAD
    )


def test_check_order_lists_every_status_once() -> None:
    assert sorted(s.name for s in DECRYPT_CHECK_ORDER) == sorted(s.name for s in DecryptionStatus)


def test_euid_token_with_euid_keys_succeeds(key_sets: dict[str, KeySet]) -> None:
    euid_keys = KeySet(keys=key_sets["bidstream"].keys, identity_scope=IdentityScope.EUID)
    token = _vector("euid_token_with_uid2_keys_v4")
    result = decrypt_token(token["token"], euid_keys, now=REFERENCE_NOW)
    assert (result.status, result.uid, result.identity_scope) == (
        DecryptionStatus.SUCCESS,
        token["raw_uid"],
        IdentityScope.EUID,
    )


class TestBidstreamDecryptor:
    def test_routes_by_scope_and_reports_every_result(self, key_sets: dict[str, KeySet]) -> None:
        seen: list[DecryptionResult] = []
        decryptor = BidstreamDecryptor(StaticKeySource(key_sets["bidstream"]), on_result=seen.append)
        token = _vector("valid_v4_uid2_email_v3")["token"]
        assert decryptor.decrypt(
            token, IdentityScope.UID2, domain_or_app_name=None, now=REFERENCE_NOW
        ).success
        euid = decryptor.decrypt(token, IdentityScope.EUID, domain_or_app_name=None, now=REFERENCE_NOW)
        assert euid.status is DecryptionStatus.NOT_INITIALIZED  # no EUID source configured
        assert [r.status for r in seen] == [DecryptionStatus.SUCCESS, DecryptionStatus.NOT_INITIALIZED]

    def test_reads_the_current_snapshot_each_call(self, key_sets: dict[str, KeySet]) -> None:
        source = StaticKeySource()
        decryptor = BidstreamDecryptor(source, clock=lambda: REFERENCE_NOW)
        token = _vector("valid_v3_phone")["token"]
        assert decryptor.decrypt(token).status is DecryptionStatus.NOT_INITIALIZED
        source.snapshot = key_sets["bidstream"]
        assert decryptor.decrypt(token).status is DecryptionStatus.SUCCESS

    def test_cstg_domain_is_passed_through(self, key_sets: dict[str, KeySet]) -> None:
        decryptor = BidstreamDecryptor(StaticKeySource(key_sets["bidstream"]), clock=lambda: REFERENCE_NOW)
        token = _vector("cstg_v4_domain_example.com")["token"]
        assert decryptor.decrypt(token, domain_or_app_name="Example.Org").success
        assert decryptor.decrypt(token, domain_or_app_name="evil.com").status is (
            DecryptionStatus.DOMAIN_OR_APP_NAME_CHECK_FAILED
        )
