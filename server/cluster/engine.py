"""The engine connection and the key layout; the only module that imports redis-py.

Redis 7.0 from Debian bookworm (BSD-3-Clause, packaged, so ``apt-get install redis-server`` is
the whole install); Valkey speaks the same protocol, so ``url`` may point at either.

Every key lives under one hash tag, ``{key_prefix}``, so a Lua script or MULTI touching several
of them stays in one slot on a Redis Cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.cluster.settings import ClusterSettings

__all__ = ["EngineError", "Keys", "connect"]

#: What an engine call raises when the engine is unreachable or refuses (timeouts included).
EngineError = (RedisError, OSError)


@dataclass(frozen=True, slots=True)
class Keys:
    """The names of every key this product writes, from ``[cluster] key_prefix``."""

    prefix: str

    def _key(self, name: str) -> str:
        return f"{{{self.prefix}}}:{name}"

    def mirror(self, member: str, name: str) -> str:
        """One Xandr member's mirror keys (:class:`server.cluster.stream.StreamKeys` names them)."""
        return self._key(f"mirror:{member}:{name}")

    def lease(self, name: str) -> str:
        """String: the holder of the :class:`~server.cluster.lease.Lease` called ``name``."""
        return self._key(f"lease:{name}")

    @property
    def revocations(self) -> str:
        """Hash: identity id → ``not_before_ms:revoked_ms:deleted``."""
        return self._key("auth:revocations")

    @property
    def identities(self) -> str:
        """Hash: identity id → ``display_name\\tscopes\\tcreated_ms\\tsecret_hash``."""
        return self._key("auth:identities")

    @property
    def signing_keys(self) -> str:
        """Hash: kid → ``secret_hex:created_ms:active_from_ms:retired_ms`` (0 = not retired)."""
        return self._key("auth:signing_keys")

    @property
    def auth_version(self) -> str:
        """Counter bumped by every change to the three auth hashes: what workers poll."""
        return self._key("auth:version")

    @property
    def edits(self) -> str:
        """Stream of live segment edits (:mod:`server.cluster.edits`), field ``e`` = JSON operations."""
        return self._key("edits")

    @property
    def published(self) -> str:
        """JSON ``{version, name, sha256, size, edits, ...}`` of the last published snapshot."""
        return self._key("snapshot:published")

    @property
    def publish_seq(self) -> str:
        """Counter giving each publish its version."""
        return self._key("snapshot:seq")

    @property
    def identity_progress(self) -> str:
        """Hash: the identity job that runs or ran last, its holder and counters (any node reads it)."""
        return self._key("identity:progress")


def connect(settings: ClusterSettings) -> aioredis.Redis:
    """A client with its own connection pool; call it in the lifespan (after fork), per worker.

    No retries inside the client: the sync loop retries on its own schedule, and a command
    never waits longer than ``command_timeout_s``.
    """
    return aioredis.Redis.from_url(
        settings.url,
        socket_connect_timeout=settings.connect_timeout_s,
        socket_timeout=settings.command_timeout_s,
        health_check_interval=0,
        max_connections=4,
        decode_responses=True,
    )
