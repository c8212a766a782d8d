"""Header/size checks, resolving CURRENT with fallback, version numbers and stale temp files."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from segments.loader import load
from segments.store import NoSnapshot, SnapshotDir, SQLiteStore, StoreError
from segments.store.integrity import DamagedSnapshot, MissingSnapshot, check_header, verify
from tests.helpers import TAXONOMY, build_data_dir, write_jsonl


@pytest.fixture
def data(tmp_path: Path) -> Path:
    tax = write_jsonl(tmp_path / "taxonomy.jsonl", TAXONOMY)
    rows = [{"kind": "uid2", "key": f"u{i}", "segments": ["sports"]} for i in range(2000)]
    load(tmp_path / "data", [write_jsonl(tmp_path / "a.jsonl", rows)], [tax], mode="replace")
    load(tmp_path / "data", [write_jsonl(tmp_path / "b.jsonl", rows[:10])], mode="replace")
    return tmp_path / "data"


def snap(data: Path, version: int) -> Path:
    return data / "store" / f"snap-{version:08d}.sqlite"


def _flip_a_page(path: Path) -> None:
    """Random bytes over one b-tree page in the middle: the size is right, the structure is not."""
    with open(path, "r+b") as fh:
        fh.seek(4096 * 3)
        fh.write(os.urandom(4096))


@pytest.mark.parametrize(("damage", "reason"), [
    pytest.param(lambda p: os.truncate(p, 4096 + 100), "truncated", id="truncated-mid-page"),
    pytest.param(lambda p: os.truncate(p, 8192), "truncated", id="truncated-at-a-page"),
    pytest.param(lambda p: os.truncate(p, 0), "not an SQLite database", id="empty"),
    pytest.param(lambda p: p.write_bytes(os.urandom(50_000)), "not an SQLite database", id="random-bytes"),
    pytest.param(_flip_a_page, "quick_check", id="garbled-page"),
])
def test_damage_is_detected_and_names_the_file(data: Path, damage: Callable[[Path], None],
                                               reason: str) -> None:
    path = snap(data, 1)
    verify(path)
    damage(path)
    with pytest.raises(DamagedSnapshot) as err:
        verify(path)
    assert str(path) in str(err.value)
    assert reason in str(err.value) or "malformed" in str(err.value)


def test_check_header_returns_the_size(data: Path) -> None:
    assert check_header(snap(data, 2)) == snap(data, 2).stat().st_size


def test_resolve_prefers_current_and_falls_back_to_the_newest_good(data: Path) -> None:
    snapdir = SnapshotDir(data)
    assert snapdir.resolve().path == snap(data, 2) and snapdir.resolve().problem is None
    os.truncate(snap(data, 2), 5000)
    resolved = snapdir.resolve()
    assert resolved.path == snap(data, 1)
    assert resolved.problem is not None and str(snap(data, 2)) in resolved.problem
    with pytest.raises(DamagedSnapshot, match=str(snap(data, 2))):
        snapdir.resolve(fallback=False)


def test_resolve_missing_snapshot(data: Path) -> None:
    snap(data, 2).unlink()
    snapdir = SnapshotDir(data)
    assert snapdir.resolve().path == snap(data, 1)
    with pytest.raises(MissingSnapshot, match="which does not exist"):
        snapdir.resolve(fallback=False)
    snap(data, 1).write_bytes(b"junk")
    with pytest.raises(StoreError, match="no valid snapshot to fall back to"):
        snapdir.resolve()


def test_ensure_never_writes_when_current_names_a_missing_file(data: Path) -> None:
    snapdir = SnapshotDir(data)
    snap(data, 1).unlink()
    (data / "store" / "CURRENT").write_text(snap(data, 1).name)
    before = snap(data, 2).read_bytes()
    assert snapdir.ensure() is None
    assert not snap(data, 1).exists() and snap(data, 2).read_bytes() == before


def test_ensure_in_a_brand_new_dir(tmp_path: Path) -> None:
    snapdir = SnapshotDir(tmp_path / "fresh")
    with pytest.raises(NoSnapshot):
        snapdir.resolve()
    assert snapdir.ensure() == snap(tmp_path / "fresh", 1)
    assert snapdir.ensure() is None


def test_next_version_is_above_every_file_on_disk(data: Path) -> None:
    (data / "store" / "CURRENT").write_text(snap(data, 1).name)
    assert SnapshotDir(data).next_version() == 3
    (data / "store" / "CURRENT").write_text("snap-00000009.sqlite")
    assert SnapshotDir(data).next_version() == 10


def test_stale_temp_files_go_unless_a_writer_holds_the_lock(data: Path) -> None:
    snapdir = SnapshotDir(data)
    stale = [data / "store" / "snap-00000003.999.tmp", data / "store" / ".CURRENT.999"]
    for path in stale:
        path.write_bytes(b"x")
    with snapdir.write_lock():  # a live loader
        assert snapdir.clean_stale_if_idle() == []
        assert all(p.exists() for p in stale)
    assert sorted(snapdir.clean_stale_if_idle()) == sorted(stale)
    assert not any(p.exists() for p in stale)


def _posix_locks_held_on(path: str) -> list[str]:
    """This process's POSIX locks on ``path`` (Linux ``/proc/locks``: SQLite's SHARED byte range)."""
    inode = os.stat(path).st_ino
    with open("/proc/locks") as locks:
        return [line for line in locks if f":{inode} " in line and f" {os.getpid()} " in line]


def test_checking_the_serving_file_keeps_its_readers_locks(tmp_path: Path) -> None:
    """What a live edit in a worker does: check the serving file, then another process edits it.

    Closing a descriptor of the file drops every POSIX lock this process holds on it, SQLite's
    SHARED lock included; the other process could then checkpoint and delete the WAL on close,
    and this reader would stop seeing edits (the auth database had exactly that bug).
    """
    data = build_data_dir(tmp_path, [{"kind": "url", "key": "example.com/a", "segments": ["sports"]}])
    store = SQLiteStore(data, check_interval=0.0)
    assert store.lookup(["url:example.com/b"], 0).hits == {}
    held = _posix_locks_held_on(store.info.path)
    assert held, "the reader holds SQLite's SHARED lock on the snapshot"
    for _ in range(2):
        check_header(Path(store.info.path))
    assert _posix_locks_held_on(store.info.path) == held
    edit = ("import sys; from segments.store import StoreWriter; "
            "StoreWriter(sys.argv[1]).upsert_memberships([('url:example.com/b', {'cars': None})])")
    subprocess.run([sys.executable, "-c", edit, str(data)], check=True, cwd=Path(__file__).parents[3])
    store.maybe_reload()
    assert store.lookup(["url:example.com/b"], 0).hits == {"url:example.com/b": ["cars"]}
