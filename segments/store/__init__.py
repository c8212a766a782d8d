"""Segment stores: the protocol, the embedded SQLite implementation and its live writer."""

from segments.store.base import LookupResult, NoSnapshot, SegmentStore, SnapshotInfo, StoreError
from segments.store.snapshots import SnapshotDir
from segments.store.sqlite import SQLiteStore
from segments.store.writer import StoreWriter

__all__ = [
    "LookupResult", "NoSnapshot", "SQLiteStore", "SegmentStore", "SnapshotDir", "SnapshotInfo", "StoreError",
    "StoreWriter",
]
