"""Shared test helpers: build a real data dir, a real store and a real app around them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from segments.loader import load
from server.config import Settings, load_settings

DATA = Path(__file__).parent / "data"

TAXONOMY = [
    {"id": "sports", "name": "Sports", "ttl_seconds": 3600, "deal_ids": ["D-SPORTS"]},
    {"id": "football", "name": "Football", "ttl_seconds": 600},
    {"id": "cars", "name": "Cars", "xandr": {"seg_id": 101, "expiration": 1440}},
    {"id": "kids_apps", "name": "Kids apps", "ttl_seconds": 7200},
    {"id": "geo_nyc", "name": "NYC"},
    {"id": "net_office", "name": "Office network"},
    {"id": "uid2_auto", "name": "Auto intenders (uid2)", "deal_ids": ["D-AUTO", "D-SPORTS"]},
    {"id": "ramp", "name": "RampID audience"},
    {"id": "ifa_gamers", "name": "Gamers (ifa)", "xandr": {"seg_code": "gamers", "member_id": 958}},
    {"id": "pending", "name": "Still classifying", "classifying": True},
]


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def build_data_dir(tmp: Path, memberships: Iterable[Mapping[str, Any]],
                   taxonomy: list[dict[str, Any]] | None = None) -> Path:
    data_dir = tmp / "data"
    tax = write_jsonl(tmp / "taxonomy.jsonl", TAXONOMY if taxonomy is None else taxonomy)
    mem = write_jsonl(tmp / "members.jsonl", memberships)
    report = load(data_dir, [mem], [tax], mode="replace")
    assert not report.rejected, report.rejected
    return data_dir


def settings_for(data_dir: Path, **sections: Mapping[str, Any]) -> Settings:
    overrides: dict[str, Mapping[str, Any]] = {
        # prewarm swaps new snapshots in from a thread; tests/segments/store/test_sqlite.py covers it.
        "store": {"data_dir": str(data_dir), "check_interval_seconds": 0.0, "prewarm": False},
        # Endpoint tests are about the endpoints; tests/server/test_app_auth.py is about auth on them.
        "auth": {"rtd_enabled": False, "segments_enabled": False, "admin_enabled": False},
    }
    overrides.update(sections)
    # gc.freeze is process-wide: only tests/server/test_runtime.py asks for it.
    overrides["server"] = {"gc_freeze": False, **sections.get("server", {})}
    return load_settings(env={}, overrides=overrides)


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text())
