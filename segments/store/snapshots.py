"""Where snapshots live on disk, which one is current, and who may write.

Layout under ``<data_dir>/store/``::

    CURRENT                  name of the serving snapshot file (replaced atomically)
    snap-00000007.sqlite     one complete, self-contained SQLite database per snapshot
    .write.lock              flock held by every writer (bulk loads and small live edits)

A bulk load builds a new file aside and publishes it with ``os.replace`` on ``CURRENT``; readers
notice within their check interval and switch between requests. A load killed mid-way leaves a
stray ``snap-*.tmp`` file and the old snapshot serving. Small live edits (admin API, UID2
rotation) are ordinary WAL transactions on the current file, serialised by the same lock so a
bulk merge never loses them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from segments.store import schema

CURRENT = "CURRENT"
PREFIX = "snap-"


class SnapshotDir:
    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.root = Path(data_dir) / "store"
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def pointer(self) -> Path:
        return self.root / CURRENT

    def current_path(self) -> Path | None:
        try:
            name = self.pointer.read_text().strip()
        except FileNotFoundError:
            return None
        path = self.root / name
        return path if name and path.exists() else None

    def pointer_stamp(self) -> tuple[int, int] | None:
        """(inode, mtime_ns) of CURRENT: changes on every publish, costs one stat()."""
        try:
            st = os.stat(self.pointer)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def next_version(self) -> int:
        current = self.current_path()
        if current is None:
            return 1
        try:
            return int(current.stem[len(PREFIX):]) + 1
        except ValueError:
            return int(time.time())

    def staging_path(self, version: int) -> Path:
        return self.root / f"{PREFIX}{version:08d}.{os.getpid()}.tmp"

    def publish(self, staging: Path, version: int) -> Path:
        """Make ``staging`` the serving snapshot: fsync, rename into place, swap CURRENT atomically."""
        final = self.root / f"{PREFIX}{version:08d}.sqlite"
        with open(staging, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(staging, final)
        tmp = self.root / f".{CURRENT}.{os.getpid()}"
        tmp.write_text(final.name + "\n")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.pointer)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return final

    def prune(self, keep: int = 2, grace_seconds: float = 60.0) -> list[Path]:
        """Remove old snapshots (readers keep an open file alive on POSIX) and dead staging files."""
        current = self.current_path()
        snaps = sorted(self.root.glob(f"{PREFIX}*.sqlite"))
        removed = []
        old = [p for p in snaps if p != current][: max(0, len(snaps) - keep)]
        stale = [p for p in self.root.glob(f"{PREFIX}*.tmp") if time.time() - p.stat().st_mtime > grace_seconds]
        for path in [*old, *stale]:
            for extra in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
                with contextlib.suppress(FileNotFoundError):
                    extra.unlink()
            removed.append(path)
        return removed

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        with open(self.root / ".write.lock", "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def ensure(self) -> Path:
        """Publish an empty snapshot if none exists, so a fresh server serves (empty) answers."""
        with self.write_lock():
            current = self.current_path()
            if current is not None:
                return current
            staging = self.staging_path(1)
            conn = sqlite3.connect(staging)
            try:
                schema.create(conn)
                write_meta(conn, version=1, members=0)
                conn.commit()
                conn.execute("PRAGMA journal_mode=WAL")
            finally:
                conn.close()
            return self.publish(staging, 1)


def write_meta(conn: sqlite3.Connection, *, version: int, members: int) -> None:
    ip_rows = conn.execute("SELECT key FROM members WHERE key >= 'ip:' AND key < 'ip;'")
    lengths = sorted(schema.ip_prefix_lengths(k for (k,) in ip_rows))
    rows = {
        "version": str(version),
        "created_at": repr(time.time()),
        "members": str(members),
        "ip_prefix_lengths": ",".join(map(str, lengths)),
    }
    conn.executemany("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", rows.items())
