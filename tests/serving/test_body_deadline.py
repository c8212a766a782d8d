"""``BodyDeadline``: granian's missing body timeout, in-process with a real app's body reader."""

from __future__ import annotations

import asyncio

import pytest

from server.http import read_body
from server.serving.body_deadline import BodyDeadline
from server.types import Message, Receive, Scope, Send


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the body as /rtd does; says nothing to a client that left (as /rtd does: 499, no answer)."""
    try:
        body = await read_body({}, receive, 1 << 16)
    except Exception:  # noqa: BLE001 -- ClientGone: nothing to answer
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _run(method: str, chunks: list[Message | None]) -> list[Message]:
    """Drive the wrapped app; a ``None`` chunk never arrives."""
    sent: list[Message] = []

    async def receive() -> Message:
        chunk = chunks.pop(0) if chunks else None
        if chunk is None:
            await asyncio.sleep(3600)
        assert chunk is not None
        return chunk

    async def send(message: Message) -> None:
        sent.append(message)

    app = BodyDeadline(echo, timeout=0.05)
    asyncio.run(app({"type": "http", "method": method, "path": "/rtd"}, receive, send))
    return sent


def _statuses(sent: list[Message]) -> list[int]:
    return [m["status"] for m in sent if m["type"] == "http.response.start"]


@pytest.mark.parametrize(("method", "chunks", "status"), [
    pytest.param("POST", [{"type": "http.request", "body": b"{}", "more_body": False}], 200, id="whole body"),
    pytest.param("POST", [{"type": "http.request", "body": b"{", "more_body": True}, None], 408,
                 id="body stops arriving"),
    pytest.param("POST", [None], 408, id="no body at all"),
    pytest.param("GET", [{"type": "http.request", "body": b"", "more_body": False}], 200,
                 id="GET passes through"),
])
def test_a_late_body_gets_408_and_a_whole_one_its_answer(method: str, chunks: list[Message | None],
                                                         status: int) -> None:
    sent = _run(method, chunks)
    assert _statuses(sent) == [status]
    if status == 408:
        start = next(m for m in sent if m["type"] == "http.response.start")
        assert (b"connection", b"close") in start["headers"]
