"""server.runtime: the startup heap leaves the collector's reach, and an app start applies it."""

from __future__ import annotations

import gc
from pathlib import Path

from starlette.testclient import TestClient

from server.app import create_app
from server.runtime import freeze_startup_heap
from tests.helpers import build_data_dir, settings_for


def test_freeze_moves_live_objects_to_the_permanent_generation() -> None:
    survivors = [[i] for i in range(1000)]
    frozen = freeze_startup_heap()
    assert frozen >= len(survivors) and gc.get_freeze_count() == frozen


def test_app_startup_freezes_unless_configured_off(tmp_path: Path) -> None:
    data_dir = build_data_dir(tmp_path, [{"kind": "uid2", "key": "u1", "segments": ["sports"]}])
    for enabled in (True, False):
        gc.unfreeze()
        with TestClient(create_app(settings_for(data_dir, server={"gc_freeze": enabled}))):
            assert (gc.get_freeze_count() > 0) is enabled
