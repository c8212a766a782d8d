"""Versioned snapshot publish: one node's verified snapshot becomes every node's, atomically.

Bulk memberships stay in each node's own snapshot file; what travels is the whole file.
``segment-server cluster publish`` (on a node's data dir, or a loading machine's that shares the
engine) first applies the pending live edits, copies the serving snapshot with SQLite's backup
API (one consistent read, no write lock held) into ``[cluster] publish_dir`` — a directory every
node mounts — verifies the copy, and only then sets the engine's version key
``{version, name, sha256, size, edits}``.

Each node's sync sees the version move and installs it (:class:`Installer`, one worker per node at
a time): copy into ``<data_dir>/cluster/incoming/`` while hashing, compare size and SHA-256,
run the store's full integrity check, apply the live edits made after the file's own offset,
then switch with the store's own :meth:`~segments.store.SnapshotDir.publish` under its write
lock. Readers move to it between requests, as after a local ``load``. A missing or damaged
published file changes nothing: the node keeps its last good snapshot and its readiness says
degraded, naming the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

import orjson

from segments.filelock import held
from segments.store import SnapshotDir, StoreError
from segments.store.integrity import verify
from segments.store.snapshots import fsync_path
from server.cluster.edits import START, Edit, apply_to_file, identity_optouts, read_offset_conn

#: ``meta`` row: the cluster version a snapshot was installed from (carried along by local loads).
VERSION_META: Final = "cluster.published_version"
#: Published files kept in ``publish_dir`` (a node still copying an older one can finish).
KEEP: Final = 3
CHUNK: Final = 1 << 20


class PublishProblem(Exception):
    """A published snapshot that cannot be installed or made; the message names the file."""


@dataclass(frozen=True, slots=True)
class Published:
    """The engine's version key: which file, how to check it, which edits it already holds."""

    version: int
    name: str
    sha256: str
    size: int
    edits: str
    published_at: float
    by: str

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> Published | None:
        if not raw:
            return None
        try:
            data = orjson.loads(raw)
            return cls(int(data["version"]), str(data["name"]), str(data["sha256"]), int(data["size"]),
                       str(data["edits"]), float(data["published_at"]), str(data["by"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


def file_name(version: int) -> str:
    return f"snap-{version:08d}.sqlite"


def read_meta(path: Path | None, name: str) -> str | None:
    """One ``meta`` value of a snapshot file (read-only); ``None`` when absent."""
    if path is None:
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


def installed_version(data_dir: str | Path) -> int:
    """The cluster version the serving snapshot came from (0: none)."""
    value = read_meta(SnapshotDir(data_dir).current_path(), VERSION_META)
    return int(value) if value and value.isdigit() else 0


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def export_snapshot(data_dir: str | Path, dest: Path, version: int, by: str) -> Published:
    """Copy the serving snapshot (verified first) to ``dest/snap-<version>.sqlite``; not yet announced."""
    snapdir = SnapshotDir(data_dir)
    resolved = snapdir.resolve(full=True, fallback=False)  # never publish a fallback copy
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / file_name(version)
    tmp = dest / f".{final.name}.{os.getpid()}.tmp"
    src = sqlite3.connect(f"file:{resolved.path}?mode=ro", uri=True)
    dst = sqlite3.connect(tmp, isolation_level=None)
    try:
        src.backup(dst)  # one consistent read of the source, edits and their offset included
        edits = read_offset_conn(dst)
        dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        src.close()
        dst.close()
    try:
        verify(tmp, full=True)
    except StoreError as exc:
        tmp.unlink(missing_ok=True)
        raise PublishProblem(f"the copy of {resolved.path} did not verify: {exc}") from None
    fsync_path(tmp)
    os.replace(tmp, final)
    fsync_path(dest)
    return Published(version, final.name, sha256_of(final), final.stat().st_size, edits, time.time(), by)


def prune_published(dest: Path, keep_name: str) -> list[Path]:
    files = sorted(dest.glob("snap-*.sqlite"), reverse=True)
    doomed = [p for p in files[KEEP:] if p.name != keep_name]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


class Installer:
    """One node's side: stage a published file, check it, switch to it (blocking; run in a thread)."""

    def __init__(self, data_dir: str | Path, source: Path) -> None:
        self.data_dir = Path(data_dir)
        self.source = source
        self.snapdir = SnapshotDir(data_dir)
        self.incoming = self.data_dir / "cluster" / "incoming"

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[bool]:
        """One installing worker per node; the others skip this tick."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        with held(self.incoming.parent / "install.lock", blocking=False) as got:
            yield got

    def stage(self, pub: Published) -> Path:
        """Copy ``pub``'s file here while hashing; :class:`PublishProblem` naming it unless it is whole."""
        src = self.source / pub.name
        staging = self.incoming / f"{pub.name}.{os.getpid()}.tmp"
        for stale in self.incoming.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        digest, size = hashlib.sha256(), 0
        try:
            with open(src, "rb") as fin, open(staging, "wb") as fout:
                while chunk := fin.read(CHUNK):
                    digest.update(chunk)
                    fout.write(chunk)
                    size += len(chunk)
        except OSError as exc:
            staging.unlink(missing_ok=True)
            raise PublishProblem(f"published snapshot {src} (version {pub.version}) cannot be read: "
                                 f"{exc.strerror or exc}") from None
        problem = None
        if size != pub.size:
            problem = f"size {size} bytes, the version key says {pub.size}"
        elif digest.hexdigest() != pub.sha256:
            problem = "SHA-256 does not match the version key"
        else:
            try:
                verify(staging, full=True)
            except StoreError as exc:
                problem = str(exc)
        if problem is not None:
            staging.unlink(missing_ok=True)
            raise PublishProblem(f"published snapshot {src} (version {pub.version}) is damaged: {problem}")
        return staging

    def switch(self, staging: Path, pub: Published, edits: list[Edit]) -> Path:
        """Apply the edits after the file's offset, stamp its version, make it the serving snapshot."""
        apply_to_file(staging, edits, identity_optouts(self.data_dir))
        conn = sqlite3.connect(staging, isolation_level=None)
        try:
            conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)",
                         (VERSION_META, str(pub.version)))
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        with self.snapdir.write_lock():
            final = self.snapdir.publish(staging, self.snapdir.next_version())
            self.snapdir.prune()
        return final

    @staticmethod
    def offset_of(staging: Path) -> str:
        conn = sqlite3.connect(f"file:{staging}?mode=ro", uri=True)
        try:
            return read_offset_conn(conn)
        except sqlite3.OperationalError:
            return START
        finally:
            conn.close()


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
