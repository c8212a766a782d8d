"""Where metric values live: this process's memory, or one directory per ``serve`` run.

prometheus-client decides once, when it is first imported, whether values live in memory or in
mmap'd files under ``PROMETHEUS_MULTIPROC_DIR`` — and any import of ``server.config`` already
pulls it in. So the decision is read back from prometheus-client (:func:`in_multiprocess_mode`)
rather than from the environment, which may have changed since:

* ``serve --workers 1``: one process serves (uvicorn: the ``serve`` process itself; granian: its
  one spawned worker), so values stay in that process's memory and ``/metrics`` reads the default
  registry. No directory is involved.
* ``serve --workers N``: each worker is a fresh interpreter (both engines *spawn* them; see
  :mod:`server.serving.granian_engine` for why granian must not fork), so setting the variable
  before the engine starts reaches every worker. It points at a directory of this run only,
  ``<data_dir>/metrics/run-<pid>``, whose ``lock`` file the ``serve`` process and every worker
  hold with a shared ``flock`` while they live; it is removed when the run ends. A ``serve`` that
  has not got its port yet therefore never touches a running server's files: a run directory is
  removed only when it can be locked exclusively — no process of that run is left, even if its
  supervisor was killed and orphaned workers still serve — under one short lock so two starts
  cannot race.
* ``PROMETHEUS_MULTIPROC_DIR`` set by the operator before the process starts: used as given and
  never cleaned (prometheus-client's documented contract: whoever sets it wipes it between runs).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Self

from prometheus_client import values

ENV = "PROMETHEUS_MULTIPROC_DIR"
_RUN_PREFIX = "run-"
_LOCK = "lock"


def in_multiprocess_mode() -> bool:
    """True when this process's metric values are mmap'd files (the choice made at import).

    ``ValueClass`` is prometheus-client's module-level choice since 0.4 (``MutexValue`` in
    memory, else a multiprocess class); ``tests/observability/test_metrics_dir.py`` pins it.
    """
    return values.ValueClass is not values.MutexValue


def multiprocess_dir() -> str | None:
    """The directory every worker writes to, or ``None`` when this process counts in memory."""
    return (os.environ.get(ENV) or None) if in_multiprocess_mode() else None


def _try_lock(path: Path, mode: int = fcntl.LOCK_EX) -> int | None:
    """An fd holding a lock on ``path``, or ``None`` if another process holds a conflicting one."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for a directory scan: milliseconds
        yield
    finally:
        os.close(fd)


def remove_stale_runs(base: Path) -> list[Path]:
    """Remove run directories whose owner is gone (its lock is free); the caller holds ``.cleanup``."""
    removed = []
    for run in sorted(base.glob(_RUN_PREFIX + "*")):
        if not run.is_dir():
            continue
        fd = _try_lock(run / _LOCK)
        if fd is None:
            continue  # a live server's run
        try:
            shutil.rmtree(run, ignore_errors=True)
            removed.append(run)
        finally:
            os.close(fd)
    return removed


class RunDir:
    """This run's metrics directory, locked for as long as the object lives."""

    def __init__(self, base: Path) -> None:
        base.mkdir(parents=True, exist_ok=True)
        with _exclusive(base / ".cleanup"):
            self.removed = remove_stale_runs(base)
            self.path = base / f"{_RUN_PREFIX}{os.getpid()}"
            n = 0
            while self.path.exists():  # our pid, reused from a run whose orphaned workers live on
                n += 1
                self.path = base / f"{_RUN_PREFIX}{os.getpid()}-{n}"
            self.path.mkdir()
            fd = _try_lock(self.path / _LOCK, fcntl.LOCK_SH)
        if fd is None:  # pragma: no cover - a fresh directory nobody else can know about yet
            raise RuntimeError(f"cannot lock {self.path}")
        self._fd: int | None = fd

    def close(self) -> None:
        """Remove the directory (its values die with the run, as in-memory ones would)."""
        if self._fd is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_worker_lock: int | None = None


def hold_run_lock() -> None:
    """In a worker: share the run directory's lock for the rest of this process's life.

    Called once per worker at startup; does nothing in memory mode or in a directory the operator
    provided (no ``lock`` file there).
    """
    global _worker_lock
    path = multiprocess_dir()
    if _worker_lock is not None or path is None or not (Path(path) / _LOCK).exists():
        return
    _worker_lock = _try_lock(Path(path) / _LOCK, fcntl.LOCK_SH)


def prepare(base: Path, workers: int) -> str | None:
    """Set up where the workers of one ``serve`` run count; returns the directory or ``None``.

    Nothing here deletes another run's files (see the module docstring), so it may run before
    the server has bound its port. The run's directory is removed when this process exits
    (``atexit``: after the engine's supervisor returns, or a failed bind); if it is killed instead,
    the next ``serve`` removes it.
    """
    if in_multiprocess_mode():  # the operator set PROMETHEUS_MULTIPROC_DIR before we started
        return os.environ.get(ENV)
    if workers <= 1:
        os.environ.pop(ENV, None)  # one in-memory process; a stray variable must not mislead /metrics
        return None
    run = RunDir(base)
    atexit.register(run.close)
    os.environ[ENV] = str(run.path)  # spawned workers read it at their first import
    return str(run.path)
