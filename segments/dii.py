"""DII (emails and phone numbers) → the normalised, SHA-256, base64 hashes the operator maps.

We never keep raw DII: rows keyed by ``email`` or ``phone`` are normalised and hashed as they are
read, and only the hash reaches disk. The rules are UID2's (``gs-normalization-encoding``):

* email: trim, lower-case; for ``gmail.com`` only, drop every ``.`` in the local part and a ``+``
  and everything after it. Other domains keep both (``jane+work@example.com`` stays distinct).
* phone: E.164 — ``+``, country code, subscriber number, 10–15 digits in all (the operator's
  bounds). Spaces, hyphens, dots and parentheses are dropped; a number without ``+`` is
  rejected, because guessing its country would map it to somebody else.
* hash: ``base64(sha256(utf8(normalised)))`` — base64 of the 32 raw bytes, not of the hex text.

Example::

    >>> hash_dii("email", "Jane.Saoirse+Work@GMAIL.com")
    ('email_hash', 'ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8=')
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Final, Literal

__all__ = [
    "DII_KINDS",
    "HASH_KINDS",
    "DiiKind",
    "InvalidDii",
    "dii_id",
    "hash_dii",
    "hash_normalised",
    "normalise_email",
    "normalise_phone",
    "split_dii_id",
]

DiiKind = Literal["email_hash", "phone_hash"]
HASH_KINDS: Final[tuple[DiiKind, ...]] = ("email_hash", "phone_hash")
# Row kinds the loader accepts, and the hash kind each one becomes.
DII_KINDS: Final[dict[str, DiiKind]] = {
    "email": "email_hash",
    "phone": "phone_hash",
    "email_hash": "email_hash",
    "phone_hash": "phone_hash",
}
MIN_PHONE_DIGITS: Final = 10
MAX_PHONE_DIGITS: Final = 15  # E.164's ceiling
MAX_EMAIL_LENGTH: Final = 320
_PHONE_NOISE: Final = str.maketrans("", "", " -.()\t")
_GMAIL: Final = "gmail.com"


class InvalidDii(ValueError):
    """A value that is not an email, E.164 phone number or 32-byte base64 hash (says which)."""


def normalise_email(raw: str) -> str:
    text = raw.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or len(text) > MAX_EMAIL_LENGTH:
        raise InvalidDii("not an email address")
    if any(c.isspace() for c in text) or "@" in local:
        raise InvalidDii("not an email address")
    if domain == _GMAIL:
        local = local.partition("+")[0].replace(".", "")
        if not local:
            raise InvalidDii("gmail address with an empty local part")
    return f"{local}@{domain}"


def normalise_phone(raw: str) -> str:
    text = raw.strip().translate(_PHONE_NOISE)
    if not text.startswith("+"):
        raise InvalidDii("phone must be E.164: '+', country code, number")
    digits = text[1:]
    if not (digits.isascii() and digits.isdigit()) or not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        raise InvalidDii(f"phone must be '+' and {MIN_PHONE_DIGITS}-{MAX_PHONE_DIGITS} digits")
    return "+" + digits


def hash_normalised(normalised: str) -> str:
    return base64.b64encode(hashlib.sha256(normalised.encode("utf-8")).digest()).decode("ascii")


def _canonical_hash(raw: str) -> str:
    """A supplied hash, re-encoded canonically; anything that is not 32 bytes is refused."""
    text = raw.strip()
    try:
        digest = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidDii("hash is not base64") from None
    if len(digest) != 32:
        raise InvalidDii("hash must be a base64 SHA-256 (32 bytes)")
    return base64.b64encode(digest).decode("ascii")


def hash_dii(kind: str, value: str) -> tuple[DiiKind, str]:
    """``(hash kind, base64 hash)`` for a loader row kind; raises :class:`InvalidDii`."""
    if kind == "email":
        return "email_hash", hash_normalised(normalise_email(value))
    if kind == "phone":
        return "phone_hash", hash_normalised(normalise_phone(value))
    if kind in HASH_KINDS:
        return DII_KINDS[kind], _canonical_hash(value)
    raise InvalidDii(f"unknown DII kind {kind!r}; expected one of {sorted(DII_KINDS)}")


def dii_id(kind: DiiKind, digest: str) -> str:
    """The one string a DII is stored under: ``"email_hash:<b64>"`` (the key style of the store)."""
    return f"{kind}:{digest}"


def split_dii_id(did: str) -> tuple[DiiKind, str]:
    kind, _, digest = did.partition(":")
    if kind not in HASH_KINDS:
        raise InvalidDii(f"not a DII id: {did[:20]!r}")
    return DII_KINDS[kind], digest
