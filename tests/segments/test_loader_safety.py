"""Loads that must publish nothing (too many rejected rows, no good base), what they clean up,
and the progress they report."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from segments.loader import LoadError, load
from segments.reading import input_bytes
from segments.rejects import RejectLimit, TooManyRejected
from segments.store import SnapshotDir
from tests.helpers import TAXONOMY, write_jsonl

GOOD = {"kind": "uid2", "key": "a", "segments": ["sports"]}
BAD = {"kind": "uid2", "key": "b", "segments": ["no_such_segment"]}


@pytest.mark.parametrize(("text", "limit"), [
    pytest.param("0", RejectLimit(count=0), id="zero"),
    pytest.param("25", RejectLimit(count=25), id="count"),
    pytest.param("0.5%", RejectLimit(percent=0.5), id="percent"),
    pytest.param(" 100% ", RejectLimit(percent=100.0), id="all"),
])
def test_parse(text: str, limit: RejectLimit) -> None:
    assert RejectLimit.parse(text) == limit


@pytest.mark.parametrize("text", ["-1", "abc", "5%%", "101%", "1.5"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="--max-rejected"):
        RejectLimit.parse(text)


@pytest.mark.parametrize(("limit", "rejected", "accepted", "exceeded"), [
    pytest.param(RejectLimit(count=0), 1, 1000, True, id="replace-default-any"),
    pytest.param(RejectLimit(count=0), 0, 1000, False, id="replace-default-none"),
    pytest.param(RejectLimit(percent=1.0), 10, 990, False, id="one-percent-at"),
    pytest.param(RejectLimit(percent=1.0), 11, 989, True, id="one-percent-over"),
    pytest.param(RejectLimit(percent=1.0), 4, 0, True, id="all-rejected"),
    pytest.param(RejectLimit(percent=1.0), 0, 0, False, id="empty-file"),
])
def test_exceeded(limit: RejectLimit, rejected: int, accepted: int, exceeded: bool) -> None:
    assert limit.exceeded(rejected, accepted) is exceeded


def test_defaults() -> None:
    assert RejectLimit.default(replace=True) == RejectLimit(count=0)
    assert RejectLimit.default(replace=False) == RejectLimit(percent=1.0)


def test_too_many_rejected_publishes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    tax = write_jsonl(tmp_path / "t.jsonl", TAXONOMY)
    load(data, [write_jsonl(tmp_path / "a.jsonl", [GOOD])], [tax])
    current = (data / "store" / "CURRENT").read_text()
    with pytest.raises(TooManyRejected) as err:
        load(data, [write_jsonl(tmp_path / "b.jsonl", [BAD, BAD, GOOD])], mode="replace",
             max_rejected=RejectLimit(count=0))
    assert [(r.line, r.path) for r in err.value.rejected] == [(1, str(tmp_path / "b.jsonl")),
                                                              (2, str(tmp_path / "b.jsonl"))]
    assert "2 of 3 rows rejected" in str(err.value)
    assert (data / "store" / "CURRENT").read_text() == current
    assert not list((data / "store").glob("*.tmp"))


def test_a_load_removes_what_killed_loads_left(tmp_path: Path) -> None:
    data = tmp_path / "data"
    tax = write_jsonl(tmp_path / "t.jsonl", TAXONOMY)
    load(data, [], [tax])
    stale = data / "store" / "snap-00000002.31337.tmp"
    stale.write_bytes(b"\0" * 1000)
    report = load(data, [write_jsonl(tmp_path / "a.jsonl", [GOOD])])
    assert not stale.exists() and any(stale.name in w for w in report.warnings)


def test_merge_onto_a_damaged_current_uses_the_last_good_snapshot(tmp_path: Path) -> None:
    data = tmp_path / "data"
    tax = write_jsonl(tmp_path / "t.jsonl", TAXONOMY)
    load(data, [write_jsonl(tmp_path / "a.jsonl", [GOOD])], [tax])
    load(data, [write_jsonl(tmp_path / "c.jsonl", [{**GOOD, "key": "c"}])])
    v2 = SnapshotDir(data).root / "snap-00000002.sqlite"
    os.truncate(v2, 1000)
    report = load(data, [write_jsonl(tmp_path / "d.jsonl", [{**GOOD, "key": "d"}])])
    assert report.version == 3 and report.base.endswith("snap-00000001.sqlite")
    assert any(str(v2) in w for w in report.warnings)
    (SnapshotDir(data).root / "snap-00000001.sqlite").write_bytes(b"junk")
    (SnapshotDir(data).root / "snap-00000003.sqlite").write_bytes(b"junk")
    with pytest.raises(LoadError, match="cannot merge"):
        load(data, [write_jsonl(tmp_path / "e.jsonl", [GOOD])])


def test_progress_in_bytes_reaches_the_file_size(tmp_path: Path) -> None:
    data = tmp_path / "data"
    tax = write_jsonl(tmp_path / "t.jsonl", TAXONOMY)
    rows = "".join(f'{{"kind": "uid2", "key": "k{i}", "segments": ["sports"]}}\n' for i in range(120_000))
    plain = tmp_path / "m.jsonl"
    plain.write_text(rows)
    packed = tmp_path / "m2.jsonl.gz"
    packed.write_bytes(gzip.compress(rows.encode()))
    seen: list[int] = []
    load(data, [plain, packed], [tax], progress_bytes=seen.append)
    total = input_bytes([plain, packed])
    assert seen == sorted(seen) and seen[-1] == total
    assert 0 < seen[0] < total
