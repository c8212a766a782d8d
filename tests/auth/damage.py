"""Ways an ``auth.sqlite3`` gets damaged on disk, shared by the in-process check (test_db.py) and the
real process's refusal to start (test_damaged_db_process.py), so both face the same files."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def empty(path: Path) -> None:
    """Truncated to 0 bytes, as a full disk or a crashed copy leaves it."""
    path.write_bytes(b"")


def garbage(path: Path) -> None:
    """Not SQLite at all: the header is wrong."""
    path.write_bytes(b"\x00garbage" * 1000)


def foreign_sqlite(path: Path) -> None:
    """A sound SQLite file that is some other database (the wrong file mounted)."""
    path.unlink()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE members (key TEXT)")
    conn.close()


def corrupt_pages(path: Path) -> None:
    """A valid header, then damage where the schema lives: what a torn write leaves."""
    with path.open("r+b") as f:
        f.seek(100)
        f.write(os.urandom(path.stat().st_size - 100))
