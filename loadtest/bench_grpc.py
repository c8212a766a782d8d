"""gRPC ``GetMutations`` vs HTTP ``POST /rtd``: same server process, same requests, same run.

One ``segment-server serve --workers 1`` (one event loop: "one core" for our code; gRPC core adds
its own I/O threads, whose CPU is counted) serves both protocols on the demo data. The requests
are the Index-shaped mix of :mod:`loadtest.traffic` (no UID2 tokens: no fake operator here), each
sent as the JSON body over HTTP/1.1 keep-alive and as the equivalent ``RTBRequest`` over one
HTTP/2 channel, with the server's bearer token on both.

Closed loop, bounded: for each concurrency level, HTTP and gRPC rounds alternate (``--rounds``
each, ``--seconds`` long), so drift on a shared machine hits both; a round reports req/s, p50/p99
of the calls it completed, and the server's CPU µs per request (from /proc — the steadiest number
on a shared machine, and the one that does not depend on this Python client's own speed). The
median round per protocol is reported. Concurrency 1 is unloaded latency; 16 approaches the
ceiling (the client, in Python on the other core, may be the limit: compare CPU µs/req).

One HTTP/2 connection carries every gRPC call here (one worker). With several workers, note that
a gRPC client multiplexes all its calls over one connection per target, and a connection stays
on the worker the kernel gave it: load spreads over workers by connection, not by call.

    python -m loadtest.bench_grpc [--seconds 3] [--rounds 3] [--concurrency 1 16] [--users 10000]
                                  [--json out.json] [--icount]

``--icount`` adds the steady in-process number: instructions per request under callgrind (as
:mod:`loadtest.bench_icount`) of our own code per protocol, frameworks excluded — HTTP's
``RtdEndpoint.handle`` (JSON parse included) against gRPC's ``GetMutations.answer`` (decode,
conversion, chain, encode) and the gRPC parts alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python loadtest/bench_grpc.py` (bench_all)

import grpc
import orjson

from loadtest import servers, stack, traffic
from loadtest.generator import percentile
from server.artf.convert import bid_request_from_json
from server.artf.pb import agenticrtbframework_pb2 as artf
from server.artf.service import PATH

Call = Callable[[int], Awaitable[None]]
Opener = Callable[[], Awaitable[tuple[Call, Callable[[], Awaitable[None]]]]]  # () -> (call, close)


Metadata = list[tuple[tuple[str, str], ...]]


def build_requests(plan: traffic.TrafficPlan, bearer: str | None,
                   count: int) -> tuple[list[bytes], list[bytes], Metadata]:
    """(HTTP request bytes, RTBRequest bytes, gRPC metadata) for ``count`` requests of the mix."""
    builder = traffic._Builder(plan, traffic.demo_keys(plan), None, random.Random(plan.seed))
    http, pb, metadata = [], [], []
    for i in range(count):
        _, doc, headers = builder.rtd()
        http.append(traffic._post("/rtd", orjson.dumps(doc), headers, bearer))
        request = artf.RTBRequest(id=f"bench-{i}", tmax=50, lifecycle=artf.LIFECYCLE_PUBLISHER_BID_REQUEST,
                                  bid_request=bid_request_from_json(doc))
        pb.append(request.SerializeToString())
        md = [("authorization", f"Bearer {bearer}")] if bearer else []
        md += [(k.lower(), v) for k, v in headers.items()]
        metadata.append(tuple(md))
    return http, pb, metadata


async def run_round(make_call: Callable[[], Awaitable[tuple[Call, Callable[[], Awaitable[None]]]]],
                    concurrency: int, seconds: float, count: int) -> tuple[list[float], int, float]:
    """(latencies in ms, errors, elapsed s) of ``concurrency`` loops calling for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def loop(offset: int) -> None:
        nonlocal errors
        call, close = await make_call()
        i = offset
        try:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    await call(i % count)
                    latencies.append((time.perf_counter() - started) * 1000.0)
                except Exception:  # noqa: BLE001 -- counted; the bench reports errors, it does not stop
                    errors += 1
                i += concurrency
        finally:
            await close()

    started = time.perf_counter()
    await asyncio.gather(*(loop(k) for k in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def http_caller(port: int, requests: list[bytes]) -> Opener:
    async def make() -> tuple[Call, Callable[[], Awaitable[None]]]:
        reader, writer = await asyncio.open_connection(servers.HOST, port)

        async def call(i: int) -> None:
            writer.write(requests[i])
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head[:40].decode("latin-1"))
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)

        async def close() -> None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

        return call, close
    return make


def grpc_caller(channel: grpc.aio.Channel, requests: list[bytes],
                metadata: Metadata) -> Opener:
    method = channel.unary_unary(PATH)

    async def make() -> tuple[Call, Callable[[], Awaitable[None]]]:
        async def call(i: int) -> None:
            await method(requests[i], metadata=metadata[i], timeout=5.0)

        async def close() -> None:
            return None

        return call, close
    return make


def summarise(latencies: list[float], errors: int, elapsed: float, cpu_s: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    n = len(ordered)
    return {"requests": n, "errors": errors, "req_per_s": round(n / elapsed, 1),
            "p50_ms": round(percentile(ordered, 50), 3), "p99_ms": round(percentile(ordered, 99), 3),
            "server_cpu_us_per_req": round(cpu_s / max(n, 1) * 1e6, 1)}


async def measure(server: servers.ServerProcess, grpc_port: int, http: list[bytes], pb: list[bytes],
                  metadata: list[tuple[tuple[str, str], ...]], args: argparse.Namespace) -> dict[str, Any]:
    pids = server.worker_pids() or [server.proc.pid]
    results: dict[str, Any] = {}
    async with grpc.aio.insecure_channel(f"{servers.HOST}:{grpc_port}") as channel:
        callers = {"http_rtd": http_caller(server.port, http),
                   "grpc_getmutations": grpc_caller(channel, pb, metadata)}
        for make in callers.values():  # warm-up: connections, caches, first-call costs
            await run_round(make, 4, 1.0, len(http))
        for concurrency in args.concurrency:
            rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in callers}
            for _ in range(args.rounds):
                for name, make in callers.items():
                    cpu0 = servers.cpu_seconds(pids)
                    lat, errors, elapsed = await run_round(make, concurrency, args.seconds, len(http))
                    rounds[name].append(summarise(lat, errors, elapsed, servers.cpu_seconds(pids) - cpu0))
            results[f"c{concurrency}"] = {
                name: {"median": median_round(runs), "rounds": runs} for name, runs in rounds.items()}
    return results


def median_round(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median req/s (a real round, not a mix of rounds)."""
    ordered = sorted(runs, key=lambda r: r["req_per_s"])
    return ordered[len(ordered) // 2]


def table(results: dict[str, Any]) -> str:
    lines = ["| concurrency | protocol | req/s | p50 ms | p99 ms | server CPU µs/req | errors |",
             "|---|---|---|---|---|---|---|"]
    for level, by_protocol in results.items():
        for name, data in by_protocol.items():
            m = data["median"]
            lines.append(f"| {level[1:]} | {name} | {m['req_per_s']} | {m['p50_ms']} | {m['p99_ms']} | "
                         f"{m['server_cpu_us_per_req']} | {m['errors']} |")
    return "\n".join(lines)


ICOUNT_TARGETS = ("http_handle", "grpc_answer", "grpc_decode_convert", "grpc_chain", "grpc_encode")


def icount_drive(data_dir: str, target: str, rounds: int, count: int) -> None:
    """Inside valgrind: one target over ``count`` requests, twice to warm, then ``rounds`` more passes."""
    import gc
    from typing import cast

    from server.artf import convert
    from server.artf.service import GetMutations
    from server.config import load_settings
    from server.lookup import Answer
    from server.rtd import RtdEndpoint
    from server.wiring import build_services

    class Context:
        def __init__(self, md: tuple[tuple[str, str], ...]) -> None:
            self.md = md

        def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
            return self.md

        def time_remaining(self) -> float:
            return 1.0

    http, pb, metadata = build_requests(traffic.TrafficPlan(users=int(os.environ["BENCH_USERS"])), None,
                                        count)
    settings = load_settings(env={},
                             overrides={"store": {"data_dir": data_dir, "check_interval_seconds": 3600.0},
                                                "auth": {"rtd_enabled": False}})
    endpoint = RtdEndpoint(build_services(settings))
    service = GetMutations(endpoint, settings.grpc)
    bodies = [(raw.split(b"\r\n\r\n", 1)[1], b"\r\nSec-GPC: 1" in raw) for raw in http]
    contexts = [cast(Any, Context(md)) for md in metadata]
    docs = [convert.bid_request_doc(artf.RTBRequest.FromString(raw).bid_request) for raw in pb]
    answer, meta = Answer(["s1", "s2", "s3", "s4"], ["d1", "d2"], False, []), artf.Metadata(api_version="1.0")
    one: Callable[[int], object] = {
        "http_handle": lambda i: endpoint.handle(orjson.loads(bodies[i][0]), gpc=bodies[i][1]),
        "grpc_answer": lambda i: service.answer(pb[i], contexts[i]),
        "grpc_decode_convert":
            lambda i: convert.bid_request_doc(artf.RTBRequest.FromString(pb[i]).bid_request),
        "grpc_chain": lambda i: endpoint.run(docs[i], endpoint="grpc"),
        "grpc_encode": lambda i: convert.response_bytes("bench-1", answer, (), ["1"], meta),
    }[target]
    gc.collect()
    gc.freeze()
    gc.disable()  # a collection landing in one run and not the other would swamp the difference
    for _ in range(2 + rounds):
        for i in range(count):
            one(i)


def icount(data_dir: Path, users: int, count: int = 500, rounds: int = 4) -> dict[str, Any]:
    """Instructions per request of each target: (run with ``rounds`` more passes − run without) / requests."""
    import re
    import shutil
    import subprocess

    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind not installed (Debian package valgrind)"}
    env = {**os.environ, "PYTHONHASHSEED": "0", "BENCH_USERS": str(users)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    out: dict[str, Any] = {}
    for target in ICOUNT_TARGETS:
        totals = []
        for extra in (0, rounds):
            argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={data_dir.parent}/cg.out",
                    sys.executable, str(Path(__file__).resolve()), "--icount-inner", str(data_dir), target,
                    str(extra), str(count)]
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            found = re.search(r"Collected : (\d+)", proc.stderr)
            if proc.returncode != 0 or found is None:
                raise RuntimeError(f"{target} under callgrind failed: {proc.stderr.strip()[-800:]}")
            totals.append(int(found.group(1)))
        out[target] = round((totals[1] - totals[0]) / (rounds * count))
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--icount-inner":
        data_dir, target, rounds, count = sys.argv[2:6]
        icount_drive(data_dir, target, int(rounds), int(count))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--count", type=int, default=2000, help="distinct requests, cycled")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--icount", action="store_true",
                        help="also count instructions per request (callgrind)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-grpc-") as tmp, \
            stack.prepare(Path(tmp), args.users, uid2=False, auth=True) as st:
        http, pb, metadata = build_requests(st.plan, st.bearer, args.count)
        grpc_port = servers.free_port()
        env = {**st.env, "SEGMENT_SERVER_GRPC__PORT": str(grpc_port)}
        with servers.running(servers.start_ours(st.data_dir, workers=1, env=env)) as server:
            results = asyncio.run(measure(server, grpc_port, http, pb, metadata, args))
        instructions = icount(st.data_dir, args.users) if args.icount else None
        out = {"features": {**st.features, "auth": st.bearer is not None, "workers": 1,
                            "request_bytes_mean": {"http": round(statistics.mean(map(len, http))),
                                                   "grpc": round(statistics.mean(map(len, pb)))}},
               "settings": vars(args) | {"json": str(args.json) if args.json else None}, "results": results,
               "instructions_per_request": instructions}
    print(table(results))
    if instructions:
        print("instructions per request (in-process, callgrind):", instructions)
    print(orjson.dumps(out["features"]).decode())
    if args.json:
        args.json.write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
