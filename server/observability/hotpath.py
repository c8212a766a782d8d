"""Per-process metric tallies for the hot endpoints, flushed into prometheus-client once a second.

Why not call ``.labels(...).inc()`` per request: in multiprocess mode every ``inc``/``observe``
takes a lock and writes an mmap'd float, and ``.labels()`` adds a lock and a dict lookup — about
1–2 µs per call, and ``/rtd`` makes one call per lookup key (often 10–50). A tally is a plain
``dict`` increment (~50 ns) on the event-loop thread; :func:`flush` moves the totals into the real
metrics, so ``/metrics`` and the multiprocess files see the same counters, at most one flush
interval late. A worker killed with SIGKILL loses at most that interval's counts; a normal
shutdown flushes first (see :func:`server.observability.runtime.stop`).

Tallies are touched only from the event-loop thread (handlers and the flush task both run there,
and :func:`flush` never awaits), so no lock is needed.

Usage in a handler module::

    _REQUESTS = hotpath.tally(M.REQUESTS, prefix=("rtd",))  # labels: endpoint, status
    _DECRYPT = hotpath.tally(M.UID2_DECRYPT)                 # labels: scope, status, version
    _LATENCY = hotpath.histogram(M.LATENCY, "rtd")          # one bound label set
    ...
    _REQUESTS.add(200)                      # the one free label; str() at flush time
    _DECRYPT.add(("UID2", "SUCCESS", "4"))  # tuple key for several free labels
    _LATENCY.observe(elapsed)

A scalar key is cheaper than a tuple: its hash is cached and nothing is built per request
(callgrind: a tuple key with a fresh string inside costs ~1.5 k instructions). Label
values that never change at a call site belong in ``prefix``/``suffix``.
"""

from __future__ import annotations

from typing import Any

import structlog
from prometheus_client import Counter, Histogram

log = structlog.get_logger("server.observability")

LabelKey = str | int | tuple[str, ...]


class Tally:
    """Counts per label-value key for one labelled :class:`Counter`.

    A scalar key fills the one label not fixed by ``prefix``/``suffix``; a tuple key fills several.
    A plain class around a plain ``dict`` (not a ``defaultdict`` subclass) so that mypyc compiles
    it with the hot path: ``add`` is then a direct C call and two exact-dict operations, ~0.7 k
    instructions against ~1.2 k for ``tally[key] += 1`` on the subclass from compiled code
    (callgrind: /rtd 229.6 k → 222.4 k instructions per request, README "Benchmarks", round 5).
    """

    def __init__(self, metric: Counter, prefix: tuple[str, ...] = (), suffix: tuple[str, ...] = ()) -> None:
        self.metric = metric
        self.prefix = prefix
        self.suffix = suffix
        self.counts: dict[LabelKey, int] = {}

    def add(self, key: LabelKey, amount: int = 1) -> None:
        counts = self.counts
        counts[key] = counts.get(key, 0) + amount

    def __bool__(self) -> bool:
        return bool(self.counts)

    def label_values(self, key: LabelKey) -> tuple[str, ...]:
        values = key if isinstance(key, tuple) else (str(key),)
        return (*self.prefix, *values, *self.suffix)

    def flush(self) -> None:
        if not self.counts:
            return
        items, self.counts = self.counts, {}
        for key, amount in items.items():
            if not amount:
                continue
            try:
                self.metric.labels(*self.label_values(key)).inc(amount)
            except ValueError:  # wrong label arity or a negative amount: a bug at the call site
                log.error("metrics_flush_failed", metric=self.metric._name, key=repr(key))


class LocalHistogram:
    """Bucket counts for one label set of a :class:`Histogram`, using the same bucket bounds.

    ``observe`` is a ``bisect`` and two additions. The flush writes bucket counts straight into
    the child's ``_buckets``/``_sum`` values (prometheus-client's own storage, stable since 0.4);
    ``tests/observability/test_hotpath.py`` pins that the result equals calling ``observe``, and
    ``test_prometheus_pin.py`` fails loudly (in both value backends) if those internals change.
    """

    __slots__ = ("_child", "bounds", "counts", "sum")

    def __init__(self, metric: Histogram, *labels: str) -> None:
        child: Any = metric.labels(*labels) if labels else metric
        if not hasattr(child, "_buckets") or not hasattr(child, "_sum"):  # pragma: no cover
            raise TypeError("prometheus-client Histogram internals changed; update hotpath.py")
        self._child = child
        self.bounds: tuple[float, ...] = tuple(child._upper_bounds)  # ends with +Inf
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left written out: compiled, it is a few native float compares, where the call
        # to ``bisect.bisect_left`` boxes its arguments and compares through the object API
        bounds = self.bounds
        lo, hi = 0, len(bounds) - 1  # the last bound is +Inf: no value goes past it
        while lo < hi:
            mid = (lo + hi) // 2
            if bounds[mid] < value:
                lo = mid + 1
            else:
                hi = mid
        self.counts[lo] += 1  # the first bound >= value, as prometheus counts it
        self.sum += value

    def flush(self) -> None:
        counts, total = self.counts, self.sum
        if not any(counts):
            return
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0
        buckets = self._child._buckets
        for i, n in enumerate(counts):
            if n:
                buckets[i].inc(n)
        self._child._sum.inc(total)


_ALL: list[Tally | LocalHistogram] = []


def tally(metric: Counter, *, prefix: tuple[str, ...] = (), suffix: tuple[str, ...] = ()) -> Tally:
    """A registered tally for ``metric``; create these at import time, once per handler module."""
    t = Tally(metric, prefix, suffix)
    _ALL.append(t)
    return t


def histogram(metric: Histogram, *labels: str) -> LocalHistogram:
    """A registered local histogram for ``metric.labels(*labels)``."""
    h = LocalHistogram(metric, *labels)
    _ALL.append(h)
    return h


def flush() -> None:
    """Move every tally of this process into prometheus-client (call on the event-loop thread)."""
    for item in _ALL:
        item.flush()
