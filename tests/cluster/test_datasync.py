"""Live edits and snapshot publishes between two data dirs through the real engine (in-process).

The two-node test (``test_two_nodes_data.py``) does the same through real server processes; these
cover the rules: order, exactly once across restarts, publish + later edits, a damaged publish.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from segments.store import SnapshotDir, StoreWriter
from server.cluster import ClusterSettings
from server.cluster.datasync import DataSync
from server.cluster.edits import OFFSET_META, membership_ops
from server.cluster.engine import connect
from server.cluster.publish import read_meta
from server.cluster.publisher import publish_now


def _dir(root: Path, name: str) -> Path:
    path = root / name
    SnapshotDir(path).ensure()
    return path


def _members(data_dir: Path, key: str) -> dict[str, int | None]:
    return StoreWriter(data_dir).get_memberships(key)


async def _sync(settings: ClusterSettings, data_dir: Path) -> DataSync:
    engine = connect(settings)
    sync = DataSync(engine, settings, data_dir)
    assert await sync.sync_once(), sync.problem
    await engine.aclose()
    return sync


def test_edits_reach_another_node_in_order_and_once(cluster: ClusterSettings, tmp_path: Path) -> None:
    a, b = _dir(tmp_path, "a"), _dir(tmp_path, "b")

    async def go() -> None:
        engine = connect(cluster)
        node_a = DataSync(engine, cluster, a)
        answer = await node_a.edit(membership_ops([("domain:x.com", {"s1": None, "s2": 99})], []))
        assert answer["applied_here"] and answer["upserted"] == 1
        await node_a.edit(membership_ops([], [("domain:x.com", ["s2"])]))
        await node_a.edit(membership_ops([("domain:y.com", {"s3": None})], [("domain:y.com", None)]))
        await engine.aclose()
        assert _members(a, "domain:x.com") == {"s1": None}
        first = await _sync(cluster, b)
        assert first.applied == 3
        assert _members(b, "domain:x.com") == {"s1": None}
        assert _members(b, "domain:y.com") == {}, "upsert then delete in one edit: deleted"
        again = await _sync(cluster, b)  # a restarted worker: the offset is in the snapshot
        assert again.applied == 0

    asyncio.run(go())
    offset_b = read_meta(SnapshotDir(b).current_path(), OFFSET_META)
    assert offset_b == read_meta(SnapshotDir(a).current_path(), OFFSET_META)


def test_engine_down_refuses_the_edit(own_engine: object, tmp_path: Path) -> None:
    from server.cluster.errors import ClusterUnavailable
    from tests.cluster.engine import RedisProcess

    assert isinstance(own_engine, RedisProcess)
    settings = ClusterSettings(enabled=True, url=own_engine.url, key_prefix="down", connect_timeout_s=0.2,
                               command_timeout_s=0.2)
    a = _dir(tmp_path, "a")
    own_engine.kill()

    async def go() -> None:
        engine = connect(settings)
        with pytest.raises(ClusterUnavailable, match="nothing was changed"):
            await DataSync(engine, settings, a).edit(membership_ops([("domain:x.com", {"s1": None})], []))
        await engine.aclose()

    asyncio.run(go())
    assert _members(a, "domain:x.com") == {}


def test_publish_is_installed_with_later_edits_on_top(cluster: ClusterSettings, tmp_path: Path) -> None:
    settings = dataclasses.replace(cluster, publish_dir=str(tmp_path / "shared"))
    a, b = _dir(tmp_path, "a"), _dir(tmp_path, "b")
    StoreWriter(a).upsert_memberships([("domain:bulk.com", {"s9": None})])  # bulk data: only in a's file

    async def go() -> None:
        engine = connect(settings)
        node_a = DataSync(engine, settings, a)
        await node_a.edit(membership_ops([("domain:before.com", {"s1": None})], []))
        pub, _ = await asyncio.to_thread(publish_now, settings, a)
        await node_a.edit(membership_ops([("domain:after.com", {"s2": None})], []))
        node_b = await _sync(settings, b)
        assert node_b.problem is None and node_b.installs == 1, node_b.status()
        node_a_again = await _sync(settings, a)
        assert node_a_again.installs == 0, "the publishing node already serves what it published"
        assert pub.edits != "0-0"
        await engine.aclose()

    asyncio.run(go())
    for key in ("domain:bulk.com", "domain:before.com", "domain:after.com"):
        assert _members(b, key), key


def test_a_damaged_publish_keeps_the_last_good_snapshot(cluster: ClusterSettings, tmp_path: Path) -> None:
    settings = dataclasses.replace(cluster, publish_dir=str(tmp_path / "shared"))
    a, b = _dir(tmp_path, "a"), _dir(tmp_path, "b")
    StoreWriter(a).upsert_memberships([("domain:bulk.com", {"s9": None})])
    StoreWriter(b).upsert_memberships([("domain:mine.com", {"s1": None})])
    pub, _ = publish_now(settings, a)
    published = tmp_path / "shared" / pub.name
    published.write_bytes(published.read_bytes()[: pub.size // 2])  # cut in half
    serving = SnapshotDir(b).current_path()

    async def go() -> DataSync:
        return await _sync(settings, b)

    node_b = asyncio.run(go())
    assert node_b.problem is not None and str(published) in node_b.problem, node_b.problem
    assert "serving the last good snapshot" in node_b.problem
    assert SnapshotDir(b).current_path() == serving
    assert _members(b, "domain:mine.com") == {"s1": None}


def test_a_node_behind_trimmed_edits_says_degraded_until_a_publish(cluster: ClusterSettings,
                                                                   tmp_path: Path) -> None:
    settings = dataclasses.replace(cluster, publish_dir=str(tmp_path / "shared"))
    a, b = _dir(tmp_path, "a"), _dir(tmp_path, "b")

    async def go() -> tuple[str | None, str | None]:
        engine = connect(settings)
        node_a = DataSync(engine, settings, a)
        for i in range(5):
            await node_a.edit(membership_ops([(f"domain:{i}.com", {"s1": None})], []))
        await engine.xtrim(f"{{{settings.key_prefix}}}:edits", maxlen=2, approximate=False)
        behind = await _sync(settings, b)
        await asyncio.to_thread(publish_now, settings, a)
        caught_up = await _sync(settings, b)
        await engine.aclose()
        return behind.problem, caught_up.problem

    behind, caught_up = asyncio.run(go())
    assert behind is not None and "trimmed" in behind and "cluster publish" in behind
    assert caught_up is None
    assert all(_members(b, f"domain:{i}.com") for i in range(5))


def test_publish_versions_never_go_back_after_the_engine_lost_its_data(cluster: ClusterSettings,
                                                                        tmp_path: Path) -> None:
    import redis

    settings = dataclasses.replace(cluster, publish_dir=str(tmp_path / "shared"))
    a = _dir(tmp_path, "a")
    first, _ = publish_now(settings, a)
    second, _ = publish_now(settings, a)
    client = redis.Redis.from_url(settings.url)
    client.delete(f"{{{settings.key_prefix}}}:snapshot:seq", f"{{{settings.key_prefix}}}:snapshot:published")
    client.close()
    third, _ = publish_now(settings, a)
    assert first.version < second.version < third.version
