"""The store interface `/rtd` and `/segments` read through, whatever holds the data.

The embedded default is SQLite (:mod:`segments.store.sqlite`); a Redis backend implements the
same :class:`SegmentStore` protocol. The contract that matters for latency: **one** call to
:meth:`SegmentStore.lookup` per request with every key at once. The contract that matters for
availability: ``lookup`` and ``maybe_reload`` never raise into a request; a store that cannot
answer returns an empty :class:`LookupResult` with ``failed`` set, and reports why through
``health()`` (see :func:`store_health`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from segments.taxonomy import Taxonomy


class StoreError(Exception):
    """The store cannot serve (no snapshot, corrupt file). Distinct from a miss, which is not an error."""


class NoSnapshot(StoreError):
    """No snapshot has been loaded yet into this data dir."""


@dataclass(slots=True)
class LookupResult:
    """Per key, the segment ids it maps to (unexpired, in stored order); keys still being classified;
    and, when asked for, the Xandr user ids linked to keys."""

    hits: dict[str, list[str]] = field(default_factory=dict)
    classifying: set[str] = field(default_factory=set)
    links: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)  # key → Xandr ids
    # True when the store could not answer (damaged or unreadable snapshot): the result is empty
    # and says nothing about the keys. /rtd answers it as a miss; /segments' policy is a 503.
    failed: bool = False


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """What readiness and ``/admin/status`` report: ``state`` is ``ok``, ``degraded`` (serving, but
    not what ``CURRENT`` names or with read errors: ``detail`` names the file) or ``failed``
    (nothing readable: every lookup answers empty)."""

    state: str
    detail: str
    path: str
    lookup_failures: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    version: int
    created_at: float
    members: int
    segments: int
    path: str


class SegmentStore(Protocol):
    @property
    def taxonomy(self) -> Taxonomy: ...

    @property
    def ip_prefix_lengths(self) -> frozenset[int]: ...

    @property
    def info(self) -> SnapshotInfo: ...

    def lookup(self, keys: Sequence[str], now: float, *, classifying: bool = True,
               links: bool = False) -> LookupResult: ...

    def maybe_reload(self) -> bool: ...

    def reload(self) -> bool: ...

    def close(self) -> None: ...


def store_health(store: SegmentStore) -> StoreHealth:
    """The store's own :class:`StoreHealth`, or one built from ``info`` for a store without ``health()``."""
    health = getattr(store, "health", None)
    if callable(health):
        result: StoreHealth = health()
        return result
    info = store.info
    state = "ok" if info.version > 0 else "failed"
    detail = f"snapshot v{info.version}, {info.members} keys, {info.segments} segments"
    return StoreHealth(state, detail, info.path)
