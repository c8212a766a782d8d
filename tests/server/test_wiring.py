import asyncio
from pathlib import Path

import orjson
import pytest

from segments.loader import load
from segments.store import StoreWriter
from server.rtd import RtdEndpoint
from server.wiring import UPKEEP_TICK, build_services, store_upkeep, upkeep_interval
from tests.helpers import build_data_dir, settings_for, write_jsonl


def test_store_upkeep_follows_a_publish_without_any_request(tmp_path: Path) -> None:
    """An idle worker still renews its read snapshot and adopts a new snapshot."""
    data_dir = build_data_dir(tmp_path, [{"kind": "uid2", "key": "u1", "segments": ["cars"]}])
    svc = build_services(settings_for(data_dir))
    assert svc.store.info.version == 1
    load(data_dir, [write_jsonl(tmp_path / "n.jsonl", [{"kind": "uid2", "key": "u2", "segments": ["cars"]}])])

    async def run() -> int:
        task = asyncio.create_task(store_upkeep(svc, 0.01))
        try:
            for _ in range(500):
                if svc.store.info.version == 2:
                    break
                await asyncio.sleep(0.01)
        finally:
            task.cancel()
        return svc.store.info.version

    try:
        assert asyncio.run(run()) == 2
        assert svc.store.lookup(["uid2:u2"], 0).hits == {"uid2:u2": ["cars"]}
    finally:
        svc.store.close()


def test_requests_never_reload_the_store(tmp_path: Path) -> None:
    """A live edit is served once the store's check runs (the upkeep task's job), not by a request."""
    data_dir = build_data_dir(tmp_path, [{"kind": "url", "key": "example.com/a", "segments": ["cars"]}])
    svc = build_services(settings_for(data_dir))  # check_interval_seconds = 0: any check would reload
    endpoint = RtdEndpoint(svc)
    body = {"site": {"page": "https://example.com/b"}}
    try:
        assert orjson.loads(endpoint.handle(body))["segment_ids"] == []  # the store now holds a read snapshot
        StoreWriter(data_dir).upsert_memberships([("url:example.com/b", {"cars": None})])
        assert orjson.loads(endpoint.handle(body))["segment_ids"] == []
        assert svc.store.maybe_reload()
        assert orjson.loads(endpoint.handle(body))["segment_ids"] == ["cars"]
    finally:
        svc.store.close()


@pytest.mark.parametrize(("check_interval", "tick"), [
    pytest.param(0.0, 0.05, id="every-request-in-tests"),
    pytest.param(0.1, 0.1, id="short"),
    pytest.param(1.0, UPKEEP_TICK, id="default"),
    pytest.param(60.0, UPKEEP_TICK, id="long"),
])
def test_upkeep_ticks_often_enough_to_follow_the_check_interval(check_interval: float, tick: float) -> None:
    assert upkeep_interval(check_interval) == tick
