from __future__ import annotations

import asyncio
import random

import pytest
from conftest import REFERENCE_NOW, SECRET, VECTORS
from fakes.uid2_operator import FakeUID2Operator, Fault

from server.uid2 import (
    BidstreamDecryptor,
    DecryptionStatus,
    KeyRefresher,
    OperatorClient,
    Readiness,
    UID2Settings,
)

pytestmark = pytest.mark.anyio
KEYS = {"/v2/key/bidstream": VECTORS["key_sets"]["bidstream"]}
TOKEN = next(v for v in VECTORS["tokens"] if v["name"] == "valid_v4_uid2_email_v3")


class Clock:
    def __init__(self) -> None:
        self.now = REFERENCE_NOW
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def _refresher(fake: FakeUID2Operator, clock: Clock) -> tuple[KeyRefresher, OperatorClient]:
    client = OperatorClient(
        "https://operator.test",
        fake.api_key,
        SECRET,
        transport=fake.transport(),
        total_timeout=0.05,
        clock=clock,
    )
    refresher = KeyRefresher(
        lambda: client.fetch_keys(),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(4),
        on_close=client.aclose,
    )
    return refresher, client


@pytest.mark.parametrize("fault", [pytest.param(f, id=f.value) for f in Fault])
async def test_last_good_keys_keep_serving_through_each_fault(fault: Fault) -> None:
    clock = Clock()
    fake = FakeUID2Operator(secret=SECRET, keys=KEYS, clock=clock, slow_seconds=1.0)
    refresher, _ = _refresher(fake, clock)
    decryptor = BidstreamDecryptor(refresher, clock=clock)
    assert await refresher.refresh_now()
    good = refresher.snapshot
    fake.inject(fault)
    assert not await refresher.refresh_now()
    assert refresher.snapshot is good
    assert decryptor.decrypt(TOKEN["token"]).uid == TOKEN["raw_uid"]
    state = refresher.ops_state()
    assert (state["state"], state["count"], state["failure_count"]) == ("READY", 7, 1)
    assert await refresher.refresh_now() and refresher.consecutive_failures == 0
    await refresher.stop()


async def test_not_initialized_until_first_success_then_backoff_then_hourly() -> None:
    clock = Clock()
    fake = FakeUID2Operator(secret=SECRET, keys=KEYS, clock=clock)
    fake.inject(Fault.SERVER_ERROR, Fault.RATE_LIMITED, Fault.UNAUTHORIZED)
    refresher, _ = _refresher(fake, clock)
    decryptor = BidstreamDecryptor(refresher, clock=clock)
    await refresher.start()
    assert refresher.readiness() is Readiness.NOT_INITIALIZED
    assert decryptor.decrypt(TOKEN["token"]).status is DecryptionStatus.NOT_INITIALIZED
    for _ in range(50):
        if len(clock.sleeps) >= 4:
            break
        await asyncio.sleep(0)
    await refresher.stop()
    backoffs, hourly = clock.sleeps[:3], clock.sleeps[3]
    assert all(0 < b <= 4 for b in backoffs) and backoffs[2] > backoffs[0] / 2
    assert 3600 - 300 <= hourly <= 3600 + 300
    assert refresher.readiness() is Readiness.READY
    assert [status for _, status in fake.requests] == [500, 429, 401, 200]


async def test_keys_not_synced_when_every_key_has_expired() -> None:
    clock = Clock()
    fake = FakeUID2Operator(secret=SECRET, keys=KEYS, clock=clock)
    refresher, _ = _refresher(fake, clock)
    await refresher.refresh_now()
    newest = refresher.snapshot.newest_expiry  # type: ignore[union-attr]
    assert refresher.readiness(newest - 1) is Readiness.READY  # type: ignore[operator]
    assert refresher.readiness(newest) is Readiness.KEYS_NOT_SYNCED
    assert refresher.ops_state(newest)["state"] == "KEYS_NOT_SYNCED"
    await refresher.stop()


async def test_from_settings_builds_a_working_refresher() -> None:
    import base64

    settings = UID2Settings(
        enabled=True,
        base_url="https://operator.test",
        api_key="fake-api-key",
        secret=base64.b64encode(SECRET).decode(),
    )
    fake = FakeUID2Operator(secret=SECRET, keys=KEYS)
    refresher = KeyRefresher.from_settings(settings, transport=fake.transport())
    await refresher.start()
    assert refresher.readiness(REFERENCE_NOW) is Readiness.READY
    assert refresher.ops_state()["next_refresh"] is not None
    await refresher.stop()
    assert refresher.ops_state()["next_refresh"] is None
