"""Cross-check against uid2-client 2.9.0 (test-only) on fresh tokens: random ids, real clock.

Only cases where the two semantics agree are compared: valid, expired, unknown master key,
unknown site key on a live token, and sharing encrypt/decrypt in both directions. (They differ on
check order, scope, CSTG and v2 padding; the vectors cover those.)
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import time
from typing import Any

import pytest
from conftest import VECTORS

uid2_client = pytest.importorskip("uid2_client")
from uid2_client import Params, UID2TokenGenerator
from uid2_client import decrypt_token as sdk_decrypt
from uid2_client import encrypt as sdk_encrypt
from uid2_client.client_type import ClientType as SdkClientType
from uid2_client.keys import EncryptionKey
from uid2_client.refresh_keys_util import parse_keys_json

from server.uid2 import (
    ClientType,
    DecryptionStatus,
    EncryptionStatus,
    KeySet,
    decrypt_token,
    encrypt_raw_uid,
    parse_key_response,
)

UTC = dt.UTC


def _fresh_key_document() -> dict[str, Any]:
    """The vectors' sharing key set, re-dated around the wall clock with new random secrets."""
    now = int(time.time())
    keys = []
    for key in VECTORS["key_sets"]["sharing"]["body"]["keys"]:
        fresh = {
            **key,
            "created": now - 86400,
            "activates": now - 3600,
            "expires": now + 86400,
            "secret": base64.b64encode(os.urandom(32)).decode(),
        }
        keys.append(fresh)
    body = {**VECTORS["key_sets"]["sharing"]["body"], "keys": keys, "max_bidstream_lifetime_seconds": 259210}
    return {"body": body, "status": "success"}


@pytest.fixture
def both() -> tuple[KeySet, Any]:
    document = _fresh_key_document()
    return parse_key_response(document), parse_keys_json(document["body"]).keys


def _random_raw_uid() -> str:
    """A v3-format raw UID2: UID2 scope, email or phone type, 32 random hash bytes."""
    return base64.b64encode(bytes([os.urandom(1)[0] & 0x04]) + os.urandom(32)).decode()


GENERATORS = {
    2: UID2TokenGenerator.generate_uid2_token_v2,
    3: UID2TokenGenerator.generate_uid2_token_v3,
    4: UID2TokenGenerator.generate_uid2_token_v4,
}


def _generate(
    sdk_keys: Any, version: int, raw: str, *, expiry: dt.datetime, master: int = 101, site: int = 301
) -> str:
    master_key = sdk_keys.get(master) or EncryptionKey(master, -1, expiry, expiry, expiry, os.urandom(32))
    site_key = sdk_keys.get(site) or EncryptionKey(site, -1, expiry, expiry, expiry, os.urandom(32))
    params = Params(expiry=expiry)
    return str(GENERATORS[version](raw, master_key, 2001, site_key, params))


CASES = [
    pytest.param(version, case, id=f"v{version}-{case}")
    for version in (2, 3, 4)
    for case in ("valid", "expired", "unknown_master", "unknown_site")
]


@pytest.mark.parametrize(("version", "case"), CASES)
def test_decrypt_agrees_with_uid2_client(version: int, case: str, both: tuple[KeySet, Any]) -> None:
    ours_keys, sdk_keys = both
    now = dt.datetime.now(UTC)
    for _ in range(20):
        raw = _random_raw_uid()
        expiry = now + (dt.timedelta(seconds=-120) if case == "expired" else dt.timedelta(hours=1))
        token = _generate(
            sdk_keys,
            version,
            raw,
            expiry=expiry,
            master=999 if case == "unknown_master" else 101,
            site=888 if case == "unknown_site" else 301,
        )
        theirs = sdk_decrypt(token, sdk_keys, None, SdkClientType.BIDSTREAM, now)
        ours = decrypt_token(token, ours_keys, now=now.timestamp())
        assert ours.status.name == theirs.status.name
        assert ours.uid == theirs.uid
        if ours.status is DecryptionStatus.SUCCESS:
            assert ours.uid == raw and ours.site_id == theirs.site_id == 2001


def test_their_sharing_tokens_decrypt_here_and_ours_there(both: tuple[KeySet, Any]) -> None:
    ours_keys, sdk_keys = both
    now = dt.datetime.now(UTC)
    for _ in range(20):
        raw = _random_raw_uid()
        theirs = sdk_encrypt(raw, None, sdk_keys, now=now)
        assert theirs.success
        ours = decrypt_token(
            theirs.encrypted_data, ours_keys, now=now.timestamp(), client_type=ClientType.SHARING
        )
        assert (ours.status, ours.uid) == (DecryptionStatus.SUCCESS, raw)

        mine = encrypt_raw_uid(raw, ours_keys, now=now.timestamp())
        assert mine.status is EncryptionStatus.SUCCESS and mine.token is not None
        back = sdk_decrypt(mine.token, sdk_keys, None, SdkClientType.SHARING, now)
        assert (back.status.name, back.uid) == ("SUCCESS", raw)
