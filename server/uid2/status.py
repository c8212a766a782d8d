"""Outcomes of decryption and encryption, named exactly as the Java/.NET reference SDKs name them.

Expected outcomes are values, not exceptions: the bid path counts them per status and moves on.
``DECRYPT_CHECK_ORDER`` records, as data, the order in which ``decrypt.py`` runs its checks, so a
token that fails several checks always reports the first one (reference note section 1.7).
"""

from __future__ import annotations

import enum

__all__ = ["DECRYPT_CHECK_ORDER", "DecryptionStatus", "EncryptionStatus"]


class DecryptionStatus(enum.Enum):
    SUCCESS = "SUCCESS"
    NOT_INITIALIZED = "NOT_INITIALIZED"  # keys never loaded for this identity scope
    KEYS_NOT_SYNCED = "KEYS_NOT_SYNCED"  # every key in the set has expired
    INVALID_PAYLOAD = "INVALID_PAYLOAD"  # undecodable, wrong length, bad GCM tag / CBC padding
    VERSION_NOT_SUPPORTED = "VERSION_NOT_SUPPORTED"
    INVALID_IDENTITY_SCOPE = "INVALID_IDENTITY_SCOPE"  # EUID token against UID2 keys, or vice versa
    NOT_AUTHORIZED_FOR_MASTER_KEY = "NOT_AUTHORIZED_FOR_MASTER_KEY"
    NOT_AUTHORIZED_FOR_KEY = "NOT_AUTHORIZED_FOR_KEY"  # publisher has not shared its site key with us
    EXPIRED_TOKEN = "EXPIRED_TOKEN"
    USER_OPTED_OUT = "USER_OPTED_OUT"  # privacy bit 0x4, as .NET
    DOMAIN_OR_APP_NAME_CHECK_FAILED = "DOMAIN_OR_APP_NAME_CHECK_FAILED"  # CSTG token off its domains
    INVALID_TOKEN_LIFETIME = "INVALID_TOKEN_LIFETIME"  # lifetime too long or generated in the future


DECRYPT_CHECK_ORDER: tuple[DecryptionStatus, ...] = (
    DecryptionStatus.NOT_INITIALIZED,
    DecryptionStatus.KEYS_NOT_SYNCED,
    DecryptionStatus.INVALID_PAYLOAD,
    DecryptionStatus.VERSION_NOT_SUPPORTED,
    DecryptionStatus.INVALID_IDENTITY_SCOPE,
    DecryptionStatus.NOT_AUTHORIZED_FOR_MASTER_KEY,
    DecryptionStatus.NOT_AUTHORIZED_FOR_KEY,
    DecryptionStatus.EXPIRED_TOKEN,
    DecryptionStatus.USER_OPTED_OUT,
    DecryptionStatus.DOMAIN_OR_APP_NAME_CHECK_FAILED,
    DecryptionStatus.INVALID_TOKEN_LIFETIME,
    DecryptionStatus.SUCCESS,
)
"""INVALID_PAYLOAD can also come later: any failure while decrypting a layer maps to it."""


class EncryptionStatus(enum.Enum):
    SUCCESS = "SUCCESS"
    NOT_INITIALIZED = "NOT_INITIALIZED"
    KEYS_NOT_SYNCED = "KEYS_NOT_SYNCED"
    NOT_AUTHORIZED_FOR_MASTER_KEY = "NOT_AUTHORIZED_FOR_MASTER_KEY"
    NOT_AUTHORIZED_FOR_KEY = "NOT_AUTHORIZED_FOR_KEY"
    ENCRYPTION_FAILURE = "ENCRYPTION_FAILURE"
