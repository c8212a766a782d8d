"""Process-level tuning applied once per worker, after startup and before the first request.

CPython's cyclic garbage collector walks every tracked container of a generation when it runs;
a full (oldest-generation) collection walks the whole heap. A worker's heap is mostly built at
startup — the taxonomy, the public-suffix list, compiled privacy tables, caches of imports — and
none of it ever becomes garbage, yet each full collection walks it again, in the middle of some
request: a pause of milliseconds that lands on /rtd's p99. :func:`gc.freeze` moves everything
alive at that moment into a permanent generation the collector skips (the gc module's docs
recommend it for exactly this, long-lived pre-forked servers), so collections only see what
requests allocate. Measured with the store benchmark: lookup p99 21 → 13 µs.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect once, then exempt every surviving object from future collections; returns how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
