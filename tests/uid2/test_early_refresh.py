"""Early key refresh when a token names a key id we do not hold (issue 26 item 13).

The fake operator "rotates": it first serves the bidstream key set without master key 101, then
with it. A token on key 101 fails NOT_AUTHORIZED_FOR_MASTER_KEY, which wakes the refresher's
background task; it fetches at once (not at the next hourly refresh) and the same token then
decrypts. Rate limits: once per interval per worker; across workers via the stamp file in the
data dir. Nothing waits on the request path: decrypt returns at once, the fetch happens after.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
from conftest import REFERENCE_NOW, SECRET, VECTORS
from fakes.uid2_operator import FakeUID2Operator
from prometheus_client import REGISTRY

from server.uid2 import BidstreamDecryptor, DecryptionStatus, KeyRefresher, OperatorClient, parse_key_response

pytestmark = pytest.mark.anyio
PATH = "/v2/key/bidstream"
FULL = VECTORS["key_sets"]["bidstream"]
TOKEN = next(v for v in VECTORS["tokens"] if v["name"] == "valid_v4_uid2_email_v3")  # master 101, site 301
NEW_MASTER = TOKEN["master_key_id"]
UNKNOWN_V4 = next(v for v in VECTORS["tokens"] if v["name"] == "unknown_master_key_v4")


def _without(key_id: int) -> dict[str, Any]:
    document = copy.deepcopy(FULL)
    document["body"]["keys"] = [k for k in document["body"]["keys"] if k["id"] != key_id]
    return document


class Clock:
    def __init__(self) -> None:
        self.now = REFERENCE_NOW

    def __call__(self) -> float:
        return self.now


def _fetches(fake: FakeUID2Operator) -> int:
    return sum(1 for path, status in fake.requests if path == PATH and status == 200)


def _counted(result: str) -> float:
    return REGISTRY.get_sample_value("segserver_uid2_early_refreshes_total",
                                     {"scope": "UID2", "result": result}) or 0


def _refresher(fake: FakeUID2Operator, clock: Clock, stamp_dir: Path | None = None) -> KeyRefresher:
    client = OperatorClient("https://operator.test", fake.api_key, SECRET, transport=fake.transport(),
                            clock=clock)
    # interval 3600 s of real asyncio.sleep: the scheduled refresh never runs during a test.
    return KeyRefresher(client.fetch_keys, clock=clock, interval=3600, jitter=0, on_close=client.aclose,
                        stamp_dir=stamp_dir)


async def _until(condition: Any) -> None:
    for _ in range(2000):  # a generous deadline, not a timing assertion
        if condition():
            return
        await asyncio.sleep(0.005)
    pytest.fail("condition not reached")


async def test_rotation_is_picked_up_without_waiting_for_the_hourly_refresh() -> None:
    clock = Clock()
    fake = FakeUID2Operator(secret=SECRET, keys={PATH: _without(NEW_MASTER)}, clock=clock)
    refresher = _refresher(fake, clock)
    decryptor = BidstreamDecryptor(refresher, clock=clock)
    await refresher.start()
    refreshed_before = _counted("refreshed")
    try:
        assert decryptor.decrypt(TOKEN["token"]).status is DecryptionStatus.NOT_AUTHORIZED_FOR_MASTER_KEY
        fake.set_document(PATH, FULL)  # the operator rotated: key 101 exists now
        for _ in range(50):  # a burst of tokens on the new key: still one early fetch
            decryptor.decrypt(TOKEN["token"])
        await _until(lambda: refresher.early_refresh_count == 1)
        assert decryptor.decrypt(TOKEN["token"]).uid == TOKEN["raw_uid"]
        assert _fetches(fake) == 2  # the first load and one early refresh
        assert _counted("refreshed") == refreshed_before + 1

        # A bogus key id within the interval: nothing. After it: one more fetch, still unknown.
        decryptor.decrypt(UNKNOWN_V4["token"])
        await asyncio.sleep(0.05)
        assert _fetches(fake) == 2
        clock.now += 31
        decryptor.decrypt(UNKNOWN_V4["token"])
        await _until(lambda: refresher.early_refresh_count == 2)
        assert _fetches(fake) == 3
    finally:
        await refresher.stop()


async def test_known_keys_never_call_the_hook() -> None:
    keys = parse_key_response(FULL)
    missing: list[int] = []
    keys.bind_missing_key_hook(missing.append)
    decryptor = BidstreamDecryptor(type("Source", (), {"snapshot": keys})(), clock=lambda: REFERENCE_NOW)
    for vector in VECTORS["tokens"]:
        if vector["name"].startswith("valid_"):
            decryptor.decrypt(vector["token"])
    assert missing == []
    for name, status in (("unknown_master_key_v2", "NOT_AUTHORIZED_FOR_MASTER_KEY"),
                         ("unknown_site_key_v3", "NOT_AUTHORIZED_FOR_KEY"),
                         ("unknown_master_key_v4", "NOT_AUTHORIZED_FOR_MASTER_KEY")):
        vector = next(v for v in VECTORS["tokens"] if v["name"] == name)
        assert decryptor.decrypt(vector["token"]).status.name == status
    assert len(missing) == 3 and all(kid not in keys.keys for kid in missing)


async def test_workers_share_the_rate_limit_through_the_stamp_file(tmp_path: Path) -> None:
    """A bogus id costs the operator one call per interval across workers; a real new key, one per worker."""
    clock = Clock()
    fake = FakeUID2Operator(secret=SECRET, keys={PATH: _without(NEW_MASTER)}, clock=clock)
    first, second = _refresher(fake, clock, tmp_path), _refresher(fake, clock, tmp_path)
    skipped_before = _counted("skipped")
    await first.start()
    await second.start()
    try:
        first.request_early_refresh(999)
        await _until(lambda: first.early_refresh_count == 1)
        assert (tmp_path / "uid2-early-refresh-uid2.json").exists()
        second.request_early_refresh(999)  # the sibling just looked and 999 was not there
        await _until(lambda: _counted("skipped") == skipped_before + 1)
        assert second.early_refresh_count == 0 and _fetches(fake) == 3

        fake.set_document(PATH, FULL)
        clock.now += 31
        first.request_early_refresh(NEW_MASTER)
        await _until(lambda: first.early_refresh_count == 2)
        assert first.snapshot is not None and NEW_MASTER in first.snapshot.keys
        clock.now += 31
        second.request_early_refresh(NEW_MASTER)  # the sibling got it: this worker needs it too
        await _until(lambda: second.early_refresh_count == 1)
        assert second.snapshot is not None and NEW_MASTER in second.snapshot.keys
        assert _fetches(fake) == 5
    finally:
        await first.stop()
        await second.stop()


async def test_no_signal_before_start_or_after_stop() -> None:
    clock = Clock()
    fake = FakeUID2Operator(secret=SECRET, keys={PATH: FULL}, clock=clock)
    refresher = _refresher(fake, clock)
    refresher.request_early_refresh(999)  # not started: ignored, no error
    await refresher.start()
    await refresher.stop()
    refresher.request_early_refresh(999)
    await asyncio.sleep(0.02)
    assert _fetches(fake) == 1 and refresher.early_refresh_count == 0
