"""Map → rotate → opt-out against the fake operator, through the real loader and store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from segments.store import SQLiteStore
from segments.store.writer import StoreWriter
from server.uid2.identity import IdentityDB, OptOutIndex
from tests.uid2_identity.conftest import Env, did, users

pytestmark = pytest.mark.anyio
DAY = 86400.0


def members(env: Env, uid: str) -> dict[str, int | None]:
    return StoreWriter(env.data).get_memberships(f"uid2:{uid}")


def lookup(env: Env, uid: str) -> list[str]:
    store = SQLiteStore(env.data, check_interval=0)
    try:
        return store.lookup([f"uid2:{uid}"], env.clock()).hits.get(f"uid2:{uid}", [])
    finally:
        store.close()


def uid2_keys(env: Env) -> dict[str, dict[str, int | None]]:
    import sqlite3

    from segments.store import schema
    from segments.store.snapshots import SnapshotDir

    path = SnapshotDir(env.data).current_path()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT key, segs FROM members WHERE key LIKE 'uid2:%'")
        return {k: schema.decode(v) for k, v in rows}
    finally:
        conn.close()


@pytest.mark.parametrize("api", [pytest.param("v3", id="v3"), pytest.param("v2", id="v2")])
async def test_map_keys_memberships_by_raw_uid2(make_env: Callable[..., Env], api: str) -> None:
    env = make_env(api=api, map_batch_size=7)
    odd = {"kind": "email_hash", "key": "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=", "segments": "auto"}
    env.fake.invalid.add(did("email_hash", odd["key"]))
    loaded = env.load([*users(20), odd, {"kind": "email_hash", "key": "bm90IGEgaGFzaA==",
                                         "segments": "auto"}])
    assert [r.reason for r in loaded.rejected] == [
        "invalid email_hash: hash must be a base64 SHA-256 (32 bytes)"]
    report = await env.run("map")
    assert report.error is None
    assert (report.mapped, report.unmapped) == (20, {"invalid identifier": 1})
    assert report.batches == 3  # 21 DII in batches of 7
    alice = did("email", "user.0@example.com")
    assert lookup(env, env.fake.current_uid(alice)) == ["auto"]
    bob = did("phone", "+15550000001")
    assert sorted(members(env, env.fake.current_uid(bob))) == ["sports", "travel"]
    assert IdentityDB(env.data).counts() == {"pending": 0, "mapped": 20, "unmapped:invalid identifier": 1,
                                             "optouts": 0}
    assert max(n for _, n in env.fake.calls) == 7  # never more than map_batch_size per request


async def test_v3_rotation_rekeys_exactly_the_affected_users_and_keeps_an_alias(
        make_env: Callable[..., Env]) -> None:
    env = make_env(api="v3")
    env.load(users(40))
    await env.run("map")
    before = uid2_keys(env)
    rotated = env.fake.bucket_name(3)
    affected = [d for d in _all_dids(env) if env.fake.bucket_of(d) == rotated]
    assert affected
    old = {d: env.fake.current_uid(d) for d in affected}
    # Move past bucket 3's refresh time only (bucket i refreshes at T0 + 30 d + i seconds).
    env.clock.advance(30 * DAY + 3.5)
    env.fake.rotate(rotated)
    report = await env.run("rotate")
    assert report.error is None
    assert report.rekeyed == len(affected)
    after = uid2_keys(env)
    changed = {k for k in after.keys() | before.keys() if after.get(k) != before.get(k)}
    new_keys = {f"uid2:{env.fake.current_uid(d)}" for d in affected}
    old_keys = {f"uid2:{u}" for u in old.values()}
    assert changed == new_keys | old_keys  # nobody else was touched
    for d in affected:
        assert lookup(env, env.fake.current_uid(d))  # the new raw UID2 matches …
        assert lookup(env, old[d]) == lookup(env, env.fake.current_uid(d))  # … and so does the old one
    env.clock.advance(91 * DAY)  # the alias ages out (and the sweep deletes the key)
    for d in affected:
        assert lookup(env, old[d]) == []
    await env.run("rotate")
    assert not (old_keys & uid2_keys(env).keys())


async def test_v2_rotation_follows_buckets_since_the_cursor(make_env: Callable[..., Env]) -> None:
    env = make_env(api="v2")
    env.load(users(40))
    await env.run("map")
    first = await env.run("rotate")  # nothing rotated yet: the cursor is set, nobody remapped
    assert (first.error, first.rekeyed, first.buckets) == (None, 0, 0)
    rotated = env.fake.bucket_name(5)
    affected = [d for d in _all_dids(env) if env.fake.bucket_of(d) == rotated]
    old = {d: env.fake.current_uid(d) for d in affected}
    env.clock.advance(3600)
    env.fake.rotate(rotated)
    report = await env.run("rotate")
    assert (report.error, report.rekeyed, report.buckets) == (None, len(affected), 1)
    for d in affected:
        assert lookup(env, old[d]) == lookup(env, env.fake.current_uid(d)) != []
    again = await env.run("rotate")  # same bucket, nothing newer than the mappings: no work
    assert again.rekeyed == 0
    since = [c for c in env.fake.operator.requests if c[0] == "/v2/identity/buckets"]
    assert len(since) == 3


async def test_optout_removes_the_user_records_the_time_and_queues_removal(
        make_env: Callable[..., Env]) -> None:
    env = make_env(optout_batch_size=3)
    env.load(users(10))
    await env.run("map")
    carol = did("email", "user.4@example.com")
    uid = env.fake.current_uid(carol)
    assert lookup(env, uid)
    opted_at = env.clock() - 10
    env.fake.opt_out(carol, since=opted_at)
    index = OptOutIndex(env.data, refresh_seconds=0)
    assert not index.is_opted_out(uid, opted_at - 100)
    report = await env.run("optout")
    assert (report.error, report.opted_out) == (None, 1)
    assert lookup(env, uid) == []
    assert env.optout_calls == [[uid]]
    assert index.is_opted_out(uid, opted_at - 100)  # a token from before the opt-out: refused
    assert index.is_opted_out(uid, None)
    assert not index.is_opted_out(uid, opted_at + 100)  # established after: allowed
    assert IdentityDB(env.data).counts()["unmapped:optout"] == 1
    assert (await env.run("map")).mapped == 0  # not remapped
    others = [d for d in _all_dids(env) if d != carol]
    assert all(lookup(env, env.fake.current_uid(d)) for d in others)


async def test_remap_that_says_optout_removes_the_user(make_env: Callable[..., Env]) -> None:
    env = make_env(api="v3")
    env.load(users(4))
    await env.run("map")
    dave = did("phone", "+15550000001")
    uid = env.fake.current_uid(dave)
    env.fake.opt_out(dave)
    env.clock.advance(400 * DAY)  # every r has passed
    report = await env.run("rotate")
    assert report.unmapped == {"optout": 1}
    assert lookup(env, uid) == []
    assert OptOutIndex(env.data).is_opted_out(uid, env.clock() - 1)


async def test_loading_more_rows_for_a_mapped_user_serves_them_at_once(make_env: Callable[..., Env]) -> None:
    env = make_env()
    env.load(users(2))
    await env.run("map")
    erin = did("email", "user.0@example.com")
    report = env.load([{"kind": "email", "key": " USER.0@example.com ", "segments": ["travel"]}],
                      name="more.jsonl")
    assert (report.dii_rows, report.dii_new) == (1, 0)
    assert lookup(env, env.fake.current_uid(erin)) == ["auto", "travel"]


def _all_dids(env: Env) -> list[str]:
    db = IdentityDB(env.data)
    try:
        return [did for (did,) in db._conn.execute("SELECT did FROM dii")]
    finally:
        db.close()
