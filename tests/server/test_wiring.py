import asyncio
from pathlib import Path

from segments.loader import load
from server.wiring import build_services, store_upkeep
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
