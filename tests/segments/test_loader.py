import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from segments.loader import encode, load
from segments.store import SnapshotDir, SQLiteStore, schema
from tests.helpers import TAXONOMY, write_jsonl


@pytest.fixture
def tax(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "taxonomy.jsonl", TAXONOMY)


def test_load_is_idempotent(tmp_path: Path, tax: Path) -> None:
    mem = write_jsonl(tmp_path / "m.jsonl", [
        {"kind": "uid2", "key": "u1", "segments": ["sports", "cars"]},
        {"kind": "uid2", "key": "u1", "segments": ["football"]},
        {"kind": "url", "key": "example.com/a", "segments": "sports"},
    ])
    data = tmp_path / "data"
    first = load(data, [mem], [tax])
    second = load(data, [mem], [tax])
    assert (first.version, second.version) == (1, 2)
    assert first.keys == second.keys == 2
    store = SQLiteStore(data)
    assert store.lookup(["uid2:u1"], 0).hits == {"uid2:u1": ["cars", "football", "sports"]}
    assert store.info.members == 2


def test_merge_adds_and_replace_starts_empty(tmp_path: Path, tax: Path) -> None:
    data = tmp_path / "data"
    load(data, [write_jsonl(tmp_path / "a.jsonl", [{"kind": "uid2", "key": "a", "segments": ["sports"]}])],
         [tax])
    load(data, [write_jsonl(tmp_path / "b.jsonl", [{"kind": "uid2", "key": "b", "segments": ["cars"]}])])
    assert set(SQLiteStore(data).lookup(["uid2:a", "uid2:b"], 0).hits) == {"uid2:a", "uid2:b"}
    load(data, [tmp_path / "b.jsonl"], mode="replace")
    store = SQLiteStore(data)
    assert set(store.lookup(["uid2:a", "uid2:b"], 0).hits) == {"uid2:b"}
    assert "sports" in store.taxonomy, "replace without taxonomy files keeps the taxonomy"


def test_rejections_name_file_and_line(tmp_path: Path, tax: Path) -> None:
    mem = write_jsonl(tmp_path / "m.jsonl", [
        {"kind": "uid2", "key": "ok", "segments": ["sports"]},
        {"kind": "uid2", "key": "x", "segments": ["no_such_segment"]},
        {"kind": "ip", "key": "999.1.1.1", "segments": ["sports"]},
    ])
    report = load(tmp_path / "data", [mem], [tax])
    assert report.rows == 1
    assert [(r.path, r.line) for r in report.rejected] == [(str(mem), 2), (str(mem), 3)]
    assert "unknown segment" in report.rejected[0].reason


def test_failed_load_leaves_old_snapshot_serving(tmp_path: Path, tax: Path) -> None:
    data = tmp_path / "data"
    load(data, [write_jsonl(tmp_path / "a.jsonl", [{"kind": "uid2", "key": "a", "segments": ["sports"]}])],
         [tax])
    rows = [{"kind": "uid2", "key": f"n{i}", "segments": ["cars"]} for i in range(120_000)]

    def boom(n: int) -> None:
        raise KeyboardInterrupt  # a Ctrl-C in the middle of staging

    with pytest.raises(KeyboardInterrupt):
        load(data, [write_jsonl(tmp_path / "big.jsonl", rows)], progress=boom, mode="replace")
    store = SQLiteStore(data)
    assert store.info.version == 1
    assert store.lookup(["uid2:a", "uid2:n1"], 0).hits == {"uid2:a": ["sports"]}
    assert not list(SnapshotDir(data).root.glob("*.tmp"))


def test_kill_9_mid_load_leaves_old_snapshot_serving(tmp_path: Path, tax: Path) -> None:
    data = tmp_path / "data"
    load(data, [write_jsonl(tmp_path / "a.jsonl", [{"kind": "uid2", "key": "a", "segments": ["sports"]}])],
         [tax])
    big = write_jsonl(tmp_path / "big.jsonl",
                      ({"kind": "uid2", "key": f"n{i}", "segments": ["cars"]} for i in range(400_000)))
    code = ("import sys; from pathlib import Path; from segments.loader import load; "
            "load(Path(sys.argv[1]), [Path(sys.argv[2])], mode='replace')")
    proc = subprocess.Popen([sys.executable, "-c", code, str(data), str(big)])
    root = SnapshotDir(data).root
    deadline = time.monotonic() + 30
    while not list(root.glob("*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list(root.glob("*.tmp")), "the load never started staging"
    time.sleep(0.3)
    assert proc.poll() is None and list(root.glob("*.tmp")), "the load was over before the kill: not mid-load"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    store = SQLiteStore(data)
    assert store.info.version == 1
    assert store.lookup(["uid2:a"], 0).hits == {"uid2:a": ["sports"]}
    # The next load cleans up nothing it should not and publishes normally.
    assert load(data, [tmp_path / "a.jsonl"]).version == 2


@pytest.mark.parametrize(("segments", "expires"), [
    pytest.param(("sports",), None, id="one"),
    pytest.param(("sports", "cars", "football"), None, id="unsorted"),
    pytest.param(("sports", "cars"), 1900000000, id="expiring"),
    pytest.param(("b", "a", "é", "Z"), 5, id="non-ascii"),
])
def test_row_encoding_matches_the_schema(segments: tuple[str, ...], expires: int | None) -> None:
    assert encode(segments, expires) == schema.encode(dict.fromkeys(segments, expires))


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_a_key_repeated_in_a_file_merges_in_file_order(tmp_path: Path, tax: Path, mode: str) -> None:
    rows = [{"kind": "uid2", "key": f"k{i}", "segments": ["cars"]} for i in range(5)]
    rows[1:1] = [{"kind": "uid2", "key": "dup", "segments": ["sports"], "expires": 2_000_000_000},
                 {"kind": "uid2", "key": "dup", "segments": ["sports", "cars"], "expires": 1_900_000_000}]
    report = load(tmp_path / "data", [write_jsonl(tmp_path / "m.jsonl", rows)], [tax], mode=mode)  # type: ignore[arg-type]
    assert (report.rows, report.keys) == (7, 6)
    store = SQLiteStore(tmp_path / "data")
    assert store.info.members == 6
    assert store.lookup(["uid2:dup"], 1_950_000_000).hits == {}, "the later row's expiry wins"
    assert store.lookup(["uid2:dup"], 0).hits == {"uid2:dup": ["cars", "sports"]}


def test_merge_into_existing_keys_counts_loaded_keys(tmp_path: Path, tax: Path) -> None:
    data = tmp_path / "data"
    first = [{"kind": "uid2", "key": "a", "segments": ["sports"]},
             {"kind": "uid2", "key": "b", "segments": ["sports"]}]
    load(data, [write_jsonl(tmp_path / "a.jsonl", first)], [tax])
    second = [{"kind": "uid2", "key": "b", "segments": ["cars"]},
              {"kind": "uid2", "key": "b", "segments": ["football"]},
              {"kind": "uid2", "key": "c", "segments": ["cars"]}]
    report = load(data, [write_jsonl(tmp_path / "b.jsonl", second)])
    assert (report.rows, report.keys) == (3, 2)
    store = SQLiteStore(data)
    assert store.info.members == 3
    assert store.lookup(["uid2:b"], 0).hits == {"uid2:b": ["cars", "football", "sports"]}


def test_replace_builds_a_fresh_file_keeping_taxonomy_and_extra_tables(tmp_path: Path, tax: Path) -> None:
    data = tmp_path / "data"
    load(data, [write_jsonl(tmp_path / "a.jsonl", [{"kind": "uid2", "key": "a", "segments": ["sports"],
                                                   "xandr_id": "123"}])], [tax])
    current = SnapshotDir(data).current_path()
    assert current is not None
    with sqlite3.connect(current) as conn:
        conn.execute("CREATE TABLE newer (x TEXT)")
        conn.execute("INSERT INTO newer VALUES ('kept')")
        conn.execute("INSERT INTO classifying VALUES ('url:example.com')")
    rows = [{"kind": "uid2", "key": "b", "segments": ["cars"]}]
    report = load(data, [write_jsonl(tmp_path / "b.jsonl", rows)], mode="replace")
    conn = sqlite3.connect(report.path)
    try:
        assert conn.execute("SELECT x FROM newer").fetchall() == [("kept",)]
        assert conn.execute("SELECT count(*) FROM classifying").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM links").fetchone() == (0,)
        assert conn.execute("SELECT key FROM members").fetchall() == [("uid2:b",)]
        assert conn.execute("SELECT count(*) FROM segments").fetchone()[0] == len(TAXONOMY)
    finally:
        conn.close()
