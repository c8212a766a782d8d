"""Per-run metrics directories: a live run's directory is never touched, a dead run's is removed."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from server.observability import metrics_dir
from server.observability.metrics_dir import ENV, RunDir


def _live_run(base: Path, name: str) -> int:
    """A run directory whose lock is shared, as a running server (or one of its workers) holds it."""
    run = base / name
    run.mkdir(parents=True)
    (run / "counter_1.db").write_bytes(b"values")
    fd = os.open(run / "lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    return fd


def test_stale_runs_go_live_runs_stay(tmp_path: Path) -> None:
    base = tmp_path / "metrics"
    live = _live_run(base, "run-111")  # its supervisor was killed; an orphaned worker still holds it
    (base / "run-222").mkdir()  # killed with SIGKILL: its lock died with it
    (base / "run-222" / "counter_2.db").write_bytes(b"old")
    (base / "run-333").mkdir()
    (base / "run-333" / "lock").touch()
    (base / "unrelated.txt").write_text("not ours to delete")
    try:
        with RunDir(base) as run:
            assert run.path == base / f"run-{os.getpid()}" and run.path.is_dir()
            assert sorted(p.name for p in run.removed) == ["run-222", "run-333"]
            assert (base / "run-111" / "counter_1.db").read_bytes() == b"values"
            assert (base / "unrelated.txt").exists()
            second = RunDir(tmp_path / "metrics2")  # a concurrent start elsewhere is independent
            second.close()
            assert not (tmp_path / "metrics2" / f"run-{os.getpid()}").exists()
        assert not run.path.exists(), "a run's directory goes with the run"
    finally:
        os.close(live)


def test_a_live_directory_under_our_own_pid_is_left_alone(tmp_path: Path) -> None:
    base = tmp_path / "metrics"
    live = _live_run(base, f"run-{os.getpid()}")  # a dead supervisor's pid, reused by us
    try:
        with RunDir(base) as run:
            assert run.path == base / f"run-{os.getpid()}-1"
            assert (base / f"run-{os.getpid()}" / "counter_1.db").exists()
    finally:
        os.close(live)


def test_one_worker_counts_in_memory(tmp_path: Path) -> None:
    assert metrics_dir.prepare(tmp_path / "metrics", workers=1) is None
    assert ENV not in os.environ and not (tmp_path / "metrics").exists()


def test_workers_get_a_run_directory_through_the_environment(tmp_path: Path) -> None:
    try:
        path = metrics_dir.prepare(tmp_path / "metrics", workers=2)
        assert path is not None and os.environ[ENV] == path and Path(path).is_dir()
        assert metrics_dir.multiprocess_dir() is None, "this process still counts in memory"
    finally:
        os.environ.pop(ENV, None)  # the directory itself goes at exit (atexit), as in `serve`
