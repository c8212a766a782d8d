"""The auth database: one SQLite file in the data dir, shared by every worker process.

Why SQLite: identities change rarely, reads on the hot path never touch it (workers keep an
in-memory view, see :mod:`server.auth.revocation`), and WAL mode lets many processes read while
one writes. Every write goes through a short-lived connection with ``BEGIN IMMEDIATE`` and a busy
timeout, so several workers (or the CLI alongside a running server) can write safely.

The file holds client-secret *hashes* and the token signing keys, so it is created ``0600``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from segments.sqlite_tx import immediate

DB_FILENAME: Final = "auth.sqlite3"
BUSY_TIMEOUT_MS: Final = 5000

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS identities (
    id            TEXT PRIMARY KEY,          -- 32 hex chars (a UUID4); also the OAuth client_id
    display_name  TEXT NOT NULL,
    scopes        TEXT NOT NULL,             -- space-delimited allowed scopes
    created_ms    INTEGER NOT NULL,
    secret_hash   TEXT                       -- scrypt$n$r$p$salt$hash, NULL if no client secret
);
-- Per-identity "not before": tokens issued earlier are refused. A deleted identity keeps a
-- row (deleted = 1) until all tokens it could have had are expired, then the row is pruned.
CREATE TABLE IF NOT EXISTS revocations (
    identity_id    TEXT PRIMARY KEY,
    not_before_ms  INTEGER NOT NULL,
    revoked_ms     INTEGER NOT NULL,
    deleted        INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid             INTEGER PRIMARY KEY,
    secret          BLOB NOT NULL,
    created_ms      INTEGER NOT NULL,
    active_from_ms  INTEGER NOT NULL,        -- signs from here; a little after creation, see keys.py
    retired_ms      INTEGER                  -- a newer key took over; verifies until + max lifetime
);
"""


def db_path(data_dir: str | os.PathLike[str]) -> Path:
    """Where the auth database lives inside ``data_dir``."""
    return Path(data_dir) / DB_FILENAME


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the auth database in autocommit mode with WAL and a busy timeout.

    ``check_same_thread=False`` because admin handlers run in Starlette's thread pool; callers
    never share one connection between threads concurrently.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(SCHEMA)
    return conn


@contextlib.contextmanager
def write_tx(path: Path) -> Iterator[sqlite3.Connection]:
    """A short-lived connection inside ``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error).

    IMMEDIATE takes the write lock up front, so read-then-write sequences (key rotation,
    revocation) cannot interleave with another process doing the same.
    """
    conn = connect(path)
    try:
        with immediate(conn):
            yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def read_conn(path: Path) -> Iterator[sqlite3.Connection]:
    """A short-lived connection for one consistent read."""
    conn = connect(path)
    try:
        yield conn
    finally:
        conn.close()
