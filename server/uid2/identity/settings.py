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
from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal

from server.sections import Section

from ..settings import UID2Settings

__all__ = ["MAX_BATCH", "MAX_REQUEST_BYTES", "IdentitySettings"]

MAX_BATCH: Final = 5000  # identity map and opt-out status: at most 5,000 items per request
MAX_REQUEST_BYTES: Final = 1_000_000  # identity map: at most 1 MB per request
_POSITIVE: Final = (
    "map_interval_seconds", "rotate_interval_seconds", "optout_interval_seconds", "poll_seconds",
    "map_batch_size", "optout_batch_size", "max_request_bytes", "alias_days", "retry_attempts",
    "retry_initial_seconds", "retry_max_seconds", "optout_refresh_seconds",
)


@dataclass(frozen=True, slots=True)
class IdentitySettings(Section):
    section: ClassVar[str] = "identity"

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

    def validate(self, section: str) -> list[str]:
        problems = [f"{n}: must be > 0" for n in _POSITIVE if getattr(self, n) <= 0]
        if self.bucket_overlap_seconds < 0:
            problems.append("bucket_overlap_seconds: must be >= 0")
        for name in ("map_batch_size", "optout_batch_size"):
            if getattr(self, name) > MAX_BATCH:
                problems.append(f"{name}: the operator accepts at most {MAX_BATCH} per request")
        if self.max_request_bytes > MAX_REQUEST_BYTES:
            problems.append(f"max_request_bytes: the operator accepts at most {MAX_REQUEST_BYTES}")
        if self.base_url and not self.base_url.startswith(("https://", "http://")):
            problems.append("base_url: must be an http(s) URL")
        return problems

    @property
    def alias_seconds(self) -> int:
        return self.alias_days * 86400

    def operator_settings(self, uid2: UID2Settings) -> UID2Settings:
        """The ``[uid2]`` operator settings with this section's credential overrides applied."""
        secret, secret_file = uid2.secret, uid2.secret_file
        if self.secret:
            secret, secret_file = self.secret, None
        elif self.secret_file:
            secret, secret_file = "", self.secret_file
        return dataclasses.replace(uid2, base_url=self.base_url or uid2.base_url,
                                   api_key=self.api_key or uid2.api_key,
                                   secret=secret, secret_file=secret_file)
