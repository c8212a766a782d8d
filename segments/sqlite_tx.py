"""``BEGIN IMMEDIATE`` … ``COMMIT`` as one context manager, for every SQLite file the project writes.

IMMEDIATE takes the write lock up front, so a read-then-write sequence (a rekey, a key rotation,
a lease renewal) cannot interleave with another process doing the same; any exception rolls the
transaction back and propagates. The connection must be in autocommit mode
(``isolation_level=None``), as every connection that uses this is.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator


@contextlib.contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
