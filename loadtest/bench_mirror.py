"""Xandr mirror throughput vs the documented ceiling, and hot-path cost with Xandr up vs down.

1. Throughput: the outbox is pre-filled with ``--seconds`` × 1000 intents; one sender drains it
   to the fake Xandr on 127.0.0.1 (uvicorn, real HTTP), which enforces the documented limits
   (100 POST/s, 1000 users/s, as leaky buckets). Reported: users/s delivered in steady state —
   from the first accepted request to the last, not counting the first request's users (the
   bucket starts full, so that burst is free) — and its ratio to 1000 users/s (target ≥ 0.95).
2. Hot path: p50/p99 of ``Mirror.offer()`` (2 users × 2 segments) with the embedded sender
   running against the fake answering normally vs. answering every request 503 (Xandr down).
   The /rtd p99 itself belongs to the lead's RTD benchmark; offer() is the mirror's share of it.

3. With ``--cluster``: the same throughput through a real ``redis-server`` (installed by apt when
   missing, on a free loopback port): the node's outbox is forwarded into the member's stream
   (pipelined XADD scripts; rows/s reported) and the stream sender drains it, with the lease and
   the shared rate buckets in the engine.

Usage: ``python loadtest/bench_mirror.py [--seconds 20] [--cluster] [--json PATH]``; ~30–40 s
(twice the throughput part with ``--cluster``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson
import structlog

from segments.taxonomy import Segment, XandrMapping
from server.mirror import limits
from server.mirror.outbox import Outbox
from server.mirror.queue import Mirror, make_sender
from server.mirror.settings import MirrorSettings
from server.mirror.types import SegBlock
from tests.fakes.xandr import FakeXandr, Fault, LoopbackServer

SEGMENTS = [Segment(id="s1", xandr=XandrMapping(seg_id=10001, value=1, expiration=1440)),
            Segment(id="s2", xandr=XandrMapping(seg_code="abcd", member_id=1661, value=1, expiration=1440))]


def settings_for(base: str, data_dir: Path, **kw: object) -> MirrorSettings:
    return MirrorSettings(enabled=True, data_dir=data_dir, api_url=base, streaming_url=base,
                          username="mirror-user", password="s3cret", **kw)  # type: ignore[arg-type]


async def throughput(seconds: float) -> dict[str, float]:
    fake = FakeXandr(latency=0.02)
    n = int(seconds * limits.USERS_PER_SECOND)
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer(fake) as base:
        box = Outbox(Path(tmp))
        box.add_many([(f"user-{i}", None, SegBlock(seg_id=10001, value=1, expiration=1440))
                      for i in range(n)])
        sender = make_sender(settings_for(base, Path(tmp)), box)
        task = asyncio.create_task(sender.run())
        t0 = time.monotonic()
        while box.depth() and time.monotonic() - t0 < seconds * 3:
            await asyncio.sleep(0.05)
        sender.stop()
        await task
        await sender.aclose()
        box.close()
    return delivery_figures(fake, n)


def delivery_figures(fake: FakeXandr, n: int) -> dict[str, float]:
    deliveries = sorted(fake.delivered)
    steady_users = sum(u for _, u in deliveries[1:])
    span = deliveries[-1][0] - deliveries[0][0] if len(deliveries) > 1 else float("nan")
    rate = steady_users / span
    return {"intents": n, "delivered": fake.users_delivered, "requests": len(deliveries),
            "span_seconds": round(span, 2), "users_per_second": round(rate, 1),
            "ratio_to_1000": round(rate / limits.USERS_PER_SECOND, 3), "violations": len(fake.violations),
            "http_429": sum(1 for _, s in fake.log if s == 429)}


async def cluster_throughput(seconds: float) -> dict[str, float]:
    """Outbox → forwarder → the engine's stream → stream sender (lease, shared buckets) → fake."""
    from server.cluster import ClusterSettings
    from server.cluster.engine import connect
    from server.cluster.stream import StreamKeys, StreamOutbox
    from server.cluster.stream_forward import Forwarder, make_stream_sender
    from tests.cluster.engine import RedisProcess

    fake = FakeXandr(latency=0.02)
    n = int(seconds * limits.USERS_PER_SECOND)
    redis_server = RedisProcess().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, LoopbackServer(fake) as base:
            cluster = ClusterSettings(enabled=True, url=redis_server.url, key_prefix="bench")
            engine = connect(cluster)
            stream = StreamOutbox(engine, StreamKeys.of("bench", None))
            await stream.ensure_group()
            box = Outbox(Path(tmp))
            box.add_many([(f"user-{i}", None, SegBlock(seg_id=10001, value=1, expiration=1440))
                          for i in range(n)])
            t0 = time.perf_counter()
            await Forwarder(box, stream, box.node_id(), 10_000_000).forward_once()
            forward_s = time.perf_counter() - t0
            sender = make_stream_sender(settings_for(base, Path(tmp)), stream, box)
            task = asyncio.create_task(sender.run())
            t0 = time.monotonic()
            while fake.users_delivered < n and time.monotonic() - t0 < seconds * 3:
                await asyncio.sleep(0.05)
            sender.stop()
            await task
            await sender.aclose()
            box.close()
            await engine.aclose()
    finally:
        redis_server.close()
    return {**delivery_figures(fake, n), "forward_rows_per_second": round(n / forward_s)}


async def offer_latency(down: bool, calls: int = 20_000) -> dict[str, str | float]:
    fake = FakeXandr(latency=0.02)
    if down:
        fake.inject(*[Fault.SERVER_ERROR] * 1_000_000)
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer(fake) as base:
        mirror = Mirror(settings_for(base, Path(tmp), dedup_fraction=0.0, backoff_max=1.0))
        await mirror.start()
        samples = []
        for i in range(calls):
            users = [(f"x{i}", None), (f"ifa-{i}", "idfa")]
            t = time.perf_counter()
            mirror.offer(users, SEGMENTS)
            samples.append(time.perf_counter() - t)
            if i % 50 == 0:
                await asyncio.sleep(0.001)  # let the flusher and sender run, as between requests
        await mirror.stop(sender_grace=2.0)
    samples.sort()
    return {"xandr": "down (503)" if down else "up", "p50_us": round(samples[len(samples) // 2] * 1e6, 2),
            "p99_us": round(samples[int(len(samples) * 0.99)] * 1e6, 2),
            "max_us": round(samples[-1] * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="intents = seconds × 1000 users")
    parser.add_argument("--cluster", action="store_true", help="also drain through a redis-server stream")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # warnings and up only

    tp = asyncio.run(throughput(args.seconds))
    ctp = asyncio.run(cluster_throughput(args.seconds)) if args.cluster else None
    lat = [asyncio.run(offer_latency(False)), asyncio.run(offer_latency(True))]

    print("\nXandr mirror → fake Xandr on 127.0.0.1 (documented ceiling: 1000 users/s, 100 POST/s)")
    print(f"{'intents':>8} {'delivered':>9} {'requests':>8} {'span s':>7} {'users/s':>8} {'ratio':>6} "
          f"{'429s':>5} {'limit breaches':>14}")
    for name, row in (("local", tp), ("cluster", ctp)):
        if row is None:
            continue
        print(f"{row['intents']:>8} {row['delivered']:>9} {row['requests']:>8} {row['span_seconds']:>7} "
              f"{row['users_per_second']:>8} {row['ratio_to_1000']:>6} {row['http_429']:>5} "
              f"{row['violations']:>14}  {name}")
        target = "PASS" if row["ratio_to_1000"] >= 0.95 else "FAIL"
        print(f"target ratio ≥ 0.95: {target}")
    if ctp is not None:
        print(f"forwarded into the engine's stream: {ctp['forward_rows_per_second']} rows/s")
    print()
    print("Mirror.offer() (2 users × 2 segments), embedded sender running")
    print(f"{'xandr':>11} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>8}")
    for latency in lat:
        print(f"{latency['xandr']:>11} {latency['p50_us']:>8} {latency['p99_us']:>8} {latency['max_us']:>8}")
    if args.json:
        results = {"throughput": tp, "cluster_throughput": ctp, "offer_latency": lat}
        args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
