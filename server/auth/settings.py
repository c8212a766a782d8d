"""``AuthSettings``: the ``[auth]`` config section as one frozen, validated value.

Validated once (before workers fork) by the one settings loader (:mod:`server.sections`), which
reports every bad key by name rather than stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from server.auth.scopes import ADMIN, RTD, SEGMENTS
from server.sections import Section

HOUR: Final = 3600
#: The token-lifetime range, as in the Azure Communication Identity model: 1 hour to 24 hours.
MIN_LIFETIME_S: Final = 1 * HOUR
MAX_LIFETIME_S: Final = 24 * HOUR
LIFETIME_RANGE_TEXT: Final = f"between {MIN_LIFETIME_S} and {MAX_LIFETIME_S} seconds (1 to 24 hours)"


@dataclass(frozen=True, slots=True)
class AuthSettings(Section):
    """Auth behaviour; every field maps 1:1 to a key of the ``[auth]`` TOML section.

    >>> AuthSettings(rtd_enabled=False).enabled_scopes == frozenset({"segments", "admin"})
    True
    """

    section: ClassVar[str] = "auth"

    #: Per-endpoint switches. ``False`` lets *anyone* call the endpoint: only for deployments where
    #: an IP allow-list in front of the server does the access control.
    rtd_enabled: bool = True
    segments_enabled: bool = True
    admin_enabled: bool = True
    #: ``realm`` in ``WWW-Authenticate`` challenges (RFC 6750 §3, RFC 7617).
    realm: str = "segment-server"
    #: Lifetime of tokens from ``POST /oauth/token`` and the default for admin/CLI issuance.
    default_lifetime_s: int = MAX_LIFETIME_S
    #: A new signing key is created this often; older keys keep verifying until their tokens expire.
    key_rotation_s: int = 7 * 24 * HOUR
    #: Upper bound on how stale a worker's view of revocations and keys may be.
    revocation_refresh_s: float = 0.5
    #: Failed client authentications at ``/oauth/token`` allowed per window, per (client id, source
    #: address) pair and per source address, before further attempts *from that address* get 429
    #: without the (costly) secret check. Other addresses are never affected.
    failed_auth_window_s: int = 300
    failed_auth_max_per_client: int = 10
    failed_auth_max_per_address: int = 50
    #: scrypt cost for client secrets (2**15 ≈ 50–150 ms, 32 MiB). Stored with each hash, so
    #: changing it only affects secrets created afterwards.
    scrypt_n: int = 2**15
    #: Client-secret checks (scrypt) running at once per worker, in threads off the event loop.
    secret_check_threads: int = 2
    #: Checks from one source address run one at a time; this many more may wait, then 429.
    secret_checks_queued_per_address: int = 4

    @property
    def enabled_scopes(self) -> frozenset[str]:
        """Scopes whose endpoints require a token."""
        flags = {RTD: self.rtd_enabled, SEGMENTS: self.segments_enabled, ADMIN: self.admin_enabled}
        return frozenset(scope for scope, on in flags.items() if on)

    def validate(self, section: str) -> list[str]:
        errors = []
        if not MIN_LIFETIME_S <= self.default_lifetime_s <= MAX_LIFETIME_S:
            errors.append(f"default_lifetime_s: must be {LIFETIME_RANGE_TEXT}")
        if self.key_rotation_s < HOUR:
            errors.append("key_rotation_s: must be at least 3600")
        if not 0.05 <= self.revocation_refresh_s <= 1.0:
            errors.append("revocation_refresh_s: must be between 0.05 and 1.0 (revocation SLO is 1 s)")
        for key in ("failed_auth_window_s", "failed_auth_max_per_client", "failed_auth_max_per_address",
                    "secret_check_threads", "secret_checks_queued_per_address"):
            if getattr(self, key) < 1:
                errors.append(f"{key}: must be at least 1")
        if self.scrypt_n < 2**10 or self.scrypt_n & (self.scrypt_n - 1):
            errors.append("scrypt_n: must be a power of two, at least 1024")
        if not self.realm or '"' in self.realm or "\\" in self.realm:
            errors.append("realm: must be non-empty, without quotes or backslashes")
        return errors
