"""The job lease on a real engine: one holder, renewal, expiry after a silent holder, no stealing back."""

from __future__ import annotations

import asyncio

from server.cluster import ClusterSettings
from server.cluster.engine import connect
from server.cluster.lease import Lease
from tests.cluster.engine import RedisProcess


def test_one_holder_at_a_time_and_release(cluster: ClusterSettings) -> None:
    async def main() -> None:
        engine = connect(cluster)
        a = Lease(engine, cluster.key_prefix, "identity-jobs", ttl_s=30, owner="node-a")
        b = Lease(engine, cluster.key_prefix, "identity-jobs", ttl_s=30, owner="node-b")
        assert await a.acquire()
        assert not await b.acquire()
        assert await b.holder() == "node-a", "progress/holder visible from any node"
        assert not await b.release(), "b cannot free a's lease"
        assert await a.release()
        assert await b.acquire()
        await engine.aclose()

    asyncio.run(main())


def test_a_silent_holder_loses_it_after_the_ttl_and_cannot_take_it_back(cluster: ClusterSettings) -> None:
    async def main() -> None:
        engine = connect(cluster)
        a = Lease(engine, cluster.key_prefix, "job", ttl_s=0.2, owner="killed")
        b = Lease(engine, cluster.key_prefix, "job", ttl_s=30, owner="survivor")
        assert await a.acquire()  # and then a is "killed": it never renews
        for _ in range(200):
            if await b.acquire():
                break
            await asyncio.sleep(0.02)
        assert await b.holder() == "survivor"
        assert not await a.renew(), "the old holder cannot extend the new holder's lease"
        await engine.aclose()

    asyncio.run(main())


def test_held_renews_past_the_ttl_and_releases_on_exit(cluster: ClusterSettings) -> None:
    async def main() -> None:
        engine = connect(cluster)
        a = Lease(engine, cluster.key_prefix, "job", ttl_s=0.3, owner="runner")
        b = Lease(engine, cluster.key_prefix, "job", ttl_s=0.3, owner="other")
        async with a.held() as got:
            assert got
            await asyncio.sleep(0.9)  # three TTLs: only renewal keeps it
            assert not a.lost.is_set()
            async with b.held() as other_got:
                assert not other_got
        assert await b.holder() is None
        await engine.aclose()

    asyncio.run(main())


def test_losing_the_engine_while_holding_sets_lost(own_engine: RedisProcess) -> None:
    settings = ClusterSettings(enabled=True, url=own_engine.url, connect_timeout_s=0.1, command_timeout_s=0.1)

    async def main() -> None:
        engine = connect(settings)
        a = Lease(engine, settings.key_prefix, "job", ttl_s=0.3, owner="runner")
        async with a.held() as got:
            assert got
            own_engine.kill()
            await asyncio.wait_for(a.lost.wait(), timeout=10)
        await engine.aclose()

    asyncio.run(main())
