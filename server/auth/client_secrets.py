"""Client secrets: generated once, shown once, stored only as a scrypt hash.

scrypt (from ``cryptography``) is deliberately slow and memory-hard, so a stolen database does
not hand out secrets cheaply. The cost parameters are stored with each hash
(``scrypt$n$r$p$salt$hash``), so raising ``scrypt_n`` later does not invalidate older secrets.
Verification takes tens of milliseconds: callers on the event loop run it in a thread.
"""

from __future__ import annotations

import base64
import secrets
from typing import Final

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

SECRET_PREFIX: Final = "sss_"  # greppable by secret scanners
_R: Final = 8
_P: Final = 1
_LENGTH: Final = 32
_MAX_N: Final = 2**20  # refuse absurd costs from a tampered row (memory DoS)


def new_secret() -> str:
    """A fresh client secret: 256 random bits, URL-safe."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, n: int) -> str:
    """``scrypt$n$r$p$salt$hash`` for ``secret`` with cost ``n``."""
    salt = secrets.token_bytes(16)
    digest = Scrypt(salt=salt, length=_LENGTH, n=n, r=_R, p=_P).derive(secret.encode())
    return f"scrypt${n}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` matches ``stored``; ``False`` (never an exception) for a malformed hash."""
    try:
        scheme, n_text, r_text, p_text, salt_text, digest_text = stored.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        if scheme != "scrypt" or not 2 <= n <= _MAX_N or not 1 <= r <= 32 or not 1 <= p <= 16:
            return False
        salt, digest = _unb64(salt_text), _unb64(digest_text)
    except ValueError:
        return False
    try:
        Scrypt(salt=salt, length=len(digest), n=n, r=r, p=p).verify(secret.encode(), digest)
    except (InvalidKey, ValueError):
        return False
    return True
