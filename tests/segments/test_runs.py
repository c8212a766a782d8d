"""segments.runs: rows come back in key order, file order kept among equal keys, spilled or not."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from segments.runs import SortedRuns


@pytest.mark.parametrize("run_rows", [3, 7, 1000], ids=["many-runs", "some-runs", "in-memory"])
def test_sorted_and_stable_across_runs(tmp_path: Path, run_rows: int) -> None:
    rng = random.Random(run_rows)
    rows = [(f"k{rng.randrange(20):02d}", str(i).encode()) for i in range(200)]
    with SortedRuns(tmp_path, run_rows=run_rows) as runs:
        for row in rows:
            runs.add(row)
        out = list(runs.sorted())
    assert out == sorted(rows, key=lambda r: r[0])  # sorted() is stable: file order within a key
    assert runs.count == 200


def test_spill_files_are_removed(tmp_path: Path) -> None:
    with SortedRuns(tmp_path, run_rows=2) as runs:
        runs.extend([("b", b"1"), ("a", b"2"), ("c", b"3")])
        assert any(tmp_path.iterdir())
        assert [k for k, _ in runs.sorted()] == ["a", "b", "c"]
    assert not any(tmp_path.iterdir())
