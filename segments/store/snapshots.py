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

Nothing on the serving path creates or replaces a snapshot file: :meth:`SnapshotDir.ensure` makes
the first, empty one only in a data dir that has no ``CURRENT`` and no snapshot at all, and a new
version number is always above every file on disk. When ``CURRENT`` names a missing or damaged
file, :meth:`SnapshotDir.resolve` falls back to the newest snapshot that passes
:func:`~segments.store.integrity.verify` (or, without ``fallback``, raises naming the file).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from segments.filelock import held
from segments.store import schema
from segments.store.base import NoSnapshot, StoreError
from segments.store.integrity import DamagedSnapshot, MissingSnapshot, verify

CURRENT = "CURRENT"
PREFIX = "snap-"


def fsync_path(path: Path) -> None:
    """Flush a file's (or a directory's: its entries, after a rename) data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The snapshot to serve, and why it is not the one ``CURRENT`` names (``None``: it is)."""

    path: Path
    problem: str | None = None


def version_of(path: Path) -> int:
    """``snap-00000007.sqlite`` → 7 (0 for a name that is not a snapshot's)."""
    digits = path.name[len(PREFIX):].split(".", 1)[0]
    return int(digits) if path.name.startswith(PREFIX) and digits.isdigit() else 0


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

    def named_path(self) -> Path | None:
        """The file ``CURRENT`` names, whether or not it exists (``None``: no ``CURRENT``)."""
        try:
            name = self.pointer.read_text().strip()
        except FileNotFoundError:
            return None
        return self.root / name if name else None

    def snapshots(self) -> list[Path]:
        """Every snapshot file on disk, newest version first."""
        return sorted(self.root.glob(f"{PREFIX}*.sqlite"), key=version_of, reverse=True)

    def resolve(self, *, fallback: bool = True, full: bool = True,
                check: Callable[[Path], None] | None = None, skip: frozenset[Path] = frozenset()) -> Resolved:
        """The snapshot to serve: the one ``CURRENT`` names if it passes ``check`` (default
        :func:`verify`), else (``fallback``) the newest other one that does, with the problem.

        Raises :class:`NoSnapshot` for a data dir that never had one, and a :class:`StoreError`
        naming the file when nothing usable is left (or ``fallback`` is off). ``skip``: files
        already found damaged (not checked again).
        """
        run = check or (lambda p: verify(p, full=full))
        named = self.named_path()
        if named is None and not self.snapshots():
            raise NoSnapshot(f"no snapshot in {self.root}; run `segment-server load` first")
        problem: StoreError
        if named is None:
            problem = DamagedSnapshot(self.pointer, "CURRENT is missing or empty, but snapshots exist")
        elif not named.exists():
            problem = MissingSnapshot(named, self.pointer)
        else:
            try:
                if named in skip:
                    raise DamagedSnapshot(named, "found damaged earlier")
                run(named)
                return Resolved(named)
            except StoreError as exc:
                problem = exc
        if not fallback:
            raise problem
        for candidate in self.snapshots():
            if candidate == named or candidate in skip:
                continue
            try:
                run(candidate)
            except StoreError:
                continue
            return Resolved(candidate, f"{problem}; serving the last good snapshot {candidate}")
        raise StoreError(f"{problem}; no valid snapshot to fall back to in {self.root}")

    def pointer_stamp(self) -> tuple[int, int] | None:
        """(inode, mtime_ns) of CURRENT: changes on every publish, costs one stat()."""
        try:
            st = os.stat(self.pointer)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def next_version(self) -> int:
        """One above every snapshot on disk and the one ``CURRENT`` names: never an existing file."""
        named = self.named_path()
        versions = [version_of(p) for p in self.snapshots()] + ([version_of(named)] if named else [])
        return max(versions, default=0) + 1

    def staging_path(self, version: int) -> Path:
        return self.root / f"{PREFIX}{version:08d}.{os.getpid()}.tmp"

    def publish(self, staging: Path, version: int) -> Path:
        """Make ``staging`` the serving snapshot: fsync, rename into place, swap CURRENT atomically."""
        final = self.root / f"{PREFIX}{version:08d}.sqlite"
        fsync_path(staging)
        os.replace(staging, final)
        tmp = self.root / f".{CURRENT}.{os.getpid()}"
        tmp.write_text(final.name + "\n")
        fsync_path(tmp)
        os.replace(tmp, self.pointer)
        fsync_path(self.root)  # the renames themselves
        return final

    def prune(self, keep: int = 2, grace_seconds: float = 60.0) -> list[Path]:
        """Remove old snapshots (readers keep an open file alive on POSIX) and dead staging files."""
        current = self.current_path()
        snaps = sorted(self.root.glob(f"{PREFIX}*.sqlite"))
        removed = []
        old = [p for p in snaps if p != current][: max(0, len(snaps) - keep)]
        stale = [p for p in self.root.glob(f"{PREFIX}*.tmp") if time.time() - _mtime(p) > grace_seconds]
        for path in [*old, *stale]:
            for extra in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
                with contextlib.suppress(FileNotFoundError):
                    extra.unlink()
            removed.append(path)
        return removed

    def clean_stale(self) -> list[Path]:
        """Remove what killed loads left behind: staging files and half-written ``CURRENT`` copies.

        Call with :meth:`write_lock` held (every loader holds it for its whole run), so no live
        loader's file can be among them — see :meth:`clean_stale_if_idle` for callers without it.
        """
        removed = []
        for path in [*self.root.glob(f"{PREFIX}*.tmp"), *self.root.glob(f".{CURRENT}.*")]:
            for extra in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
                with contextlib.suppress(FileNotFoundError):
                    extra.unlink()
            removed.append(path)
        return removed

    def clean_stale_if_idle(self) -> list[Path]:
        """:meth:`clean_stale` if no writer holds the lock right now (at server start); else nothing."""
        with self.write_lock(blocking=False) as held:
            return self.clean_stale() if held else []

    @contextlib.contextmanager
    def write_lock(self, *, blocking: bool = True) -> Iterator[bool]:
        """The writers' flock; yields whether it is held (always, unless ``blocking=False``)."""
        with held(self.root / ".write.lock", blocking=blocking) as got:
            yield got

    def ensure(self) -> Path | None:
        """Publish an empty snapshot in a brand-new data dir, so a fresh server serves (empty) answers.

        Only when there is no ``CURRENT`` and no snapshot file at all: a ``CURRENT`` naming a
        missing file is the operator's problem to see (:meth:`resolve`), never a reason to write
        a file of that name over anything. Returns the new snapshot, or ``None`` when it made none.
        """
        with self.write_lock():
            if self.named_path() is not None or self.snapshots():
                return None
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


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


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
