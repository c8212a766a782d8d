"""Each worker's in-memory view of revocations and verification keys, kept ≤ ~0.5 s stale.

The hot path must not do I/O per request, yet a revoke-all or delete done by any process (another
worker, the CLI) must take effect everywhere within 1 s. So the view re-checks the database at
most once per ``refresh_s``, and that check is one ``PRAGMA data_version`` on a connection this
view keeps open: SQLite bumps that number whenever *another* connection commits, and reading it
costs a few microseconds (no table is read). Only when it changed do we reload the two small
tables (revocations are pruned after 24 h; keys after their tokens expire).

The check runs inline on the request that notices the interval has passed, rather than in a
background task: no task to own or cancel, it works the same in a bare subprocess, and a
refresh is one tiny query. The connection is opened lazily and re-opened after a ``fork``.

With ``[cluster]`` on, :mod:`server.cluster.authsync` keeps this node's database in step with the
other nodes and calls :meth:`RevocationView.check_soon` after it merged or pushed a change, so the
change is in force from the next request instead of up to ``refresh_s`` later. The view itself
never talks to the engine: the hot path stays a dict lookup. The admin API asks it, through
:attr:`RevocationView.shared`, whether a revoke can reach the other nodes *before* doing one:
a revoke that only one node would know about is refused (503), never done half-way.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Final, Protocol

from server.auth import db
from server.auth.dbhealth import AuthDbHealth
from server.auth.errors import AuthError
from server.auth.keys import load_verification_keys
from server.auth.tokens import MacKey
from server.auth.types import Clock
from server.metrics import AUTH_FAILURES

DEFAULT_REFRESH_S: Final = 0.5
_REFRESH_FAILED: Final = AUTH_FAILURES.labels(reason="view_refresh_error")


class RevocationNotShared(AuthError):
    """A revoke or delete refused because the other nodes could not learn of it now (503)."""


class SharedRevocations(Protocol):
    """What the view needs from a cluster (``server.cluster.authsync.AuthSync``)."""

    async def before_write(self) -> None:
        """Raise :class:`RevocationNotShared` unless a change made now reaches every node."""

    def written(self) -> None:
        """A revoke or delete was just committed locally: share it now, not at the next tick."""


class RevocationView:
    """``not_before_ms(identity)`` and ``keys`` for the guard; refreshes itself when due."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        clock: Clock = time.time,
        refresh_s: float = DEFAULT_REFRESH_S,
        health: AuthDbHealth | None = None,
    ) -> None:
        self.path = db.db_path(data_dir)
        self.health = health or AuthDbHealth(self.path)
        self._clock = clock
        self._refresh_s = refresh_s
        self._next_check = float("-inf")
        self._version: int | None = None
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._lock = threading.Lock()
        #: identity (16 raw bytes) → not-before in ms; tokens issued earlier are refused.
        self.not_before: dict[bytes, int] = {}
        #: kid → prepared HMAC key, for every key that may still have live tokens.
        self.keys: dict[int, MacKey] = {}
        self.loaded_at: float | None = None
        #: Set by the cluster (``[cluster] enabled``); ``None`` on a single node.
        self.shared: SharedRevocations | None = None

    def maybe_refresh(self) -> None:
        """Hot-path entry: a clock read and a compare, unless the refresh interval has passed.

        A failing database (disk gone, file damaged) must not turn every request into a 500:
        the last good keys and revocations stay in use, the failure is counted and reported to
        :attr:`health` (which logs it once, not every interval), and the next interval retries
        on a fresh connection.
        """
        if self._clock() >= self._next_check:
            try:
                self.refresh()
            except sqlite3.Error as exc:
                _REFRESH_FAILED.inc()
                self.health.failed(exc)
                self.close()

    async def before_shared_write(self) -> None:
        """Raise :class:`RevocationNotShared` if a revoke now would stay on this node alone."""
        if self.shared is not None:
            await self.shared.before_write()

    def shared_write_done(self) -> None:
        """A revoke or delete was committed: have the cluster share it at once."""
        if self.shared is not None:
            self.shared.written()

    def check_soon(self) -> None:
        """Make the next :meth:`maybe_refresh` look at the database (someone just changed it)."""
        self._next_check = float("-inf")

    def refresh(self, *, force: bool = False) -> None:
        """Check ``data_version`` and reload if anything was committed since the last load."""
        with self._lock:
            now = self._clock()
            self._next_check = now + self._refresh_s
            conn = self._connection()
            version = int(conn.execute("PRAGMA data_version").fetchone()[0])
            if not force and version == self._version:
                return
            # Read both tables in one transaction so keys and revocations are from one instant.
            conn.execute("BEGIN")
            try:
                not_before = {
                    bytes.fromhex(identity): int(nb)
                    for identity, nb in conn.execute("SELECT identity_id, not_before_ms FROM revocations")
                }
                keys = load_verification_keys(conn)
            finally:
                conn.execute("COMMIT")
            self.not_before, self.keys, self._version, self.loaded_at = not_before, keys, version, now
        self.health.recovered()  # a full reload read both tables: the file is readable again

    def close(self) -> None:
        """Close the connection (lifespan shutdown); the view reopens it if used again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self._conn = db.connect(self.path)  # never reuse a connection inherited across fork
            self._pid = os.getpid()
            self._version = None
        return self._conn
