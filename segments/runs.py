"""Key-sorted ``(key, value)`` rows in bounded memory: sorted runs spilled to disk, merged on read.

A bulk load needs its rows in key order to write the snapshot's B-tree front to back (random
inserts into a 10 M-key tree thrash the page cache). Sorting inside SQLite (a staging table read
back with ``ORDER BY``) costs an insert, a B-tree sort and a read-back per row, and its external
merge grows faster than the input. Here rows are appended to a list; every ``run_rows`` rows the
list is sorted (Python's sort is stable, so rows with one key keep their file order) and written
to a temporary file with :mod:`marshal`; reading merges the runs with :func:`heapq.merge`, which
is stable across runs too (an earlier run wins ties). Peak memory is one run: about 250 bytes a
row, so ~500 MB at the default 2 M rows, whatever the input size.
"""

from __future__ import annotations

import heapq
import marshal
import tempfile
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import Self

Row = tuple[str, bytes]
RUN_ROWS = 2_000_000
_BLOCK = 65_536  # rows per marshal record: large enough to amortise, small enough to stream
_by_key = itemgetter(0)


class SortedRuns:
    """Collects rows, then yields them once, sorted by key (file order kept among equal keys)."""

    def __init__(self, tmp_parent: Path, *, run_rows: int = RUN_ROWS) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix=".runs-", dir=tmp_parent)
        self._run_rows = run_rows
        self._rows: list[Row] = []
        self._spilled: list[Path] = []
        self.count = 0

    def add(self, row: Row) -> None:
        self._rows.append(row)
        self.count += 1
        if len(self._rows) >= self._run_rows:
            self._spill()

    def extend(self, rows: list[Row]) -> None:
        for row in rows:
            self.add(row)

    def sorted(self) -> Iterator[Row]:
        """Every row added, in key order. One pass: the runs are consumed as they are read."""
        if not self._spilled:
            self._rows.sort(key=_by_key)
            rows, self._rows = self._rows, []
            return iter(rows)
        if self._rows:
            self._spill()
        return heapq.merge(*(_read_run(path) for path in self._spilled), key=_by_key)

    def _spill(self) -> None:
        self._rows.sort(key=_by_key)
        path = Path(self._tmp.name) / f"run-{len(self._spilled):04d}"
        with open(path, "wb") as fh:
            for start in range(0, len(self._rows), _BLOCK):
                marshal.dump(self._rows[start:start + _BLOCK], fh)
        self._spilled.append(path)
        self._rows = []

    def close(self) -> None:
        self._rows = []
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _read_run(path: Path) -> Iterator[Row]:
    with open(path, "rb") as fh:
        while True:
            try:
                block = marshal.load(fh)
            except EOFError:
                return
            yield from block
