"""Identity jobs across a cluster: one runner at a time (lease), progress in the engine, results
on every node through the edit stream — two data dirs, one real engine, the fake operator."""

from __future__ import annotations

import asyncio
from pathlib import Path

from segments import keys as K
from segments.loader import load
from segments.store import StoreWriter
from server.cluster import ClusterSettings
from server.cluster.jobs import ClusterJobs, StreamWriter, apply_pending
from server.uid2.identity import IdentitySettings, IdentityWorker
from tests.fakes.clock import FakeClock
from tests.uid2_identity.conftest import T0, TAXONOMY, Env, no_sleep, users, write_rows


def test_a_job_started_on_two_nodes_runs_once_and_its_results_reach_both(
        cluster: ClusterSettings, tmp_path: Path) -> None:
    env = Env(tmp_path / "a", FakeClock(T0), IdentitySettings.from_mapping({"enabled": True}))
    env.load(users(6))  # the DII is loaded on node a (the publishing node)
    other = tmp_path / "b" / "data"
    load(other, [], [write_rows(tmp_path / "taxonomy.jsonl", TAXONOMY)])

    async def node(data: Path, started: asyncio.Event, go: asyncio.Event) -> object:
        lease = ClusterJobs(cluster)
        writer = StreamWriter(data, cluster)
        try:
            async with env.jobs(writer=writer, checkpoint=lease.checkpoint) as jobs:
                async def slow() -> object:
                    started.set()
                    await go.wait()  # hold the lease until the other node has tried
                    return await jobs.run("map")

                if data == env.data:
                    return (await lease.run("map", slow))[0]
                await started.wait()
                worker = IdentityWorker(jobs, env.settings, data, cluster=lease, sleep=no_sleep)
                skipped = await worker.run_one("map")
                go.set()
                return skipped
        finally:
            writer.close()
            await lease.aclose()

    async def both() -> tuple[object, object, dict[str, str]]:
        started, go = asyncio.Event(), asyncio.Event()
        first, second = await asyncio.gather(node(env.data, started, go), node(other, started, go))
        jobs = ClusterJobs(cluster)
        progress = await jobs.progress()
        await jobs.aclose()
        return first, second, progress

    first, second, progress = asyncio.run(both())
    assert second is None, "the second node found the lease held and skipped"
    assert getattr(first, "mapped", 0) == 6
    assert [path for path, _ in env.fake.calls].count("/v3/identity/map") == 1, env.fake.calls
    assert progress["job"] == "map" and progress["state"] == "done" and progress["batches"] == "1", progress
    apply_pending(other, cluster)  # node b's sync would do this within one interval
    mapped_a = _uid2_keys(env.data)
    assert mapped_a and _uid2_keys(other) == mapped_a


def _uid2_keys(data: Path) -> list[str]:
    import sqlite3

    from segments.store import SnapshotDir

    path = SnapshotDir(data).current_path()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT key FROM members WHERE key LIKE ? ORDER BY key", (K.UID2 + ":%",))
        return [k for (k,) in rows]
    finally:
        conn.close()


def test_store_writer_contract_is_kept(cluster: ClusterSettings, tmp_path: Path) -> None:
    load(tmp_path / "d", [], [write_rows(tmp_path / "taxonomy.jsonl", TAXONOMY)])
    writer = StreamWriter(tmp_path / "d", cluster)
    try:
        assert writer.upsert_memberships([("domain:a.com", {"auto": None, "sports": 5})]) == 1
        assert writer.delete_memberships("domain:a.com", ["sports", "travel"]) == ["sports"]
        assert writer.rekey([("domain:a.com", "domain:b.com")]) == 1
    finally:
        writer.close()
    assert StoreWriter(tmp_path / "d").get_memberships("domain:b.com") == {"auto": None}


def test_opt_outs_reach_every_nodes_identity_database(cluster: ClusterSettings, tmp_path: Path) -> None:
    from server.uid2.identity import OptOutIndex

    a, b = tmp_path / "a", tmp_path / "b"
    for data in (a, b):
        load(data, [], [write_rows(tmp_path / "taxonomy.jsonl", TAXONOMY)])
    writer = StreamWriter(a, cluster)
    try:
        writer.upsert_memberships([("uid2:gone", {"auto": None})])
        writer.share_optouts({"gone": T0})
        assert writer.delete_memberships_many([("uid2:gone", None)]) == {"uid2:gone": ["auto"]}
    finally:
        writer.close()
    apply_pending(b, cluster)
    index = OptOutIndex(b)
    assert not index.is_opted_out("gone", T0 + 1) and index.is_opted_out("gone", T0 - 1)
    assert StoreWriter(b).get_memberships("uid2:gone") == {}


def test_a_runner_that_loses_the_lease_stops_its_job(cluster: ClusterSettings) -> None:
    import dataclasses

    import pytest

    from server.cluster.jobs import LeaseLost

    settings = dataclasses.replace(cluster, job_lease_s=1.0)  # renewed every ~0.33 s

    async def go() -> dict[str, str]:
        jobs = ClusterJobs(settings)
        stopped = asyncio.Event()

        async def forever() -> None:
            try:
                await asyncio.sleep(3600)
            finally:
                stopped.set()

        async def steal() -> None:
            await asyncio.sleep(0.2)
            await jobs.engine.set(f"{{{settings.key_prefix}}}:lease:identity", "someone-else", px=60_000)

        thief = asyncio.create_task(steal())
        with pytest.raises(LeaseLost):
            await asyncio.wait_for(jobs.run("map", forever), 30)
        await thief
        assert stopped.is_set()
        progress = await jobs.progress()
        await jobs.aclose()
        return progress

    assert asyncio.run(go())["state"] == "lease_lost"
