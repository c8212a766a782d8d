"""Failed ``/oauth/token`` logins counted across nodes, on a real engine."""

from __future__ import annotations

import asyncio

from server.auth.ratelimit import FailureLimiter
from server.cluster import ClusterSettings
from server.cluster.engine import connect
from server.cluster.ratelimit import SharedFailureLimiter

KEY = "0123456789abcdef0123456789abcdef 203.0.113.9"


def limiter(engine: object, prefix: str, max_failures: int = 4) -> SharedFailureLimiter:
    local = FailureLimiter(window_s=60, max_failures=max_failures)
    return SharedFailureLimiter(local, engine, prefix, "client")  # type: ignore[arg-type]


def test_failures_on_two_nodes_add_up(cluster: ClusterSettings) -> None:
    async def main() -> None:
        engine_a, engine_b = connect(cluster), connect(cluster)
        node_a, node_b = limiter(engine_a, cluster.key_prefix), limiter(engine_b, cluster.key_prefix)
        for _ in range(3):
            node_a.record_failure(KEY)
        await node_a.settle()
        assert not node_a.blocked(KEY) and not node_b.blocked(KEY)
        node_b.record_failure(KEY)  # the 4th failure in the cluster, the 1st on node b
        await node_b.settle()
        assert node_b.blocked(KEY), "node b blocks on the cluster total"
        assert not node_b._local.blocked(KEY), "which its own count alone would not"
        node_a.record_failure(KEY)
        await node_a.settle()
        assert node_a.blocked(KEY)
        node_b.reset(KEY)  # a successful login by that client on node b clears the shared count
        await node_b.settle()
        assert not await engine_a.exists(node_a._engine_key(KEY))
        stored = [k async for k in engine_a.scan_iter(f"{cluster.key_prefix}:oauth-fail:*")]
        assert all("203.0.113.9" not in k for k in stored), "no raw address in the engine"
        await engine_a.aclose()
        await engine_b.aclose()

    asyncio.run(main())


def test_engine_down_falls_back_to_the_local_count() -> None:
    down = ClusterSettings(enabled=True, url="redis://127.0.0.1:1/0", connect_timeout_s=0.05,
                           command_timeout_s=0.05)

    async def main() -> None:
        engine = connect(down)
        node = limiter(engine, "x", max_failures=2)
        node.record_failure(KEY)
        node.record_failure(KEY)
        await node.settle()
        assert node.blocked(KEY) and node.engine_errors == 2
        await engine.aclose()

    asyncio.run(main())
