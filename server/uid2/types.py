"""Small enums shared by every UID2 module."""

from __future__ import annotations

import enum

__all__ = ["ClientType", "IdentityScope", "IdentityType"]


class IdentityScope(enum.IntEnum):
    """Bit 4 of a v3/v4 token's first byte. UID2 is eid source ``uidapi.com``, EUID ``euid.eu``."""

    UID2 = 0
    EUID = 1

    @classmethod
    def from_eid_source(cls, source: str) -> IdentityScope | None:
        return _EID_SOURCES.get(source.lower())


_EID_SOURCES = {"uidapi.com": IdentityScope.UID2, "euid.eu": IdentityScope.EUID}


class IdentityType(enum.IntEnum):
    """Bits 2-3 of a v3/v4 token's first byte (and of v3/v4 raw UIDs)."""

    EMAIL = 0
    PHONE = 1


class ClientType(enum.Enum):
    """Which key endpoint the keys came from; it picks the lifetime limit and the CSTG domain check."""

    BIDSTREAM = "bidstream"  # /v2/key/bidstream: DSPs; domain check on CSTG tokens
    SHARING = "sharing"  # /v2/key/sharing: sharers; no domain check

    @property
    def key_path(self) -> str:
        return f"/v2/key/{self.value}"
