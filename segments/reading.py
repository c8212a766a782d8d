"""How far a load has read its input files, in bytes: what a progress bar needs for an ETA.

Rows are unknown until read, but file sizes are known up front; the loader reports the bytes
consumed so far (the raw, possibly gzip-compressed offset), so ``done / input_bytes(files)`` is
the fraction read whatever the compression.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO


def input_bytes(files: Sequence[Path]) -> int:
    """Total size of the input files as stored (compressed for .gz): the 100 % of a progress bar."""
    return sum(Path(p).stat().st_size for p in files if Path(p).exists())


class ReadPosition:
    """How many bytes of the input files have been read: finished files plus the open one's offset."""

    def __init__(self, report: Callable[[int], None] | None) -> None:
        self.report = report
        self.done = 0
        self.raw: IO[bytes] | None = None
        self.size = 0

    def opened(self, raw: IO[bytes]) -> None:
        self.done += self._offset()
        self.raw, self.size = raw, os.fstat(raw.fileno()).st_size

    def _offset(self) -> int:
        if self.raw is None:
            return 0
        return self.size if self.raw.closed else self.raw.tell()

    def tick(self) -> None:
        if self.report is not None:
            self.report(self.done + self._offset())
