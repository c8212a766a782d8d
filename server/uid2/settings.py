"""``[uid2]`` settings: one frozen value, validated once, secrets kept out of ``repr``.

Build it with ``UID2Settings.from_mapping(toml_section, env=os.environ)``; every bad key is
reported at once, by name. Environment variables (``UID2_API_KEY``, ``UID2_SECRET``,
``UID2_SECRET_FILE``, ``UID2_BASE_URL``; prefix configurable, e.g. ``EUID_`` for an ``[euid]``
section) override the file, so secrets need not live in config. Example::

    >>> s = UID2Settings.from_mapping({"enabled": True, "api_key": "k", "secret_file": "/run/uid2"})
    >>> "k" in repr(s)
    False
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .types import ClientType, IdentityScope

__all__ = ["DEFAULT_BASE_URL", "SettingsError", "UID2Settings"]

DEFAULT_BASE_URL = "https://prod.uidapi.com"

_ENV_KEYS = ("api_key", "secret", "secret_file", "base_url")


class SettingsError(ValueError):
    """Invalid settings. ``errors`` lists every problem as ``"uid2.<key>: <why>"``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class UID2Settings:
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

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, env: Mapping[str, str] | None = None, env_prefix: str = "UID2_"
    ) -> UID2Settings:
        values: dict[str, Any] = dict(data)
        for name in _ENV_KEYS:
            if env and env.get(env_prefix + name.upper()):
                values[name] = env[env_prefix + name.upper()]
        errors: list[str] = []
        kwargs: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        section = env_prefix.rstrip("_").lower()
        for name, value in values.items():
            if name not in fields:
                errors.append(f"{section}.{name}: unknown setting")
                continue
            try:
                kwargs[name] = _coerce(name, value, fields[name].default)
            except (TypeError, ValueError, KeyError) as exc:
                errors.append(f"{section}.{name}: {exc}")
        settings = cls(**kwargs) if not errors else cls()
        errors.extend(settings._problems(section) if not errors else [])
        if errors:
            raise SettingsError(errors)
        return settings

    def _problems(self, section: str) -> list[str]:
        problems = [
            f"{section}.{name}: must be > 0"
            for name in (
                "refresh_interval_seconds",
                "retry_initial_seconds",
                "retry_max_seconds",
                "connect_timeout_seconds",
                "read_timeout_seconds",
                "total_timeout_seconds",
            )
            if getattr(self, name) <= 0
        ]
        if self.refresh_jitter_seconds < 0:
            problems.append(f"{section}.refresh_jitter_seconds: must be >= 0")
        if not self.base_url.startswith(("https://", "http://")):
            problems.append(f"{section}.base_url: must be an http(s) URL")
        if self.enabled and not self.api_key:
            problems.append(f"{section}.api_key: required when enabled")
        if self.enabled and not (self.secret or self.secret_file):
            problems.append(f"{section}.secret: required when enabled (or set secret_file)")
        return problems

    def load_secret(self) -> bytes:
        """The 32-byte client secret, from ``secret`` or the file named by ``secret_file``."""
        text = self.secret
        if not text and self.secret_file:
            try:
                text = Path(self.secret_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SettingsError([f"uid2.secret_file: cannot read ({exc.strerror})"]) from None
        try:
            secret = base64.b64decode(text, validate=True)
        except binascii.Error:
            raise SettingsError(["uid2.secret: not base64"]) from None
        if len(secret) != 32:
            raise SettingsError(["uid2.secret: must decode to 32 bytes"])
        return secret

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_timeout_seconds, connect=self.connect_timeout_seconds)


def _coerce(name: str, value: Any, default: Any) -> Any:
    if name == "client_type":
        return ClientType(str(value).lower())
    if name == "identity_scope":
        return IdentityScope[str(value).upper()]
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError("expected true or false")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError("expected a number")
        return float(value)
    if value is not None and not isinstance(value, str):
        raise TypeError("expected a string")
    return value
