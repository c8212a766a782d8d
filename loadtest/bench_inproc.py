"""In-process benchmark: our ASGI app against the bare one, without uvicorn or sockets.

The HTTP benchmark measures the whole stack, where uvicorn, httptools and the event loop cost
the same for both apps and blur the part that is ours. Here the same prepared requests (the
``loadtest.traffic`` mix, bearer token and UID2 tokens included) are turned into ASGI scopes and
driven straight into each app's ``__call__`` on one event loop, so the ratio is app code only.
It is also the steadiest number to profile against: ``--profile`` writes a cProfile dump.

    python -m loadtest.bench_inproc [--endpoint rtd segments] [--requests 20000] [--users 100000]
                                    [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script by bench_all

from loadtest import servers, stack, traffic
from loadtest.generator import Prepared

ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[Any]]


def to_scope(prepared: Prepared) -> tuple[dict[str, Any], bytes]:
    """Wire bytes → (ASGI scope, body), the way uvicorn's httptools protocol builds them."""
    head, _, body = prepared.raw.partition(b"\r\n\r\n")
    request_line, *lines = head.split(b"\r\n")
    method, target, _ = request_line.split(b" ", 2)
    path, _, query = target.partition(b"?")
    headers = [(name.strip().lower(), value.strip())
               for name, _, value in (line.partition(b":") for line in lines)]
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 50000), "scheme": "http",
             "method": method.decode(), "root_path": "", "path": path.decode(), "raw_path": path,
             "query_string": query, "headers": headers, "state": {}}
    return scope, body


async def drive(app: ASGI, requests: list[tuple[dict[str, Any], bytes]], rounds: int) -> list[float]:
    """Per-request CPU time (µs) of ``app`` over ``rounds`` passes of ``requests``."""
    statuses: dict[int, int] = {}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses[message["status"]] = statuses.get(message["status"], 0) + 1

    samples: list[float] = []
    clock = time.thread_time_ns
    for _ in range(rounds):
        for scope, body in requests:
            message = {"type": "http.request", "body": body, "more_body": False}

            async def receive(message: dict[str, Any] = message) -> dict[str, Any]:
                return message

            t0 = clock()
            await app(dict(scope), receive, send)
            samples.append((clock() - t0) / 1000.0)
    bad = {s: n for s, n in statuses.items() if s >= 500}
    if bad:
        raise RuntimeError(f"server errors in the in-process run: {bad}")
    return samples


async def with_lifespan(app: ASGI, body: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``body`` inside ``app``'s lifespan (startup before, shutdown after)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started, stopped = asyncio.Event(), asyncio.Event()

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()
        elif message["type"].startswith("lifespan.shutdown"):
            stopped.set()

    lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task: asyncio.Future[None] = asyncio.ensure_future(app(lifespan, receive, send))
    await inbox.put({"type": "lifespan.startup"})
    await started.wait()
    try:
        return await body()
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await stopped.wait()
        await task


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    n = len(ordered)
    return {"mean_us": round(statistics.fmean(ordered), 2), "p50_us": round(ordered[n // 2], 2),
            "p99_us": round(ordered[min(n - 1, int(n * 0.99))], 2)}


def run(endpoint: str, requests: int, users: int, profile: Path | None = None) -> dict[str, Any]:
    from loadtest import bare_app

    with tempfile.TemporaryDirectory(prefix="bench-inproc-") as tmp, stack.prepare(Path(tmp), users) as st:
        from segments import compiled
        from server.app import create_app
        from server.config import load_settings

        settings = load_settings(env={**os.environ, **servers.settings_env(st.data_dir, st.env)})

        mix = traffic.build(st.plan, count=2000, endpoint=endpoint, bearer=st.bearer,
                            uid2_document=st.uid2_document)
        prepared = [to_scope(p) for p in mix]
        rounds = max(1, requests // len(prepared))
        ours = create_app(settings)

        async def measure() -> dict[str, Any]:
            await asyncio.sleep(1.0)  # the UID2 key refresh's first fetch
            await drive(ours, prepared, 1)  # warm caches, as a server that has been up a while
            bare = await drive(bare_app.app, prepared, rounds)
            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            mine = await drive(ours, prepared, rounds)
            if profiler and profile:
                profiler.disable()
                profiler.dump_stats(profile)
            return {"endpoint": endpoint, "hot_path": compiled.state(), "requests": len(mine),
                    "bare": summary(bare), "ours": summary(mine),
                    "ratio_mean": round(statistics.fmean(mine) / statistics.fmean(bare), 2)}

        return asyncio.run(with_lifespan(ours, measure))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", choices=["rtd", "segments"], nargs="+", default=["rtd", "segments"])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--profile", type=Path, help="write a cProfile dump of our app's run here")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = {"results": [run(endpoint, args.requests, args.users, args.profile)
                          for endpoint in args.endpoint]}
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    if args.json:
        args.json.write_bytes(orjson.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
