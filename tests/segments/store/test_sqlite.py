import threading
from pathlib import Path

import pytest

from segments.loader import load
from segments.store import NoSnapshot, SnapshotDir, SQLiteStore, StoreWriter
from segments.taxonomy import Segment
from tests.helpers import build_data_dir, write_jsonl


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return build_data_dir(tmp_path, [
        {"kind": "uid2", "key": "u1", "segments": ["sports", "cars"]},
        {"kind": "uid2", "key": "u2", "segments": ["football"], "expires": 1000},
        {"kind": "ip", "key": "10.0.0.0/24", "segments": ["net_office"]},
        {"kind": "ip", "key": "10.9.9.9", "segments": ["net_office"]},
    ])


def test_one_query_for_many_keys_and_expiry(data: Path) -> None:
    store = SQLiteStore(data)
    result = store.lookup(["uid2:u1", "uid2:u2", "uid2:missing"], now=999)
    assert result.hits == {"uid2:u1": ["cars", "sports"], "uid2:u2": ["football"]}
    assert "uid2:u2" not in store.lookup(["uid2:u2"], now=1000).hits, "expired at its expiry second"
    assert store.ip_prefix_lengths == {24, 32}


def test_no_snapshot_is_an_error_until_ensured(tmp_path: Path) -> None:
    with pytest.raises(NoSnapshot):
        SQLiteStore(tmp_path / "empty")
    SnapshotDir(tmp_path / "empty").ensure()
    assert SQLiteStore(tmp_path / "empty").lookup(["uid2:x"], 0).hits == {}


def test_reader_follows_publish(data: Path, tmp_path: Path) -> None:
    store = SQLiteStore(data, check_interval=0.0)
    load(data, [write_jsonl(tmp_path / "n.jsonl", [{"kind": "uid2", "key": "new", "segments": ["cars"]}])])
    assert store.maybe_reload()
    assert store.info.version == 2
    assert store.lookup(["uid2:new"], 0).hits == {"uid2:new": ["cars"]}


def test_reader_follows_live_edits(data: Path) -> None:
    store = SQLiteStore(data, check_interval=0.0)
    writer = StoreWriter(data)
    writer.upsert_memberships([("uid2:u9", {"cars": None}), ("ip:192.168.0.0/16", {"net_office": None})])
    writer.upsert_segments([Segment("brand_new", "Brand new")])
    assert store.maybe_reload()
    assert store.lookup(["uid2:u9"], 0).hits == {"uid2:u9": ["cars"]}
    assert "brand_new" in store.taxonomy
    assert 16 in store.ip_prefix_lengths
    assert writer.delete_memberships("uid2:u1", ["cars"]) == ["cars"]
    assert writer.delete_memberships("uid2:u9") == ["cars"]
    store.maybe_reload()
    assert store.lookup(["uid2:u1", "uid2:u9"], 0).hits == {"uid2:u1": ["sports"]}


def test_lookups_read_one_snapshot_until_the_next_check(data: Path) -> None:
    """Lookups share a held read transaction: an edit shows at the next check, never half-way."""
    store = SQLiteStore(data, check_interval=3600.0)
    store.lookup(["uid2:u1"], 0)  # the held transaction's snapshot starts here
    StoreWriter(data).upsert_memberships([("uid2:u9", {"cars": None})])  # a writer is never blocked
    assert store.lookup(["uid2:u9"], 0).hits == {}
    assert store.reload()  # what the interval (or /admin/reload) does
    assert store.lookup(["uid2:u9"], 0).hits == {"uid2:u9": ["cars"]}


def test_rekey_is_atomic_and_can_keep_an_alias(data: Path) -> None:
    writer = StoreWriter(data)
    assert writer.rekey([("uid2:u1", "uid2:v1")], keep_old=True) == 1
    store = SQLiteStore(data)
    assert store.lookup(["uid2:u1", "uid2:v1"], 0).hits == {"uid2:u1": ["cars", "sports"],
                                                            "uid2:v1": ["cars", "sports"]}
    writer.rekey([("uid2:u1", "uid2:v1")])
    store.maybe_reload()
    assert store.lookup(["uid2:u1", "uid2:v1"], 0).hits == {"uid2:v1": ["cars", "sports"]}


def test_readers_never_see_half_a_load(data: Path, tmp_path: Path) -> None:
    """Every lookup during a replace-load sees the whole old set of keys or the whole new one."""
    old_keys = ["uid2:u1", "ip:10.0.0.0/24"]
    new_rows = [{"kind": "uid2", "key": f"n{i}", "segments": ["cars"]} for i in range(30_000)]
    new_keys = ["uid2:n0", "uid2:n29999"]
    big = write_jsonl(tmp_path / "big.jsonl", new_rows)
    store = SQLiteStore(data, check_interval=0.0)
    seen: set[frozenset[str]] = set()
    done = threading.Event()
    thread = threading.Thread(target=lambda: (load(data, [big], mode="replace"), done.set()))
    thread.start()
    while not done.is_set():
        store.maybe_reload()
        seen.add(frozenset(store.lookup(old_keys + new_keys, 0).hits))
    thread.join()
    store.maybe_reload()
    seen.add(frozenset(store.lookup(old_keys + new_keys, 0).hits))
    assert seen <= {frozenset(old_keys), frozenset(new_keys)}
    assert frozenset(new_keys) in seen


def test_classifying_keys_are_reported(data: Path) -> None:
    StoreWriter(data).set_classifying(["url:example.com/new"])
    result = SQLiteStore(data).lookup(["url:example.com/new", "uid2:u1"], 0)
    assert result.classifying == {"url:example.com/new"}
    assert "uid2:u1" in result.hits


def test_old_snapshots_are_pruned(data: Path, tmp_path: Path) -> None:
    mem = write_jsonl(tmp_path / "n.jsonl", [{"kind": "uid2", "key": "x", "segments": ["cars"]}])
    for _ in range(4):
        load(data, [mem])
    assert len(list(SnapshotDir(data).root.glob("snap-*.sqlite"))) == 2


def test_links_are_returned_only_when_asked_and_follow_rekey(tmp_path: Path) -> None:
    data = build_data_dir(tmp_path, [
        {"kind": "uid2", "key": "u1", "segments": ["cars"], "xandr_id": "111"},
        {"kind": "uid2", "key": "u1", "segments": ["sports"], "xandr_id": "222"},
        {"kind": "uid2", "key": "u2", "segments": ["cars"]},
    ])
    store = SQLiteStore(data, check_interval=0.0)
    assert store.lookup(["uid2:u1"], 0).links == {}
    links = store.lookup(["uid2:u1", "uid2:u2"], 0, links=True).links
    assert links == {"uid2:u1": [("111", None), ("222", None)]}
    writer = StoreWriter(data)
    writer.rekey([("uid2:u1", "uid2:v1")])
    store.maybe_reload()
    assert store.lookup(["uid2:v1"], 0, links=True).links == {"uid2:v1": [("111", None), ("222", None)]}
    assert writer.get_links(["uid2:v1", "uid2:u2"]) == {"uid2:v1": [("111", None), ("222", None)]}
    writer.delete_links(["uid2:v1"])
    assert writer.get_links(["uid2:v1"]) == {}


def test_snapshot_without_links_table_still_serves(data: Path) -> None:
    import sqlite3
    path = SnapshotDir(data).current_path()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE links")
    conn.commit()
    conn.close()
    store = SQLiteStore(data)
    assert store.lookup(["uid2:u1"], 0, links=True).hits == {"uid2:u1": ["cars", "sports"]}
    StoreWriter(data).upsert_memberships([("uid2:u3", {"cars": None})])  # recreates the table


def test_contextual_values_are_remembered_until_the_data_changes(tmp_path: Path) -> None:
    data = build_data_dir(tmp_path, [{"kind": "url", "key": "example.com/a", "segments": ["sports"]},
                                     {"kind": "uid2", "key": "u1", "segments": ["cars"]}])
    store = SQLiteStore(data, check_interval=0.0)
    keys = ["url:example.com/a", "url:example.com/b", "uid2:u1"]
    first = store.lookup(keys, 0).hits
    assert store.lookup(keys, 0).hits == first == {"url:example.com/a": ["sports"], "uid2:u1": ["cars"]}
    StoreWriter(data).upsert_memberships([("url:example.com/b", {"cars": 50})])  # a remembered miss
    store.maybe_reload()
    assert store.lookup(keys, 0).hits["url:example.com/b"] == ["cars"]
    assert "url:example.com/b" not in store.lookup(keys, 50).hits, "expiry still applies to remembered values"


@pytest.mark.parametrize("extra", [0, 5, 60], ids=["one", "few-probes", "long-in-list"])
def test_both_statement_shapes_find_the_same_rows(data: Path, extra: int) -> None:
    StoreWriter(data).set_classifying(["url:example.com/new"])
    keys = ["uid2:u1", "url:example.com/new", *(f"uid2:none{i}" for i in range(extra))]
    result = SQLiteStore(data).lookup(keys, 0)
    assert result.hits == {"uid2:u1": ["cars", "sports"]} and result.classifying == {"url:example.com/new"}


def test_prewarmed_store_swaps_a_new_snapshot_in_once_warm(data: Path, tmp_path: Path) -> None:
    import time

    store = SQLiteStore(data, check_interval=0.0, prewarm=True)
    assert store.lookup(["uid2:u1"], 0).hits == {"uid2:u1": ["cars", "sports"]}
    load(data, [write_jsonl(tmp_path / "n.jsonl", [{"kind": "uid2", "key": "new", "segments": ["cars"]}])],
         mode="replace")
    assert store.maybe_reload() is False, "the new snapshot is warmed in a thread first"
    assert store.lookup(["uid2:u1"], 0).hits, "the old snapshot serves meanwhile"
    deadline = time.monotonic() + 10
    while not store.maybe_reload():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert store.lookup(["uid2:u1", "uid2:new"], 0).hits == {"uid2:new": ["cars"]}
    store.close()


def test_prewarmed_store_reload_is_immediate(data: Path, tmp_path: Path) -> None:
    store = SQLiteStore(data, prewarm=True)
    load(data, [write_jsonl(tmp_path / "n.jsonl", [{"kind": "uid2", "key": "new", "segments": ["cars"]}])])
    assert store.reload() is True and "uid2:new" in store.lookup(["uid2:new"], 0).hits
    store.close()


def test_long_contextual_keys_are_answered_but_never_remembered(tmp_path: Path) -> None:
    """The per-worker cache is bounded by entry size too: unique long URLs from requests add nothing."""
    long_url = "example.com/" + "a" * 600
    data = build_data_dir(tmp_path, [{"kind": "url", "key": long_url, "segments": ["sports"]}])
    store = SQLiteStore(data)
    misses = [f"url:example.com/{i}-" + "b" * 600 for i in range(50)]
    assert store.lookup([f"url:{long_url}", *misses], 0).hits == {f"url:{long_url}": ["sports"]}
    assert store.lookup(["url:example.com/short"], 0).hits == {}
    assert list(store._context_cache) == ["url:example.com/short"]  # only the short key is remembered


def test_a_timer_firing_a_hair_early_does_not_skip_its_period(data: Path) -> None:
    """The upkeep task calls maybe_reload every check_interval; a call that comes within
    TIMER_SLACK of the period still checks, so the effective interval never doubles."""
    import time

    store = SQLiteStore(data, check_interval=0.5)
    store.maybe_reload()
    StoreWriter(data).upsert_memberships([("uid2:u9", {"cars": None})])
    assert store.maybe_reload() is False, "well inside the interval: nothing is checked"
    time.sleep(0.46)  # 0.5 s minus less than TIMER_SLACK (10 %) of it
    assert store.maybe_reload() is True
    assert store.lookup(["uid2:u9"], 0).hits == {"uid2:u9": ["cars"]}


def test_live_edits_and_read_renewal_go_on_while_a_new_snapshot_warms(data: Path) -> None:
    from concurrent.futures import Future

    store = SQLiteStore(data, check_interval=0.0, prewarm=True)
    store._warming = Future()  # a publish whose check and warm-up is still running (seconds at 10 M)
    StoreWriter(data).upsert_memberships([("uid2:u9", {"cars": None})])
    assert store.maybe_reload() is True, "the serving snapshot still picks up live edits"
    assert store.lookup(["uid2:u9"], 0).hits == {"uid2:u9": ["cars"]}
    store._warming = None
    store.close()


@pytest.mark.parametrize("keys", [
    pytest.param(["uid2:u1"], id="user-key"),
    pytest.param(["uid2:u1", "ip:10.9.9.9/32", "ip:10.0.0.0/24", "ip:10.1.0.0/24"], id="contextual"),
])
def test_repeated_lookups_on_the_held_cursor_answer_alike(data: Path, keys: list[str]) -> None:
    """One cursor serves every lookup; contextual misses are remembered, user keys never are."""
    store = SQLiteStore(data)
    first = store.lookup(keys, 0)
    assert first.hits["uid2:u1"] == ["cars", "sports"]
    assert store.lookup(keys, 0).hits == first.hits
    assert "uid2:u1" not in store._context_cache
    assert all(k in store._context_cache for k in keys if k.startswith("ip:"))
