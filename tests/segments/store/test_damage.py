"""SQLiteStore on a damaged snapshot: lookups never raise, answer empty and count; the store
goes back to the last good snapshot and says so in ``health()``; reloads never raise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from segments.loader import load
from segments.store import SQLiteStore, StoreError
from tests.helpers import TAXONOMY, write_jsonl

KEY = "uid2:u7"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    tax = write_jsonl(tmp_path / "taxonomy.jsonl", TAXONOMY)
    rows = [{"kind": "uid2", "key": f"u{i}", "segments": ["sports"]} for i in range(5000)]
    load(tmp_path / "data", [write_jsonl(tmp_path / "a.jsonl", rows)], [tax], mode="replace")
    rows = [{"kind": "uid2", "key": f"u{i}", "segments": ["cars"]} for i in range(5000)]
    load(tmp_path / "data", [write_jsonl(tmp_path / "b.jsonl", rows)], mode="replace")
    return tmp_path / "data"


def snap(data: Path, version: int) -> Path:
    return data / "store" / f"snap-{version:08d}.sqlite"


MODES = [pytest.param(False, id="pread"), pytest.param(True, id="mmap")]


@pytest.mark.parametrize("mmap", MODES)
def test_truncated_while_open(data: Path, mmap: bool) -> None:
    store = SQLiteStore(data, check_interval=0.0, mmap=mmap)
    assert store.lookup([KEY], 0).hits == {KEY: ["cars"]}
    os.truncate(snap(data, 2), 8192)
    # A page past the new end: with mmap the size check refuses to read (never a SIGBUS); with
    # pread SQLite answers from its private page cache or gets a short read. Never an exception.
    first = store.lookup(["uid2:u4999", KEY], 0)
    if mmap:
        assert first.failed and not first.hits
    else:
        assert first.failed or first.hits == {"uid2:u4999": ["cars"], KEY: ["cars"]}
    store.maybe_reload()
    health = store.health()
    assert health.state == "degraded" and str(snap(data, 2)) in health.detail
    assert health.path == str(snap(data, 1)) and health.lookup_failures == int(first.failed)
    assert store.lookup([KEY], 0).hits == {KEY: ["sports"]}


def test_truncation_noticed_by_the_periodic_check_without_a_read(data: Path) -> None:
    store = SQLiteStore(data, check_interval=0.0)
    os.truncate(snap(data, 2), 8192)
    store.maybe_reload()
    assert store.health().state == "degraded"
    assert store.lookup([KEY], 0).hits == {KEY: ["sports"]}


def test_garbage_published_through_current_keeps_serving(data: Path) -> None:
    store = SQLiteStore(data, check_interval=0.0)
    bad = snap(data, 3)
    bad.write_bytes(os.urandom(40_000))
    (data / "store" / "CURRENT").write_text(bad.name)
    assert store.reload() is True  # falls back: re-opens the newest good one
    assert store.health().state == "degraded" and str(bad) in store.health().detail
    assert store.lookup([KEY], 0).hits == {KEY: ["cars"]}
    assert store.maybe_reload() is False  # the bad file is not re-checked every interval


def test_without_fallback_a_bad_publish_leaves_the_current_one_serving(data: Path) -> None:
    store = SQLiteStore(data, check_interval=0.0, fallback=False)
    bad = snap(data, 3)
    bad.write_bytes(b"SQLite format 3\0" + os.urandom(4000))
    (data / "store" / "CURRENT").write_text(bad.name)
    assert store.reload() is False
    health = store.health()
    assert health.state == "degraded" and str(bad) in health.detail and "still serving" in health.detail
    assert store.lookup([KEY], 0).hits == {KEY: ["cars"]}


def test_nothing_good_left_answers_empty_and_recovers_on_the_next_publish(data: Path, tmp_path: Path) -> None:
    store = SQLiteStore(data, check_interval=0.0)
    os.truncate(snap(data, 1), 100)
    os.truncate(snap(data, 2), 100)
    assert store.lookup(["uid2:u4999"], 0).failed
    store.maybe_reload()
    assert store.health().state == "failed"
    assert store.lookup([KEY], 0).failed
    load(data, [write_jsonl(tmp_path / "c.jsonl", [{"kind": "uid2", "key": "u7", "segments": ["ramp"]}])],
         [write_jsonl(tmp_path / "t.jsonl", TAXONOMY)], mode="replace")
    store.maybe_reload()
    assert store.health().state == "ok"
    assert store.lookup([KEY], 0).hits == {KEY: ["ramp"]}


def test_start_without_any_good_snapshot_names_the_file(data: Path) -> None:
    snap(data, 1).write_bytes(b"no")
    snap(data, 2).write_bytes(b"no")
    with pytest.raises(StoreError, match=str(snap(data, 2))):
        SQLiteStore(data)


def test_live_edits_refuse_a_damaged_snapshot_naming_it(data: Path) -> None:
    from segments.store import StoreWriter
    from segments.store.integrity import DamagedSnapshot

    writer = StoreWriter(data)
    writer.upsert_memberships([("uid2:new", {"sports": None})])  # a healthy one takes edits
    _garble_tail(snap(data, 2))
    with pytest.raises(DamagedSnapshot, match=str(snap(data, 2))):
        writer.upsert_memberships([("uid2:x", {"sports": None})])
    os.truncate(snap(data, 2), 5000)
    with pytest.raises(DamagedSnapshot, match="truncated"):
        writer.upsert_memberships([("uid2:x", {"sports": None})])


def _garble_tail(path: Path) -> None:
    """Every page but the first (the header stays valid, the b-trees do not)."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(4096)
        fh.write(os.urandom(size - 4096))
