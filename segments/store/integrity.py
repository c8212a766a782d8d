"""Is this file a whole, readable snapshot? Checks cheap enough for every open, and the full one.

A snapshot can be damaged behind the server's back: truncated by a full disk or a bad copy,
overwritten with other bytes, or named in ``CURRENT`` after it was deleted. SQLite notices some
of this only when a query touches the broken page — and a page past the end of a memory-mapped
file is not an error but a SIGBUS that kills the worker. So every snapshot is checked before it
serves and before it is published:

1. :func:`check_header` — the 100-byte header (magic string, page size) and the file size against
   the page count the header records (a truncated file is shorter), all from one ``pread`` and
   one ``fstat`` on a descriptor held while the file exists (closing one would drop SQLite's
   locks, see :data:`_HELD`);
2. :func:`quick_check` — SQLite's ``PRAGMA quick_check``: every page of every b-tree is read and
   its structure checked (not the row values). It costs about what a prewarm costs (one pass over
   the file), and on a reader's own connection it *is* the prewarm.

Every error names the file: an operator reading "file is not a database" cannot tell which one.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from segments.store.base import StoreError

MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
# A checkpoint writes page 1 (with the new page count) before the pages that extend the file; a
# size check that fails is tried once more after this pause before the file is called damaged.
RECHECK_PAUSE = 0.05


class DamagedSnapshot(StoreError):
    """The file exists but is not a whole, readable snapshot. ``path`` names it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"snapshot {path} is damaged: {reason}")
        self.path = str(path)
        self.reason = reason


class MissingSnapshot(StoreError):
    """``CURRENT`` names a snapshot file that does not exist."""

    def __init__(self, path: Path | str, pointer: Path | str) -> None:
        super().__init__(f"{pointer} names snapshot {path}, which does not exist")
        self.path = str(path)


def expected_size(header: bytes) -> tuple[int, int]:
    """(page size, bytes the header says the file holds; 0 when the header's count is not valid)."""
    raw = int.from_bytes(header[16:18], "big")
    page_size = 65536 if raw == 1 else raw
    pages = int.from_bytes(header[28:32], "big")
    # The in-header page count is valid only when the change counter matches "version-valid-for"
    # (sqlite.org/fileformat.html, 1.3.7); older writers left it stale.
    valid = header[24:28] == header[92:96] and pages > 0
    return page_size, page_size * pages if valid else 0


#: One read-only descriptor per snapshot file (by device and inode) this process has checked, kept
#: open while the file exists. Closing *any* descriptor of a file drops every POSIX lock the process
#: holds on it (fcntl(2)), including SQLite's: a check of the serving file (before a live edit,
#: or a fallback re-check) that opened and closed it would let another process take the exclusive
#: lock, checkpoint and delete the WAL under this process's reader, which then never sees another
#: live edit (the auth database had exactly that bug). Pruned files are closed on the next check.
_HELD: dict[tuple[int, int], int] = {}


def _header_and_size(path: Path) -> tuple[bytes, int]:
    st = os.stat(path)
    fd = _HELD.get((st.st_dev, st.st_ino))
    if fd is None:
        for key, old in list(_HELD.items()):  # a file pruned since: no SQLite lock left to keep
            if os.fstat(old).st_nlink == 0:
                os.close(old)
                del _HELD[key]
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        opened = os.fstat(fd)
        _HELD[(opened.st_dev, opened.st_ino)] = fd
    return os.pread(fd, HEADER_BYTES, 0), os.fstat(fd).st_size


def check_header(path: Path, *, recheck: bool = True) -> int:
    """Raise :class:`DamagedSnapshot` unless ``path`` starts like a whole SQLite file; return its size."""
    try:
        header, size = _header_and_size(path)
    except FileNotFoundError:
        raise DamagedSnapshot(path, "file not found") from None
    except OSError as exc:
        raise DamagedSnapshot(path, f"cannot read: {exc.strerror or exc}") from None
    if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
        raise DamagedSnapshot(path, f"not an SQLite database ({size} bytes, no SQLite header)")
    page_size, want = expected_size(header)
    if page_size < 512 or page_size & (page_size - 1):
        raise DamagedSnapshot(path, f"invalid page size {page_size} in the header")
    if size % page_size or size < want:
        if recheck:
            time.sleep(RECHECK_PAUSE)
            return check_header(path, recheck=False)
        raise DamagedSnapshot(path, f"truncated: {size} bytes, the header records {want}")
    return size


def quick_check(conn: sqlite3.Connection, path: Path | str) -> None:
    """``PRAGMA quick_check`` on ``conn``; raise :class:`DamagedSnapshot` (first problems) unless "ok"."""
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.Error as exc:
        raise DamagedSnapshot(path, str(exc)) from None
    if rows != ["ok"]:
        raise DamagedSnapshot(path, "quick_check: " + "; ".join(rows))


def verify(path: Path, *, full: bool = True) -> None:
    """Header and size, then (``full``) ``quick_check`` through a short-lived read-only connection."""
    check_header(path)
    if not full:
        return
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise DamagedSnapshot(path, str(exc)) from None
    try:
        quick_check(conn, path)
    finally:
        conn.close()
