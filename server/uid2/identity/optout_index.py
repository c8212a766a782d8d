"""The hot-path opt-out check for ``/rtd``: a dict in memory, refreshed from SQLite at most once a second.

UID2 opt-outs are permanent, so the ``optouts`` table only grows and each refresh reads just the
rows added since the last one (``seq > last``) — a primary-key range scan that is empty almost
every time. Between refreshes a check is one ``dict.get`` and one comparison, no I/O.

A DSP "must not bid on a token established before the user's opt-out time": a token whose
``established`` is at or before ``since`` is refused; a token established later (the user
came back through a fresh login) is allowed. A token with no established time is refused.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from .mapping import FILENAME, SCHEMA, connect

__all__ = ["OptOutIndex"]


class OptOutIndex:
    def __init__(self, data_dir: str | Path, *, refresh_seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        path = Path(data_dir) / FILENAME
        if not path.exists():  # the worker may not have run yet: create it so the reader can open
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = connect(path)
            conn.executescript(SCHEMA)
            conn.close()
        self._conn = connect(path, readonly=True)
        self._refresh = refresh_seconds
        self._clock = clock
        self._since: dict[str, float] = {}
        self._last_seq = 0
        self._next = 0.0
        self.refresh()

    def __len__(self) -> int:
        return len(self._since)

    def refresh(self) -> int:
        """Read opt-outs added since the last refresh; returns how many arrived."""
        try:
            rows = self._conn.execute("SELECT seq, uid, since FROM optouts WHERE seq > ? ORDER BY seq",
                                      (self._last_seq,)).fetchall()
        except sqlite3.Error:
            return 0  # keep serving what we have; the next tick tries again
        for seq, uid, since in rows:
            self._since[uid] = since
            self._last_seq = seq
        self._next = self._clock() + self._refresh
        return len(rows)

    def since(self, raw_uid: str) -> float | None:
        if self._clock() >= self._next:
            self.refresh()
        return self._since.get(raw_uid)

    def is_opted_out(self, raw_uid: str, established: float | None) -> bool:
        """True when ``/rtd`` must ignore this raw UID2 (epoch seconds, as decrypt reports them)."""
        since = self.since(raw_uid)
        return since is not None and (established is None or established <= since)

    def close(self) -> None:
        self._conn.close()
