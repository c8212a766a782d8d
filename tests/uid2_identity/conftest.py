"""A data dir with a taxonomy, a fake operator on a shared clock, and jobs wired to both."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from segments.dii import hash_dii
from segments.loader import load
from server.uid2.identity import IdentityJobs, IdentitySettings, open_jobs
from server.uid2.settings import UID2Settings
from tests.fakes.clock import FakeClock
from tests.fakes.uid2_identity import FakeIdentityOperator

SECRET = bytes(range(32))
T0 = 1_790_000_000.0  # 2026-09-21, a fixed "now"
TAXONOMY = [{"id": "auto", "name": "Auto"}, {"id": "sports", "name": "Sports"},
            {"id": "travel", "name": "Travel"}]




async def no_sleep(_seconds: float) -> None:
    return None


def did(kind: str, value: str) -> str:
    return ":".join(hash_dii(kind, value))


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def users(n: int) -> list[dict[str, Any]]:
    """``n`` users: even ones by email, odd ones by phone, each in one or two segments."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        if i % 2 == 0:
            rows.append({"kind": "email", "key": f"User.{i}@Example.com", "segments": ["auto"]})
        else:
            rows.append({"kind": "phone", "key": f"+1555{i:07d}", "segments": ["sports", "travel"]})
    return rows


class Env:
    def __init__(self, tmp: Path, clock: FakeClock, settings: IdentitySettings) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.data = tmp / "data"
        self.clock = clock
        self.settings = settings
        self.fake = FakeIdentityOperator(secret=SECRET, clock=clock)
        self.optout_calls: list[list[str]] = []
        self.uid2 = UID2Settings(enabled=True, base_url="https://operator.test",
                                 api_key=self.fake.operator.api_key,
                                 secret=base64.b64encode(SECRET).decode())
        load(self.data, [], [write_rows(tmp / "taxonomy.jsonl", TAXONOMY)])

    def load(self, rows: list[dict[str, Any]], name: str = "m.jsonl", **kw: Any) -> Any:
        return load(self.data, [write_rows(self.tmp / name, rows)], **kw)

    @asynccontextmanager
    async def jobs(self, **options: Any) -> AsyncIterator[IdentityJobs]:
        options.setdefault("sleep", no_sleep)
        async with open_jobs(self.data, self.settings, self.uid2, transport=self.fake.transport(),
                             clock=self.clock,
                             on_optout=self.optout_calls.append, **options) as jobs:
            yield jobs

    async def run(self, name: str, **options: Any) -> Any:
        async with self.jobs(**options) as jobs:
            return await jobs.run(name)  # type: ignore[arg-type]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[Callable[..., Env]]:
    def make(**settings: Any) -> Env:
        return Env(tmp_path, FakeClock(T0), IdentitySettings.from_mapping({"enabled": True, **settings}))

    yield make
