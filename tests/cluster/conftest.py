"""Cluster-test fixtures: one real engine for the session, a fresh key prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from server.cluster import ClusterSettings
from tests.cluster.engine import RedisProcess


@pytest.fixture(scope="session")
def engine() -> Iterator[RedisProcess]:
    """The session's ``redis-server`` (tests that kill an engine start their own)."""
    proc = RedisProcess().start()
    yield proc
    proc.close()


@pytest.fixture
def own_engine() -> Iterator[RedisProcess]:
    """An engine this test alone uses, so it may kill it."""
    proc = RedisProcess().start()
    yield proc
    proc.close()


@pytest.fixture
def cluster(engine: RedisProcess) -> ClusterSettings:
    """``[cluster]`` on the session engine, under a prefix no other test uses."""
    return ClusterSettings(enabled=True, url=engine.url, key_prefix=f"t-{uuid.uuid4().hex[:12]}",
                           sync_interval_s=0.05)

