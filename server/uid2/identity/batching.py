"""Split a list of identifiers into requests the operator accepts: ≤ 5,000 items and ≤ 1 MB.

The size bound is on what goes over the wire: the JSON payload inside the envelope
(version, IV, timestamp, nonce, tag: 45 bytes) and then base64, which adds a third.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TypeVar

__all__ = ["ENVELOPE_OVERHEAD", "batches", "wire_bytes"]

T = TypeVar("T")
ENVELOPE_OVERHEAD = 1 + 12 + 8 + 8 + 16
_PAYLOAD_OVERHEAD = 64  # braces, the array names, a few quotes: generous on purpose


def wire_bytes(json_bytes: int) -> int:
    return 4 * math.ceil((json_bytes + ENVELOPE_OVERHEAD) / 3)


def batches(items: Sequence[T], texts: Sequence[str], *, max_items: int, max_bytes: int) -> Iterator[list[T]]:
    """Consecutive slices of ``items``; ``texts[i]`` is the string item ``i`` puts in the JSON."""
    batch: list[T] = []
    size = _PAYLOAD_OVERHEAD
    for item, text in zip(items, texts, strict=True):
        cost = len(text.encode("utf-8")) + 3  # quotes and a comma
        if batch and (len(batch) >= max_items or wire_bytes(size + cost) > max_bytes):
            yield batch
            batch, size = [], _PAYLOAD_OVERHEAD
        batch.append(item)
        size += cost
    if batch:
        yield batch
