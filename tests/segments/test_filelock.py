"""The one ``flock`` helper: exclusive between holders, released on exit and when a holder dies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from segments.filelock import held


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with held(lock) as first:
        assert first
        with held(lock, blocking=False) as second:  # another open file description: refused
            assert not second
    with held(lock, blocking=False) as again:
        assert again


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    code = ("import os, sys; from pathlib import Path; from segments.filelock import held\n"
            "with held(Path(sys.argv[1])):\n    os.kill(os.getpid(), 9)\n")
    done = subprocess.run([sys.executable, "-c", code, str(lock)], cwd=Path(__file__).parents[2], check=False)
    assert done.returncode == -9
    with held(lock, blocking=False) as got:
        assert got
