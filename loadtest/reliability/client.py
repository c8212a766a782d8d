"""A closed-loop keep-alive client that sends prebuilt request bytes and records every status.

:mod:`loadtest.generator` is open-loop and aggregates by status; the fuzz check needs the opposite:
each hostile request sent once, its own status and label kept (so a 5xx names the input kind that
caused it), a per-request deadline (a *hang*), and no backlog when a request is slow. ``concurrency``
connections each send, read the whole response (``Content-Length`` or chunked), and reconnect when
the server closes. Only 127.0.0.1 is dialled.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadtest.generator import Prepared, summarize_ms

HOST = "127.0.0.1"
HANG, CLOSED = -1, -2  # no complete answer within the deadline; connection closed without an answer


@dataclass
class Outcomes:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    examples: dict[tuple[str, int], bytes] = field(default_factory=dict)
    stale_retries: int = 0  # kept-alive connections the server had closed: sent again on a new one

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def where(self, test: Callable[[int], bool]) -> dict[str, int]:
        return {f"{label}:{code}": n for (label, code), n in sorted(self.statuses.items()) if test(code)}

    def by_status(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (_, code), n in self.statuses.items():
            out["hang" if code == HANG else "closed" if code == CLOSED else str(code)] += n
        return dict(sorted(out.items()))


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, server keeps the connection open) of one response; raises on EOF."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = (line.partition(":") for line in lines[1:] if line)
    headers = {k.strip().lower(): v.strip() for k, _, v in fields}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
BROKEN = (OSError, RuntimeError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
          IndexError)


async def _exchange(conn: Conn | None, port: int, raw: bytes, deadline: float,
                    out: Outcomes) -> tuple[int, Conn | None]:
    """One request → (status, the connection to reuse or None). A kept-alive connection the server
    closed meanwhile (idle timeout) fails before any answer: reopen and send once more, as every
    HTTP client does, and count it; a fresh connection that fails is the answer (``CLOSED``)."""
    for attempt in (0, 1):
        fresh = conn is None
        try:
            if conn is None:
                conn = await asyncio.open_connection(HOST, port, limit=1 << 20)
            reader, writer = conn
            writer.write(raw)
            status, alive = await asyncio.wait_for(_read_response(reader), deadline)
        except TimeoutError:
            _close(conn)
            return HANG, None
        except BROKEN:
            _close(conn)
            conn = None
            if fresh or attempt:
                return CLOSED, None
            out.stale_retries += 1
            continue
        if not alive:
            _close(conn)
            conn = None
        return status, conn
    return CLOSED, None


def _close(conn: Conn | None) -> None:
    if conn is not None:
        conn[1].close()


async def _worker(port: int, queue: asyncio.Queue[tuple[int, Prepared]], out: Outcomes, deadline: float,
                  keep: int) -> None:
    conn: Conn | None = None
    while True:
        try:
            _index, request = queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        started = time.perf_counter()
        status, conn = await _exchange(conn, port, request.raw, deadline, out)
        if status > 0:
            out.latencies.append(time.perf_counter() - started)
        key = (request.label, status)
        out.statuses[key] += 1
        if (status >= 500 or status < 0) and key not in out.examples and len(out.examples) < keep:
            out.examples[key] = request.raw[:600]
    _close(conn)


async def _send(port: int, requests: Iterable[Prepared], concurrency: int, deadline: float,
                keep: int) -> Outcomes:
    queue: asyncio.Queue[tuple[int, Prepared]] = asyncio.Queue()
    for item in enumerate(requests):
        queue.put_nowait(item)
    out = Outcomes()
    await asyncio.gather(*(_worker(port, queue, out, deadline, keep) for _ in range(concurrency)))
    return out


def send_all(port: int, requests: Sequence[Prepared] | Iterable[Prepared], *, concurrency: int = 8,
             deadline: float = 5.0, keep_examples: int = 20) -> Outcomes:
    """Send each request once over ``concurrency`` keep-alive connections; every outcome recorded."""
    try:
        import uvloop

        return uvloop.run(_send(port, requests, concurrency, deadline, keep_examples))
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(_send(port, requests, concurrency, deadline, keep_examples))


def latency_summary(out: Outcomes) -> dict[str, float]:
    return summarize_ms(list(out.latencies))


def find_holding(doc: Any, key: str) -> dict[str, Any] | None:
    """The first object in ``doc`` (``/admin/status``, nested) that has ``key``: the checks read a
    subsystem's counters without depending on where the status document nests them."""
    if isinstance(doc, dict):
        if key in doc:
            return doc
        for value in doc.values():
            if (found := find_holding(value, key)) is not None:
                return found
    return None
