"""UID2 identity throughput: DII rows loaded and mapped per second against the in-process fake.

    python loadtest/bench_identity.py [--rows 50000] [--batch 5000] [--json out.json]

No sockets: the fake operator sits behind ``httpx.MockTransport``, so the figures are bounded by
our own work (hashing at load, the envelope, SQLite writes to the identity table and the
snapshot). Time spent inside the fake (opening our envelope, deriving raw UID2s, sealing the
answer) is measured separately and reported, with the rate excluding it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from segments.loader import load
from server.uid2.identity import IdentitySettings, open_jobs
from server.uid2.settings import UID2Settings
from tests.fakes.uid2_identity import FakeIdentityOperator

SECRET = bytes(range(32))


class TimedFake(FakeIdentityOperator):
    spent = 0.0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            return await super().handle(request)
        finally:
            TimedFake.spent += time.perf_counter() - started


def write_rows(path: Path, n: int) -> Path:
    with path.open("w") as fh:
        for i in range(n):
            if i % 2:
                fh.write(json.dumps({"kind": "phone", "key": f"+1555{i:07d}", "segments": ["b"]}) + "\n")
            else:
                fh.write(json.dumps({"kind": "email", "key": f"User.{i}@Example.com",
                                     "segments": ["a", "b"]}) + "\n")
    return path


async def run(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    data = tmp / "data"
    tax = tmp / "tax.jsonl"
    tax.write_text('{"id": "a", "name": "A"}\n{"id": "b", "name": "B"}\n')
    rows = write_rows(tmp / "rows.jsonl", args.rows)
    results: list[dict[str, Any]] = []

    started = time.perf_counter()
    report = load(data, [rows], [tax])
    elapsed = time.perf_counter() - started
    results.append({"phase": "load (normalise+hash+record)", "items": report.dii_rows, "seconds": elapsed,
                    "fake_seconds": 0.0})

    clock = time.time
    fake = TimedFake(secret=SECRET, clock=clock, n_buckets=365)
    uid2 = UID2Settings(enabled=True, base_url="https://operator.test", api_key=fake.operator.api_key,
                        secret=base64.b64encode(SECRET).decode())
    settings = IdentitySettings(enabled=True, map_batch_size=args.batch, optout_batch_size=5000)
    async with open_jobs(data, settings, uid2, transport=fake.transport(), clock=clock) as jobs:
        for phase, job, items in (("map (v3)", "map", None), ("opt-out pass", "optout", None)):
            TimedFake.spent = 0.0
            started = time.perf_counter()
            outcome = await jobs.run(job)  # type: ignore[arg-type]
            elapsed = time.perf_counter() - started
            assert outcome.error is None, outcome.error
            results.append({"phase": phase, "items": items or args.rows, "seconds": elapsed,
                            "fake_seconds": TimedFake.spent})
        fake.rotate(fake.bucket_name(0))
        # Bucket 0's refresh time has passed: make its DII due, as a day of real time would.
        due = [(d,) for (d,) in jobs.db._conn.execute("SELECT did FROM dii")
               if fake.bucket_of(d) == fake.bucket_name(0)]
        jobs.db._conn.executemany("UPDATE dii SET refresh_at = 0 WHERE did = ?", due)
        TimedFake.spent = 0.0
        started = time.perf_counter()
        outcome = await jobs.run("rotate")
        elapsed = time.perf_counter() - started
        results.append({"phase": "rotate 1 of 365 buckets", "items": outcome.rekeyed, "seconds": elapsed,
                        "fake_seconds": TimedFake.spent})
    for r in results:
        r["per_second"] = r["items"] / r["seconds"] if r["seconds"] else 0.0
        ours = r["seconds"] - r["fake_seconds"]
        r["per_second_excluding_fake"] = r["items"] / ours if ours > 0 else 0.0
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as tmp:
        results = asyncio.run(run(args, Path(tmp)))
    print(f"{'phase':32} {'items':>8} {'seconds':>8} {'items/s':>10} {'fake s':>7} {'items/s w/o fake':>17}")
    for r in results:
        print(f"{r['phase']:32} {r['items']:>8} {r['seconds']:>8.2f} {r['per_second']:>10,.0f} "
              f"{r['fake_seconds']:>7.2f} {r['per_second_excluding_fake']:>17,.0f}")
    print(f"python {platform.python_version()} on {platform.machine()}, rows={args.rows}, batch={args.batch}")
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "batch": args.batch, "results": results},
                                        indent=2))


if __name__ == "__main__":
    main()
