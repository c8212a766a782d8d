"""Gauge label values stay the same over a key set's life: one series per scope, never two."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from prometheus_client import REGISTRY

from server.observability import runtime, sources
from server.uid2.keys import Key, KeySet
from server.uid2.refresher import KeyRefresher


def _scopes_of(name: str) -> set[str]:
    return {s.labels["scope"] for family in REGISTRY.collect() for s in family.samples if s.name == name}


def test_uid2_keys_has_one_series_per_scope_before_and_after_the_first_refresh() -> None:
    now = time.time()

    async def fetch() -> KeySet:  # the UID2 operator (outside world): one active key
        return KeySet(keys={7: Key(7, b"k" * 32, int(now) - 10, int(now) - 10, int(now) + 3600)})

    refresher = KeyRefresher(fetch)
    services = SimpleNamespace(store=None, extras={"uid2": {"UID2": refresher}})
    assert list(sources.refreshers(services)) == ["UID2"]
    runtime.sample_gauges(services, now)  # before the keys load (the first refresh failed or is slow)
    asyncio.run(refresher.refresh_now())
    runtime.sample_gauges(services, now)
    assert list(sources.refreshers(services)) == ["UID2"]
    assert {s for s in _scopes_of("segserver_uid2_keys") if "uid2" in s.lower()} == {"UID2"}
    assert REGISTRY.get_sample_value("segserver_uid2_keys", {"scope": "UID2"}) == 1  # moved with the refresh
