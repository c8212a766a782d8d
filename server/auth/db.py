"""The auth database: one SQLite file in the data dir, shared by every worker process.

Why SQLite: identities change rarely, reads on the hot path never touch it (workers keep an
in-memory view, see :mod:`server.auth.revocation`), and WAL mode lets many processes read while
one writes. Every write goes through a short-lived connection with ``BEGIN IMMEDIATE`` and a busy
timeout, so several workers (or the CLI alongside a running server) can write safely.

The file holds client-secret *hashes* and the token signing keys, so it is created ``0600``.

Damage is never mistaken for "new": the file is created whole (schema written to a temporary file,
then renamed into place), so an existing file that is empty, lacks the SQLite header, fails
``PRAGMA quick_check`` or lacks our tables is damage (:func:`check_database`), and every later
connection opens the file *without* creating it. Silently starting over would lock out every
client and forget every revocation.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from segments.sqlite_tx import immediate
from server.auth.errors import AuthDatabaseError

DB_FILENAME: Final = "auth.sqlite3"
BUSY_TIMEOUT_MS: Final = 5000
SQLITE_HEADER: Final = b"SQLite format 3\x00"

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


#: What :func:`check_database` requires of an existing file (the columns the code reads).
EXPECTED_COLUMNS: Final = {
    "identities": ("id", "display_name", "scopes", "created_ms", "secret_hash"),
    "revocations": ("identity_id", "not_before_ms", "revoked_ms", "deleted"),
    "signing_keys": ("kid", "secret", "created_ms", "active_from_ms", "retired_ms"),
}


def db_path(data_dir: str | os.PathLike[str]) -> Path:
    """Where the auth database lives inside ``data_dir``."""
    return Path(data_dir) / DB_FILENAME


def ensure_database(path: Path) -> None:
    """Create the auth database if it does not exist, else check it; raise :class:`AuthDatabaseError`.

    Call once per process before serving (the ``serve`` command calls it before forking, so a
    damaged file stops the start with the path in the message instead of a worker crash loop).
    """
    if path.exists():
        check_database(path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.executescript(SCHEMA)  # rollback journal: the whole schema is in the file at close
        finally:
            conn.close()
        try:
            os.link(tmp, path)  # atomic, and never over a file another process created meanwhile
        except FileExistsError:
            check_database(path)
    finally:
        tmp.unlink(missing_ok=True)


def check_database(path: Path) -> None:
    """Raise :class:`AuthDatabaseError` naming ``path`` unless it is a sound auth database.

    Checks, cheapest first: size and header, ``PRAGMA quick_check``, and the expected tables and
    columns (so a snapshot or any other SQLite file copied over it is refused too).
    """
    # No open()/close() of the file here: this runs in workers that hold SQLite connections to
    # it, and closing *any* descriptor of a file drops every POSIX lock the process holds on it
    # (fcntl(2)). SQLite would then let another process checkpoint and delete the WAL under our
    # connection, which never sees a commit again (revocations stop arriving). os.stat opens
    # nothing, and SQLite itself says "file is not a database" for a bad header.
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AuthDatabaseError(path, f"cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise AuthDatabaseError(path, "is empty (0 bytes)")
    try:
        conn = _open(path)  # no pragmas: checking must not change the file (e.g. its journal mode)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise AuthDatabaseError(path, "fails PRAGMA quick_check: " + "; ".join(map(str, problems)))
            missing = _schema_problems(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if "file is not a database" in str(exc):
            raise AuthDatabaseError(path, "is not an SQLite database (bad header)") from None
        raise AuthDatabaseError(path, f"cannot be read ({exc})") from None
    if missing:
        raise AuthDatabaseError(path, "is not an auth database (missing " + ", ".join(missing) + ")")


def _schema_problems(conn: sqlite3.Connection) -> list[str]:
    problems = []
    for table, columns in EXPECTED_COLUMNS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if not present:
            problems.append(f"table {table}")
        else:
            problems.extend(f"column {table}.{c}" for c in columns if c not in present)
    return problems


def connect(path: Path) -> sqlite3.Connection:
    """Open the *existing* auth database in autocommit mode with WAL and a busy timeout.

    Never creates the file (``mode=rw``): if it vanished while we run, callers get an
    ``sqlite3.OperationalError`` (a 503), not a fresh empty database. ``check_same_thread=False``
    because admin handlers run in Starlette's thread pool; callers never share one connection
    between threads concurrently.
    """
    conn = _open(path)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _open(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None,
                           check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)


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
