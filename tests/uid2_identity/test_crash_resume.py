"""Kill a job mid-batch (an injected crash, and a real SIGKILL) and re-run: same end state."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from segments.store import schema
from segments.store.snapshots import SnapshotDir
from tests.fakes.clock import FakeClock
from tests.uid2_identity.conftest import T0, Env, users

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


class Crash(BaseException):
    """Not an Exception: nothing in the job may swallow it, like a kill."""


def state(env: Env) -> tuple[dict[str, object], list[tuple[object, ...]]]:
    conn = sqlite3.connect(f"file:{SnapshotDir(env.data).current_path()}?mode=ro", uri=True)
    store = {k: schema.decode(v) for k, v in conn.execute("SELECT key, segs FROM members")}
    conn.close()
    conn = sqlite3.connect(env.data / "identity.sqlite")
    rows = conn.execute("SELECT did, state, uid, prev, refresh_at, bucket, reason FROM dii "
                        "ORDER BY did").fetchall()
    rows += conn.execute("SELECT uid, since FROM optouts ORDER BY uid").fetchall()
    conn.close()
    return store, rows


def crash_at(point: str, nth: int) -> Callable[[str], None]:
    seen = {"n": 0}

    def checkpoint(name: str) -> None:
        if name == point:
            seen["n"] += 1
            if seen["n"] == nth:
                raise Crash(name)

    return checkpoint


async def scenario(env: Env, crash: Callable[[str], None] | None, job: str) -> None:
    """Load, map, rotate a bucket, opt someone out; ``crash`` interrupts ``job`` once."""
    env.load(users(30))
    for name in ("map", "rotate", "optout"):
        if name == "rotate":
            env.clock.advance(31 * 86400)
            env.fake.rotate(env.fake.bucket_name(2))
            env.fake.rotate(env.fake.bucket_name(7))
        if name == "optout":
            env.fake.opt_out(sorted(env.fake.opted_out) or _a_did(env))
        if crash is not None and name == job:
            with pytest.raises(Crash):
                await env.run(name, checkpoint=crash)
        await env.run(name)


def _a_did(env: Env) -> str:
    conn = sqlite3.connect(env.data / "identity.sqlite")
    (did,) = conn.execute("SELECT did FROM dii WHERE state = 'mapped' ORDER BY did LIMIT 1").fetchone()
    conn.close()
    return str(did)


@pytest.mark.parametrize(("job", "point", "nth"), [
    pytest.param("map", "map.stored", 2, id="map-mid-batch"),
    pytest.param("rotate", "map.stored", 1, id="rotate-mid-batch"),
    pytest.param("optout", "optout.stored", 2, id="optout-mid-batch"),
])
async def test_injected_crash_then_rerun_gives_the_same_end_state(
        tmp_path: Path, make_env: Callable[..., Env], job: str, point: str, nth: int) -> None:
    clean = Env(tmp_path / "clean", *_same(make_env))
    await scenario(clean, None, job)
    crashed = Env(tmp_path / "crashed", *_same(make_env))
    await scenario(crashed, crash_at(point, nth), job)
    assert state(crashed) == state(clean)
    assert crashed.optout_calls[-1] == clean.optout_calls[-1]  # at-least-once: re-sent, never lost


def _same(make_env: Callable[..., Env]) -> tuple[object, object]:
    env = make_env(map_batch_size=4, optout_batch_size=4)
    return FakeClock(T0), env.settings


SCRIPT = textwrap.dedent("""
    import asyncio, os, signal, sys
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from tests.fakes.clock import FakeClock
    from tests.uid2_identity.conftest import T0, Env, users
    from server.uid2.identity import IdentitySettings

    def kill(name):
        if name == "map.stored" and kill.n == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        kill.n += name == "map.stored"
    kill.n = 0
    env = Env(Path({tmp!r}), FakeClock(T0), IdentitySettings(enabled=True, map_batch_size=4))
    env.load(users(30))
    asyncio.run(env.run("map", checkpoint=kill))
""")


async def test_sigkill_mid_batch_then_rerun(tmp_path: Path, make_env: Callable[..., Env]) -> None:
    (tmp_path / "killed").mkdir()
    proc = subprocess.run(  # noqa: ASYNC221 - nothing else runs on this loop while it is killed
        [sys.executable, "-c", SCRIPT.format(root=str(ROOT), tmp=str(tmp_path / "killed"))],
        check=False, capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    clock, settings = _same(make_env)
    killed = Env.__new__(Env)
    Env.__init__(killed, tmp_path / "killed", clock, settings)  # type: ignore[arg-type]
    assert (await killed.run("map")).mapped == 30 - 8  # two batches had committed before the kill
    clean = Env(tmp_path / "clean", *_same(make_env))  # type: ignore[arg-type]
    clean.load(users(30))
    await clean.run("map")
    assert state(killed) == state(clean)
