"""One advisory file lock (``flock``) for the processes sharing a data dir.

Several jobs need "one of us at a time" between processes on one machine: the snapshot writers,
the identity jobs, the worker that installs a published snapshot. ``flock`` is released by the
kernel when its holder dies (``kill -9`` included), so a crash never leaves a stale lock behind,
which a lock *file's existence* would. Lives in ``segments/`` so the store and ``server/`` share it.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def held(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing); yields whether it is held —
    always with ``blocking``, or ``False`` at once when another process has it."""
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
