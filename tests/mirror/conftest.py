from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from server.mirror.client import XandrClient
from server.mirror.outbox import Outbox
from server.mirror.sender import Sender
from server.mirror.settings import MirrorSettings
from tests.fakes.clock import FakeClock
from tests.fakes.xandr import FakeXandr

T = TypeVar("T")




def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> MirrorSettings:
    return MirrorSettings(enabled=True, data_dir=tmp_path, api_url="https://api.test",
                          streaming_url="https://streaming.test", username="mirror-user", password="s3cret",
                          member_id=1234, backoff_initial=0.01, backoff_max=0.05, idle_poll=0.01)


@pytest.fixture
def fake() -> FakeXandr:
    return FakeXandr(posts_per_second=1_000_000, users_per_second=1_000_000_000)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path)
    yield box
    box.close()


def with_(settings: MirrorSettings, **changes: Any) -> MirrorSettings:
    return dataclasses.replace(settings, **changes)


SenderFactory = Callable[..., tuple[Sender, list[float]]]


@pytest.fixture
def make_sender(settings: MirrorSettings, outbox: Outbox, fake: FakeXandr) -> SenderFactory:
    """A sender on the fake via MockTransport; sleeps are recorded and skipped."""

    def build(s: MirrorSettings | None = None, **kwargs: Any) -> tuple[Sender, list[float]]:
        s = s or settings
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
            await asyncio.sleep(0)

        http = XandrClient.make_http(s, fake.transport())
        client = XandrClient(s, http, auth_log=outbox)
        return Sender(s, outbox, client, sleep=sleep, **kwargs), slept

    return build
