"""``[uid2]`` settings: one frozen value, validated once, secrets kept out of ``repr``.

Loaded by the one settings loader (:mod:`server.sections`); every bad key is reported at once,
by name. The conventional variables ``UID2_API_KEY``, ``UID2_SECRET``, ``UID2_SECRET_FILE`` and
``UID2_BASE_URL`` (``EUID_*`` for the ``[euid]`` section) override the file, so secrets need not
live in config. Example::

    >>> s = UID2Settings.from_mapping({"enabled": True, "api_key": "k", "secret_file": "/run/uid2"})
    >>> "k" in repr(s)
    False
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import httpx

from server.errors import SettingsError
from server.sections import Section, hint

from .types import ClientType, IdentityScope

__all__ = ["DEFAULT_BASE_URL", "SettingsError", "UID2Settings"]

DEFAULT_BASE_URL = "https://prod.uidapi.com"

_POSITIVE = ("refresh_interval_seconds", "retry_initial_seconds", "retry_max_seconds",
             "connect_timeout_seconds", "read_timeout_seconds", "total_timeout_seconds")


@dataclass(frozen=True, slots=True)
class UID2Settings(Section):
    section: ClassVar[str] = "uid2"

    enabled: bool = False
    base_url: str = DEFAULT_BASE_URL
    api_key: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)  # base64 client secret; or use secret_file
    secret_file: str | None = None
    client_type: ClientType = ClientType.BIDSTREAM
    identity_scope: IdentityScope = IdentityScope.UID2
    refresh_interval_seconds: float = 3600.0
    refresh_jitter_seconds: float = 300.0
    retry_initial_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    connect_timeout_seconds: float = 2.0
    read_timeout_seconds: float = 10.0
    total_timeout_seconds: float = 30.0

    def validate(self, section: str) -> list[str]:
        problems = [f"{name}: must be > 0" for name in _POSITIVE if getattr(self, name) <= 0]
        if self.refresh_jitter_seconds < 0:
            problems.append("refresh_jitter_seconds: must be >= 0")
        if not self.base_url.startswith(("https://", "http://")):
            problems.append("base_url: must be an http(s) URL")
        if self.enabled and not self.api_key:
            problems.append(f"api_key: required when [{section}] enabled = true: {hint(section, 'api_key')}")
        if self.enabled and not (self.secret or self.secret_file):
            problems.append(f"secret: required when [{section}] enabled = true: {secret_hint(section)}")
        return problems

    def load_secret(self, section: str = "uid2") -> bytes:
        """The 32-byte client secret, from ``secret`` or the file named by ``secret_file``."""
        if not (self.secret or self.secret_file):
            raise SettingsError([f"{section}.secret: not set: {secret_hint(section)}"])
        text = self.secret
        if not text and self.secret_file:
            try:
                text = Path(self.secret_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SettingsError([f"{section}.secret_file: cannot read ({exc.strerror})"]) from None
        try:
            secret = base64.b64decode(text, validate=True)
        except binascii.Error:
            raise SettingsError([f"{section}.secret: not base64"]) from None
        if len(secret) != 32:
            raise SettingsError([f"{section}.secret: must decode to 32 bytes"])
        return secret

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_timeout_seconds, connect=self.connect_timeout_seconds)


def secret_hint(section: str) -> str:
    """How to give the client secret: inline (base64) or as a file, by config or environment."""
    return f"{hint(section, 'secret')} (base64, 32 bytes), or {hint(section, 'secret_file')}"
