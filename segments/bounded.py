"""One bounded memo for the hot path: bounded by entries, and by the size of each entry.

Request handlers remember pure results whose inputs repeat (a privacy decision per signal tuple,
response headers per ``Cache-Control`` value, a verified bearer token, a contextual store row).
Each such memo must stay flat in memory under any input (``GUIDE``: every cache bounded by
entries and entry size), and must cost less per request than the work it saves.

So: an entry larger than ``max_entry_size`` (whatever unit the caller measures — characters of
its key, as a rule) is never kept, and a full memo is emptied at once rather than evicting one
entry at a time: clearing is O(1) per request and refills in one pass of traffic, while an
LRU's per-hit bookkeeping costs more than a refill on these workloads (measured on the store's
contextual cache, README "Benchmarks"). ``functools.lru_cache`` stays the right tool where the
key is bounded by construction and the function is pure.

Lives in ``segments/`` so that both the store and ``server/`` can use it (``segments`` never
imports ``server``); compiled with the hot path (:mod:`segments.compiled`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A dict with a cap on entries and on each entry's size; emptied when full."""

    def __init__(self, max_entries: int, max_entry_size: int) -> None:
        if max_entries < 1 or max_entry_size < 0:
            raise ValueError("a bounded cache needs max_entries >= 1 and max_entry_size >= 0")
        self.max_entries = max_entries
        self.max_entry_size = max_entry_size
        self._data: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._data.get(key)

    def put(self, key: K, value: V, size: int) -> bool:
        """Remember ``value`` unless ``size`` is over the bound; returns whether it was kept."""
        if size > self.max_entry_size:
            return False
        data = self._data
        if len(data) >= self.max_entries and key not in data:
            data.clear()
        data[key] = value
        return True

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)
