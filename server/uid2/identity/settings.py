"""``[identity]`` settings: one frozen value, validated once, every bad key reported by name.

Operator credentials default to the ``[uid2]`` section's; a data provider whose MAPPER key differs
from the bidstream (ID_READER) key sets ``api_key`` / ``secret_file`` here, or the environment
variables ``UID2_IDENTITY_API_KEY``, ``UID2_IDENTITY_SECRET``, ``UID2_IDENTITY_SECRET_FILE``,
``UID2_IDENTITY_BASE_URL``. Example::

    >>> s = IdentitySettings.from_mapping({"api": "v2", "map_batch_size": 1000})
    >>> (s.api, s.map_batch_size, s.alias_days)
    ('v2', 1000, 90)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..settings import SettingsError, UID2Settings

__all__ = ["MAX_BATCH", "MAX_REQUEST_BYTES", "IdentitySettings"]

MAX_BATCH: Final = 5000  # identity map and opt-out status: at most 5,000 items per request
MAX_REQUEST_BYTES: Final = 1_000_000  # identity map: at most 1 MB per request
_ENV_KEYS: Final = ("api_key", "secret", "secret_file", "base_url")
_POSITIVE: Final = (
    "map_interval_seconds", "rotate_interval_seconds", "optout_interval_seconds", "poll_seconds",
    "map_batch_size", "optout_batch_size", "max_request_bytes", "alias_days", "retry_attempts",
    "retry_initial_seconds", "retry_max_seconds", "optout_refresh_seconds",
)


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    enabled: bool = False
    api: Literal["v3", "v2"] = "v3"
    map_interval_seconds: float = 300.0
    rotate_interval_seconds: float = 3600.0
    optout_interval_seconds: float = 86400.0
    poll_seconds: float = 30.0
    map_batch_size: int = MAX_BATCH
    optout_batch_size: int = MAX_BATCH
    max_request_bytes: int = MAX_REQUEST_BYTES
    alias_days: int = 90
    bucket_overlap_seconds: float = 60.0
    retry_attempts: int = 6
    retry_initial_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    optout_refresh_seconds: float = 1.0
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    secret_file: str | None = None

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
        env_prefix: str = "UID2_IDENTITY_",
    ) -> IdentitySettings:
        values: dict[str, Any] = dict(data)
        for name in _ENV_KEYS:
            if env and env.get(env_prefix + name.upper()):
                values[name] = env[env_prefix + name.upper()]
        fields = {f.name: f for f in dataclasses.fields(cls)}
        errors: list[str] = []
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if name not in fields:
                errors.append(f"identity.{name}: unknown setting (known: {', '.join(sorted(fields))})")
                continue
            try:
                kwargs[name] = _coerce(name, value, fields[name].default)
            except (TypeError, ValueError) as exc:
                errors.append(f"identity.{name}: {exc}")
        settings = cls() if errors else cls(**kwargs)
        if not errors:
            errors = settings._problems()
        if errors:
            raise SettingsError(errors)
        return settings

    def _problems(self) -> list[str]:
        problems = [f"identity.{n}: must be > 0" for n in _POSITIVE if getattr(self, n) <= 0]
        if self.bucket_overlap_seconds < 0:
            problems.append("identity.bucket_overlap_seconds: must be >= 0")
        for name in ("map_batch_size", "optout_batch_size"):
            if getattr(self, name) > MAX_BATCH:
                problems.append(f"identity.{name}: the operator accepts at most {MAX_BATCH} per request")
        if self.max_request_bytes > MAX_REQUEST_BYTES:
            problems.append(f"identity.max_request_bytes: the operator accepts at most {MAX_REQUEST_BYTES}")
        if self.base_url and not self.base_url.startswith(("https://", "http://")):
            problems.append("identity.base_url: must be an http(s) URL")
        return problems

    @property
    def alias_seconds(self) -> int:
        return self.alias_days * 86400

    def operator_settings(self, uid2: UID2Settings) -> UID2Settings:
        """The ``[uid2]`` operator settings with this section's credential overrides applied."""
        overrides: dict[str, Any] = {k: getattr(self, k) for k in _ENV_KEYS if getattr(self, k)}
        if "secret" in overrides:
            overrides.setdefault("secret_file", None)
        elif "secret_file" in overrides:
            overrides["secret"] = ""
        return dataclasses.replace(uid2, **overrides)


def _coerce(name: str, value: Any, default: Any) -> Any:
    if name == "api":
        if value not in ("v3", "v2"):
            raise ValueError("must be \"v3\" (current) or \"v2\" (deprecated 2026-09-30)")
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError("expected true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("expected an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("expected a number")
        return float(value)
    if value is not None and not isinstance(value, str):
        raise TypeError("expected a string")
    return value
