"""Encrypt a raw UID2 into a v4 sharing token, with the SDK's ``encrypt`` statuses (reference note 4).

Ops use it to mint tokens for end-to-end smoke tests, and the tests use it to round-trip. The
order of checks is the SDK's: NOT_INITIALIZED, KEYS_NOT_SYNCED, NOT_AUTHORIZED_FOR_MASTER_KEY,
NOT_AUTHORIZED_FOR_KEY. Unlike uid2-client, "established" is the injected clock, not the wall
clock, and a missing ``caller_site_id`` gives site id 0 (Java) instead of printing and returning None.
"""

from __future__ import annotations

import binascii
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

from .keys import KeySet
from .status import EncryptionStatus
from .types import IdentityType

__all__ = ["EncryptionResult", "encrypt_raw_uid"]

MAX_RAW_UID_CHARS = 100
_VERSION_V4 = 128
_SITE = struct.Struct(">iqiiqq")  # site id, publisher id, client key id, privacy, established, refreshed
_MASTER = struct.Struct(">qqiBiiI")  # expires, generated, operator site/type/version/key id, site key id
_HEADER = struct.Struct(">BBI")  # prefix, version, master key id


@dataclass(frozen=True, slots=True)
class EncryptionResult:
    status: EncryptionStatus
    token: str | None = None


def _identity_type(raw: bytes) -> IdentityType:
    """v3/v4 raw UIDs (33 bytes) carry the type in bits 2-3 of their first byte; legacy ones do not."""
    return IdentityType.PHONE if len(raw) == 33 and (raw[0] >> 2) & 3 == 1 else IdentityType.EMAIL


def encrypt_raw_uid(
    raw_uid: str,
    keys: KeySet | None,
    *,
    now: float,
    keyset_id: int | None = None,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> EncryptionResult:
    """Return a v4 token for ``raw_uid`` under the sharing key set. Never raises."""
    if keys is None:
        return EncryptionResult(EncryptionStatus.NOT_INITIALIZED)
    if not keys.is_valid(now):
        return EncryptionResult(EncryptionStatus.KEYS_NOT_SYNCED)
    master_key = keys.active_key(keys.master_keyset_id, now)
    if master_key is None:
        return EncryptionResult(EncryptionStatus.NOT_AUTHORIZED_FOR_MASTER_KEY)
    site_key = keys.active_key(keys.default_keyset_id if keyset_id is None else keyset_id, now)
    if site_key is None:
        return EncryptionResult(EncryptionStatus.NOT_AUTHORIZED_FOR_KEY)
    try:
        if not 0 < len(raw_uid) <= MAX_RAW_UID_CHARS:
            raise ValueError("raw UID length")
        raw = binascii.a2b_base64(raw_uid.encode("ascii"), strict_mode=True)
        now_ms = int(now * 1000)
        expires_ms = now_ms + keys.token_expiry_seconds * 1000
        site_payload = _SITE.pack(keys.caller_site_id or 0, 0, 0, 0, now_ms, now_ms) + raw
        site_nonce = random_bytes(12)
        site_sealed = site_nonce + keys.aead[site_key.id].encrypt(site_nonce, site_payload, None)
        master_payload = _MASTER.pack(expires_ms, now_ms, 0, 1, 0, 0, site_key.id) + site_sealed
        master_nonce = random_bytes(12)
        prefix = (keys.identity_scope << 4) | (_identity_type(raw) << 2) | 3
        token = (
            _HEADER.pack(prefix, _VERSION_V4, master_key.id)
            + master_nonce
            + keys.aead[master_key.id].encrypt(master_nonce, master_payload, None)
        )
    except Exception:  # noqa: BLE001 -- the SDK contract: any failure is ENCRYPTION_FAILURE
        return EncryptionResult(EncryptionStatus.ENCRYPTION_FAILURE)
    text = binascii.b2a_base64(token, newline=False).rstrip(b"=").translate(_STANDARD_TO_URL)
    return EncryptionResult(EncryptionStatus.SUCCESS, text.decode("ascii"))


_STANDARD_TO_URL = bytes.maketrans(b"+/", b"-_")
