"""Tallies and local histograms must land in prometheus-client exactly as direct calls would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from server.observability import hotpath

BUCKETS = (0.0001, 0.0005, 0.001, 0.005)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for m in registry.collect() for s in m.samples if not s.name.endswith("_created")}


def test_tally_flush_equals_direct_incs() -> None:
    direct_reg, tally_reg = CollectorRegistry(), CollectorRegistry()
    direct = Counter("c", "c", ["endpoint", "status"], registry=direct_reg)
    single = Counter("one", "one", ["reason"], registry=direct_reg)
    tallied = Counter("c", "c", ["endpoint", "status"], registry=tally_reg)
    single_t = Counter("one", "one", ["reason"], registry=tally_reg)
    t, t1 = hotpath.Tally(tallied), hotpath.Tally(single_t)
    for endpoint, status, n in [("rtd", "200", 5), ("rtd", "400", 1), ("segments", "200", 3)]:
        for _ in range(n):
            direct.labels(endpoint, status).inc()
            t.add((endpoint, status))
    single.labels("allowed").inc(7)
    t1.add("allowed", 7)
    t.flush()
    t1.flush()
    assert _samples(tally_reg) == _samples(direct_reg)
    assert not t and not t1  # cleared: a second flush adds nothing
    t.flush()
    assert _samples(tally_reg) == _samples(direct_reg)


def test_tally_fixed_labels_and_int_keys() -> None:
    """``prefix``/``suffix`` fill the labels a call site never varies; int keys become strings."""
    direct_reg, tally_reg = CollectorRegistry(), CollectorRegistry()
    direct = Counter("c", "c", ["endpoint", "status"], registry=direct_reg)
    lookups = Counter("l", "l", ["kind", "result"], registry=direct_reg)
    tallied = Counter("c", "c", ["endpoint", "status"], registry=tally_reg)
    lookups_t = Counter("l", "l", ["kind", "result"], registry=tally_reg)
    requests = hotpath.Tally(tallied, prefix=("rtd",))
    hits, misses = hotpath.Tally(lookups_t, suffix=("hit",)), hotpath.Tally(lookups_t, suffix=("miss",))
    direct.labels("rtd", "200").inc(3)
    direct.labels("rtd", "400").inc()
    lookups.labels("uid2", "hit").inc(2)
    lookups.labels("uid2", "miss").inc()
    lookups.labels("url", "miss").inc(4)
    requests.add(200, 3)
    requests.add(400)
    hits.add("uid2", 2)
    misses.add("uid2")
    misses.add("url", 4)
    for tally in (requests, hits, misses):
        tally.flush()
    assert _samples(tally_reg) == _samples(direct_reg)


@pytest.mark.parametrize("values", [
    pytest.param([0.00005, 0.0001, 0.00011, 0.0007, 0.002, 0.2], id="every-bucket-and-inf"),
    pytest.param([0.0001] * 3, id="exactly-on-a-bound"),
    pytest.param([], id="nothing"),
])
def test_local_histogram_equals_observe(values: list[float]) -> None:
    direct_reg, local_reg = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("h", "h", ["endpoint"], buckets=BUCKETS, registry=direct_reg)
    local = Histogram("h", "h", ["endpoint"], buckets=BUCKETS, registry=local_reg)
    h = hotpath.LocalHistogram(local, "rtd")
    direct.labels("rtd")  # the local histogram binds its child up front, so zeros show in both
    for v in values:
        direct.labels("rtd").observe(v)
        h.observe(v)
    h.flush()
    got, want = _samples(local_reg), _samples(direct_reg)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key]), key
    h.flush()  # idempotent once drained
    assert _samples(local_reg) == got


def test_flush_survives_a_wrong_label_arity() -> None:
    reg = CollectorRegistry()
    c = Counter("bad", "bad", ["a", "b"], registry=reg)
    t = hotpath.Tally(c)
    t.add("only-one")
    t.add(("x", "y"), 2)
    t.flush()  # logs the bad key, keeps going
    assert _samples(reg)[("bad_total", (("a", "x"), ("b", "y")))] == 2
