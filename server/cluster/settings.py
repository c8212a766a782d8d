"""``ClusterSettings``: the ``[cluster]`` config section (off by default: one node needs nothing).

With ``enabled = false`` (the default) nothing in :mod:`server.cluster` that talks to the engine
is imported and every piece of state stays in the node's own SQLite files, exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from server.sections import Section

#: URL schemes redis-py accepts (plain TCP, TLS, a Unix socket).
URL_SCHEMES = ("redis", "rediss", "unix")


@dataclass(frozen=True, slots=True)
class ClusterSettings(Section):
    """Shared state on a Redis-protocol engine; each field is a key of ``[cluster]``."""

    section: ClassVar[str] = "cluster"

    #: Share revocations, identities and signing keys through the engine at ``url``.
    enabled: bool = False
    #: ``redis://[:password@]host:port/db``, ``rediss://`` for TLS. The engine holds signing keys
    #: and client-secret hashes: keep it on a private network and set a password.
    url: str = "redis://127.0.0.1:6379/0"
    #: Every key this product writes starts with ``{key_prefix}`` (a hash tag, so multi-key
    #: operations stay in one Redis Cluster slot). Two deployments may share an engine with two prefixes.
    key_prefix: str = "segment-server"
    #: TCP connect and per-command timeouts (s): an unreachable engine is noticed this fast.
    connect_timeout_s: float = 0.5
    command_timeout_s: float = 0.5
    #: How often each worker checks the engine for changes and pushes its own (s). Revocations
    #: reach every node within about two intervals plus one local reload: keep it ≤ 0.25.
    sync_interval_s: float = 0.2
    #: Where ``segment-server cluster publish`` puts snapshots for every node to pick up: a directory
    #: (or ``file://`` URL) every node mounts, e.g. a shared volume. Empty: no publishing.
    publish_dir: str = ""
    #: Live edits kept in the engine's stream (approximately; ``XADD MAXLEN ~``). A node whose offset
    #: falls behind the oldest kept edit says degraded until the next publish.
    edits_max: int = 1_000_000
    #: Lease of the identity jobs (s): a killed runner's job is free for another node this much later.
    job_lease_s: float = 30.0

    @property
    def publish_path(self) -> Path | None:
        """:attr:`publish_dir` as a path (``file://`` URLs accepted), or ``None`` when unset."""
        if not self.publish_dir:
            return None
        parts = urlsplit(self.publish_dir)
        return Path(parts.path) if parts.scheme == "file" else Path(self.publish_dir)

    def validate(self, section: str) -> list[str]:
        problems = []
        if urlsplit(self.url).scheme not in URL_SCHEMES:
            problems.append(f"url: expected a {'/'.join(URL_SCHEMES)}:// URL, got {self.url!r}")
        if not self.key_prefix or any(c in self.key_prefix for c in "{} "):
            problems.append("key_prefix: must be non-empty, without braces or spaces")
        for name in ("connect_timeout_s", "command_timeout_s"):
            if not 0.01 <= getattr(self, name) <= 30:
                problems.append(f"{name}: must be between 0.01 and 30")
        if not 0.01 <= self.sync_interval_s <= 0.25:
            problems.append("sync_interval_s: must be between 0.01 and 0.25 (revocation target is 1 s)")
        if self.publish_dir and urlsplit(self.publish_dir).scheme not in ("", "file"):
            problems.append("publish_dir: expected a directory path or file:// URL, "
                            f"got {self.publish_dir!r}")
        if self.edits_max < 1000:
            problems.append("edits_max: must be at least 1000")
        if not 1 <= self.job_lease_s <= 3600:
            problems.append("job_lease_s: must be between 1 and 3600")
        return problems
