"""UID2 / EUID: advertising-token decryption, sharing-token encryption and operator key refresh.

Public API (everything else is an implementation detail)::

    from server.uid2 import BidstreamDecryptor, DecryptionStatus, DecryptionResult, IdentityScope

    decryptor = BidstreamDecryptor(uid2_refresher, euid_refresher)   # any object with `.snapshot`
    result = decryptor.decrypt(token, IdentityScope.UID2, domain_or_app_name="example.com")

Exceptions, all for I/O or malformed input from the network (never for an expected outcome;
decrypt and encrypt report those as status enums)::

    ValueError
    ├── EnvelopeError      an operator envelope cannot be opened (tag, nonce, size)
    ├── KeyParseError      a key response is malformed; the last good key set stays in use
    └── SettingsError      the [uid2] settings are invalid; names every bad key
    Exception
    └── OperatorError      an operator call failed (HTTP status, timeout, transport, garbage)
"""

from .decrypt import BidstreamDecryptor, DecryptionResult, KeySource, StaticKeySource, decrypt_token
from .encrypt import EncryptionResult, encrypt_raw_uid
from .envelope import EnvelopeError
from .keys import Key, KeyParseError, KeySet, parse_key_response
from .operator import OperatorClient, OperatorError
from .refresher import KeyRefresher, Readiness
from .settings import SettingsError, UID2Settings
from .status import DECRYPT_CHECK_ORDER, DecryptionStatus, EncryptionStatus
from .types import ClientType, IdentityScope, IdentityType

__all__ = [
    "DECRYPT_CHECK_ORDER",
    "BidstreamDecryptor",
    "ClientType",
    "DecryptionResult",
    "DecryptionStatus",
    "EncryptionResult",
    "EncryptionStatus",
    "EnvelopeError",
    "IdentityScope",
    "IdentityType",
    "Key",
    "KeyParseError",
    "KeyRefresher",
    "KeySet",
    "KeySource",
    "OperatorClient",
    "OperatorError",
    "Readiness",
    "SettingsError",
    "StaticKeySource",
    "UID2Settings",
    "decrypt_token",
    "encrypt_raw_uid",
    "parse_key_response",
]
