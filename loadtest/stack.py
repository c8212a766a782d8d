"""The system under test, assembled from whatever features the server has today.

:func:`prepare` makes a data dir with the deterministic demo data set and, when the subsystems
exist, everything they need to run *on*: a fake UID2 operator on loopback with a key set (so
``/rtd`` decrypts the valid tokens in the traffic), and a bearer token minted from the data dir
(so auth stays on). Detection is by presence — ``[uid2]`` among the config sections,
``server.auth`` importable — so the harness needs no change as features land; what was found is
recorded in ``features`` and printed with the results.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from loadtest import servers, traffic

SEED = 7


@dataclass
class Stack:
    data_dir: Path
    users: int
    env: dict[str, str] = field(default_factory=dict)
    bearer: str | None = None
    uid2_document: dict[str, Any] | None = None
    features: dict[str, Any] = field(default_factory=dict)
    operator: servers.ServerProcess | None = None

    @property
    def plan(self) -> traffic.TrafficPlan:
        return traffic.TrafficPlan(users=self.users, seed=SEED)

    def close(self) -> None:
        if self.operator is not None:
            self.operator.stop()


def load_demo(data_dir: Path, users: int) -> dict[str, Any]:
    """Generate and load the demo set once per (data dir, users); later calls reuse it."""
    from segments import demo
    from segments.loader import load

    marker = data_dir / "loadtest-demo.json"
    if marker.exists():
        state: dict[str, Any] = orjson.loads(marker.read_bytes())
        if state.get("users") == users:
            return state
    gen = data_dir.parent / f"{data_dir.name}-gen"
    started = time.perf_counter()
    tax, mem = demo.write(gen, users, SEED)
    report = load(data_dir, [mem], [tax], mode="replace")
    state = {"users": users, "keys": report.keys, "seconds": round(time.perf_counter() - started, 2)}
    marker.write_bytes(orjson.dumps(state))
    for path in (tax, mem):
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        gen.rmdir()
    return state


def hot_path_state() -> str:
    """How the servers started from this checkout will run /rtd and /segments (compiled or not)."""
    try:
        from segments import compiled
    except ImportError:
        return "python (no compiled build support)"
    return compiled.check()


def uid2_available() -> bool:
    try:
        from server.config import section_types
    except ImportError:
        return False
    return "uid2" in section_types()


@contextlib.contextmanager
def prepare(work: Path, users: int, *, uid2: bool = True, auth: bool = True) -> Iterator[Stack]:
    """A ready data dir (+ fake operator when UID2 is wired); stops what it started on exit."""
    data_dir = work / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    demo_state = load_demo(data_dir, users)
    stack = Stack(data_dir, users, features={"demo": demo_state, "hot_path": hot_path_state()})
    try:
        if uid2 and uid2_available():
            _start_operator(stack, work)
        else:
            stack.features["uid2"] = "not wired into the server" if uid2 else "disabled"
        if auth:
            stack.bearer = traffic.bearer_token(data_dir)
        stack.features["auth_token"] = stack.bearer is not None
        yield stack
    finally:
        stack.close()


def _start_operator(stack: Stack, work: Path) -> None:
    try:
        import tests.fakes.uid2_operator  # noqa: F401  -- the fake lives with the tests
    except ImportError:
        stack.features["uid2"] = "fake operator not found"
        return
    document = traffic.uid2_key_document(time.time())
    secret = traffic.random_secret()
    keys_file, secret_file = work / "uid2-keys.json", work / "uid2-secret.b64"
    keys_file.write_bytes(orjson.dumps(document))
    secret_file.write_text(secret)
    os.chmod(secret_file, 0o600)
    stack.operator = servers.start_operator(keys_file, secret_file, log_dir=work / "logs")
    from loadtest.fake_operator import API_KEY

    stack.env.update({
        "SEGMENT_SERVER_UID2__ENABLED": "true",
        "SEGMENT_SERVER_UID2__BASE_URL": f'"{stack.operator.base_url}"',
        "SEGMENT_SERVER_UID2__API_KEY": f'"{API_KEY}"',
        "SEGMENT_SERVER_UID2__SECRET": f'"{secret}"',
    })
    stack.uid2_document = document
    stack.features["uid2"] = f"fake operator at {stack.operator.base_url}"


def start(stack: Stack, workers: int, *, log_dir: Path | None = None, engine: str | None = None,
          cpus: set[int] | None = None) -> servers.ServerProcess:
    """Our server on the stack's data (``engine``: default ``[server] engine``; ``cpus``: pinned)."""
    return servers.start_ours(stack.data_dir, workers=workers, env=stack.env, log_dir=log_dir, engine=engine,
                              cpus=cpus)
