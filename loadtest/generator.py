"""An open-loop HTTP/1.1 load generator: a fixed arrival rate, latency from the intended send time.

Closed-loop tools (locust, wrk) send the next request only when a previous one returns, so a
slow server slows the *offered* load and its queueing delay disappears from the numbers
("coordinated omission"). Here request ``i`` is *due* at ``t0 + i / rate`` whatever happens, and
its latency is ``response received − due time``: time spent waiting for a free connection, or
behind a late dispatcher, is counted as latency, exactly as a caller with a deadline sees it.

Mechanics: asyncio protocols on uvloop over a pool of keep-alive connections opened before the
clock starts, responses parsed by httptools in callbacks (no future per request, so the
generator stays cheap); at each due time the dispatcher writes prebuilt request bytes on an
idle connection, or queues the index until one frees up. A watchdog aborts requests older
than ``timeout``. Every run is bounded by ``seconds`` *and*
``max_requests``; only 127.0.0.1 is ever dialled.

``dispatch_lag`` (due → handed to a connection) is the generator's own health: when it grows,
the generator, not the server, is the bottleneck. :class:`GeneratorProcess` runs the generator
in a separate (optionally CPU-pinned) process so it does not share an interpreter with anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import os
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Self

import httptools

HOST = "127.0.0.1"
TICK = 0.0002  # the dispatch grid (s)
_NOT_DONE = -1.0

# Outcome codes stored per request: HTTP status (> 0) or one of these transport errors.
TIMEOUT, CONNECT, DISCONNECT, BACKLOG, PROTOCOL, IN_FLIGHT = -1, -2, -3, -4, -5, -9
ERROR_NAMES = {TIMEOUT: "timeout", CONNECT: "connect", DISCONNECT: "disconnect", BACKLOG: "not_sent",
               PROTOCOL: "protocol"}


@dataclass(frozen=True, slots=True)
class Prepared:
    """One request as the bytes on the wire, with a label for per-class latency."""

    label: str
    raw: bytes


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (NaN when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values) - 1e-9))  # tolerate float fuzz (99.9 % of 1000)
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize_ms(values: list[float]) -> dict[str, float]:
    values.sort()
    if not values:
        return {k: float("nan") for k in ("p50", "p90", "p99", "p99_9", "max", "mean")}
    return {"p50": round(percentile(values, 50) * 1e3, 3), "p90": round(percentile(values, 90) * 1e3, 3),
            "p99": round(percentile(values, 99) * 1e3, 3), "p99_9": round(percentile(values, 99.9) * 1e3, 3),
            "max": round(values[-1] * 1e3, 3), "mean": round(sum(values) / len(values) * 1e3, 3)}


class _State:
    """Everything the connections and the dispatcher share: per-request outcomes, idle pool, backlog."""

    def __init__(self, requests: Sequence[Prepared], total: int, port: int) -> None:
        self.raw = [r.raw for r in requests]
        self.port = port
        self.done_at = [_NOT_DONE] * total
        self.outcome = [0] * total
        self.lag = [0.0] * total
        self.finished = 0
        self.idle: deque[_Connection] = deque()
        self.pending: deque[int] = deque()
        self.live: set[_Connection] = set()
        self.closing = False

    def dispatch(self, i: int) -> None:
        if self.idle:
            # Oldest idle connection first (round robin). Reusing the newest one left the others
            # idle past uvicorn's 5 s keep-alive timeout; the server then closed one just as a
            # request went out on it — a "disconnect" in a 10-minute soak that no server fault caused.
            self.idle.popleft().send(i)
        else:
            self.pending.append(i)  # every connection busy: wait (and count the wait as latency)

    def ready(self, conn: _Connection) -> None:
        if self.pending:
            conn.send(self.pending.popleft())
        else:
            self.idle.append(conn)

    def finish(self, i: int, code: int) -> None:
        self.outcome[i] = code
        self.done_at[i] = time.perf_counter()
        self.finished += 1


class _Connection(asyncio.Protocol):
    """One keep-alive connection; httptools parses responses in callbacks (no futures per request)."""

    def __init__(self, state: _State) -> None:
        self.state = state
        self.transport: Any = None
        self.parser = httptools.HttpResponseParser(self)
        self.current = -1
        self.since = 0.0
        self.timed_out = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.state.live.add(self)
        self.state.ready(self)

    def send(self, i: int) -> None:
        self.current, self.since, self.timed_out = i, time.perf_counter(), False
        self.state.outcome[i] = IN_FLIGHT
        self.transport.write(self.state.raw[i % len(self.state.raw)])

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.current >= 0:
                self.state.finish(self.current, PROTOCOL)
                self.current = -1
            self.transport.abort()

    def on_message_complete(self) -> None:
        i, self.current, self.since = self.current, -1, 0.0
        if i >= 0:
            self.state.finish(i, self.parser.get_status_code())
        if self.parser.should_keep_alive():
            self.state.ready(self)
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        state = self.state
        state.live.discard(self)
        if self in state.idle:
            state.idle.remove(self)
        if self.current >= 0:
            # aborted by the watchdog, or still unanswered when the run ended: both are timeouts
            state.finish(self.current, TIMEOUT if self.timed_out or state.closing else DISCONNECT)
            self.current = -1
        if not state.closing:  # replace it, so the pool keeps its size
            asyncio.get_running_loop().create_task(_connect(state))


async def _connect(state: _State) -> bool:
    loop = asyncio.get_running_loop()
    try:
        await loop.create_connection(lambda: _Connection(state), HOST, state.port)
    except OSError:
        return False
    return True


async def _run(requests: Sequence[Prepared], rate: float, seconds: float, port: int, max_requests: int,
               connections: int, timeout: float, warmup: float) -> dict[str, Any]:
    total = max(1, min(int(rate * (seconds + warmup)), max_requests))
    interval = 1.0 / rate
    state = _State(requests, total, port)
    clock = time.perf_counter
    opened = await asyncio.gather(*(_connect(state) for _ in range(connections)))
    if not any(opened):
        raise ConnectionError(f"cannot connect to {HOST}:{port}")

    async def watchdog() -> None:
        while True:
            await asyncio.sleep(min(0.05, timeout / 4))
            limit = clock() - timeout
            for conn in list(state.live):
                if conn.since and conn.since < limit and not conn.timed_out:
                    conn.timed_out = True
                    conn.transport.abort()

    dog = asyncio.create_task(watchdog())
    t0 = clock() + 0.02
    # Due times on a TICK grid; requests due in the same tick leave together (a small burst, as
    # real arrivals have). The event loop's timers have millisecond resolution — a sub-millisecond
    # sleep either spins (burning the CPU the server needs) or wakes up to 1 ms late, which would
    # be charged to the server — so a clock thread sleeps precisely (clock_nanosleep) and wakes
    # the loop at each due tick. The lag is still measured when the loop actually dispatches.
    due = [t0 + math.ceil(i * interval / TICK - 1e-9) * TICK for i in range(total)]
    loop = asyncio.get_running_loop()
    all_sent = loop.create_future()
    cursor = 0

    def dispatch_due() -> None:
        nonlocal cursor
        now = clock()
        i = cursor
        while i < total and due[i] <= now:
            state.lag[i] = now - due[i]
            state.dispatch(i)
            i += 1
        cursor = i
        if i >= total and not all_sent.done():
            all_sent.set_result(None)

    stop = threading.Event()

    def ticker() -> None:
        i = 0
        while i < total and not stop.is_set():
            wait = due[i] - clock()
            if wait > 0:
                time.sleep(wait)
            now = clock()
            while i < total and due[i] <= now:
                i += 1
            loop.call_soon_threadsafe(dispatch_due)

    thread = threading.Thread(target=ticker, name="loadtest-clock", daemon=True)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)  # hand the GIL to the clock thread promptly
    thread.start()
    try:
        await asyncio.wait_for(all_sent, timeout=seconds + warmup + 30.0)
        deadline = clock() + timeout + 0.5
        while state.finished < total and clock() < deadline:
            await asyncio.sleep(0.005)
    finally:
        stop.set()
        thread.join(1.0)
        sys.setswitchinterval(switch)
        state.closing = True
        dog.cancel()
        await asyncio.gather(dog, return_exceptions=True)
        for conn in list(state.live):
            conn.transport.abort()
        await asyncio.sleep(0)
    end = clock()
    return _summary(requests, rate, seconds, warmup, due, state.done_at, state.outcome, state.lag,
                    connections, end)


def _summary(requests: Sequence[Prepared], rate: float, seconds: float, warmup: float, due: list[float],
             done_at: list[float], outcome: list[int], lag: list[float], connections: int,
             end: float) -> dict[str, Any]:
    first = min(len(done_at), math.ceil(warmup * rate))
    latencies: list[float] = []
    lags: list[float] = []
    by_label: dict[str, list[float]] = {}
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    last_done = due[0]
    for i in range(first, len(done_at)):
        code = outcome[i]
        if done_at[i] == _NOT_DONE:  # never handed to a connection, or still waiting for its answer
            errors[ERROR_NAMES[TIMEOUT] if code == IN_FLIGHT else ERROR_NAMES[BACKLOG]] += 1
            continue
        lags.append(lag[i])
        last_done = max(last_done, done_at[i])
        if code > 0:
            latency = done_at[i] - due[i]
            latencies.append(latency)
            by_label.setdefault(requests[i % len(requests)].label, []).append(latency)
            statuses[str(code)] += 1
            if code >= 400:
                errors[f"http_{code}"] += 1
        else:
            errors[ERROR_NAMES.get(code, "other")] += 1
    measured = len(done_at) - first
    ok = sum(v for k, v in statuses.items() if k.startswith("2"))
    window_start = due[min(first, len(due) - 1)]
    elapsed = max(last_done - window_start, seconds if measured else 0.0, 1e-9)
    lags.sort()
    return {
        "offered_rate": rate,
        "seconds": seconds,
        "sent": measured,
        "completed": sum(statuses.values()),
        "ok": ok,
        "achieved_rate": round(ok / elapsed, 1),
        "latency_ms": summarize_ms(latencies),
        "errors": dict(errors),
        "error_count": sum(errors.values()),
        "status": dict(statuses),
        "by_label": {label: {"count": len(v), **summarize_ms(v)} for label, v in sorted(by_label.items())},
        "dispatch_lag_ms": {"p99": round(percentile(lags, 99) * 1e3, 3) if lags else float("nan"),
                            "max": round(lags[-1] * 1e3, 3) if lags else float("nan")},
        "connections": connections,
        "wall_seconds": round(end - due[0], 3),
    }


def run(requests: Sequence[Prepared], *, rate: float, seconds: float, port: int,
        max_requests: int = 1_000_000,
        connections: int = 64, timeout: float = 1.0, warmup: float = 0.0) -> dict[str, Any]:
    """Offer ``rate`` requests/s for ``seconds`` (after ``warmup``, not counted) and summarize."""
    if rate <= 0 or seconds <= 0:
        raise ValueError("rate and seconds must be positive")
    if not requests:
        raise ValueError("no requests to send")
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        loop_factory = None
    cpu = time.process_time()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(_run(requests, rate, seconds, port, max_requests, connections, timeout, warmup))
    handled = result["completed"] + result["error_count"]
    result["client_cpu_us_per_request"] = round((time.process_time() - cpu) / max(1, handled) * 1e6, 1)
    return result


def _remote_run(cpus: set[int] | None, requests: Sequence[Prepared], **kwargs: Any) -> dict[str, Any]:
    """Runs in the generator process: pin (or unpin) it, then run."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, cpus or set(range(os.cpu_count() or 1)))
    return run(requests, **kwargs)


class GeneratorProcess:
    """The generator in its own process (spawned once, reused for every step of a search).

    ``run(..., cpus={1})`` pins that process for the run, so on a 2-core machine a 1-worker
    server and the generator each own a core instead of the scheduler moving them around.
    """

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))

    def run(self, requests: Sequence[Prepared], *, cpus: set[int] | None = None,
            **kwargs: Any) -> dict[str, Any]:
        limit = float(kwargs.get("seconds", 10)) + float(kwargs.get("warmup", 0)) + 60.0
        future = self._pool.submit(_remote_run, cpus, list(requests), **kwargs)
        result: dict[str, Any] = future.result(timeout=limit)
        return result

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
