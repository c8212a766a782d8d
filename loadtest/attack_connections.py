"""A probe's latency while idle and slowloris connections attack one worker (issue 25, item 9).

Starts ``segment-server serve`` (one worker, demo data, auth off, the shipped ``[server]``
connection limits unless ``--set key=value`` overrides them), then for ``--seconds``:

* ``--idle`` connections that connect and send nothing (reconnecting whenever closed),
* ``--slow`` slowloris connections that send a request line and one header line per second,
  never finishing their headers (reconnecting whenever closed),
* a probe — another process — that POSTs Index's kind of ``/rtd`` body over one keep-alive
  connection every 5 ms and records each latency.

The probe first runs alone for the same time, so both figures come from the same machine state.
Prints p50/p99/max and how many attack connections the server closed; a short bounded run on
loopback only.

    python loadtest/attack_connections.py [--idle 1000] [--slow 200] [--seconds 20]
                                          [--set max_connections=100000]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.server.live import live_server  # the same real-process harness the tests use

BODY = orjson.dumps({"site": {"page": "https://example.com/sports/football"},
                     "device": {"ip": "198.51.100.7"},
                     "user": {"id": "AbcdEfgHijklmnoP"}})
HEAD = b"POST /rtd HTTP/1.1\r\nhost: attack\r\ncontent-type: application/json\r\n"


def probe(port: int, seconds: float) -> list[float]:
    """Sequential keep-alive POSTs, 5 ms apart; latency in ms; a dropped connection is reopened."""
    out: list[float] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        try:
            conn.request("POST", "/rtd", BODY, {"content-type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"probe got {response.status}")
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            out.append(float("inf"))
            continue
        out.append((time.perf_counter() - started) * 1000)
        time.sleep(0.005)
    conn.close()
    return out


async def _attacker(port: int, slow: bool, end: float, closed: list[int]) -> None:
    while time.monotonic() < end:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        try:
            if slow:
                writer.write(HEAD)
            n = 0
            while time.monotonic() < end:
                if slow:
                    writer.write(f"x-slow-{n}: 1\r\n".encode())
                    n += 1
                try:
                    data = await asyncio.wait_for(reader.read(4096), timeout=1.0)
                except TimeoutError:
                    continue
                if not data:
                    break
            else:
                return
            closed[0] += 1
        except OSError:
            closed[0] += 1
        finally:
            writer.close()


def attack(port: int, idle: int, slow: int, seconds: float, report: multiprocessing.SimpleQueue[int]) -> None:
    async def main() -> int:
        end = time.monotonic() + seconds
        closed = [0]
        tasks = [asyncio.create_task(_attacker(port, False, end, closed)) for _ in range(idle)]
        tasks += [asyncio.create_task(_attacker(port, True, end, closed)) for _ in range(slow)]
        await asyncio.gather(*tasks, return_exceptions=True)
        return closed[0]

    report.put(asyncio.run(main()))


def summary(name: str, latencies: list[float]) -> dict[str, object]:
    ok = sorted(v for v in latencies if v != float("inf"))
    p99 = ok[min(len(ok) - 1, int(len(ok) * 0.99))] if ok else None
    return {"run": name, "requests": len(latencies), "failed": len(latencies) - len(ok),
            "p50_ms": round(statistics.median(ok), 2) if ok else None,
            "p99_ms": round(p99, 2) if p99 is not None else None, "max_ms": round(ok[-1], 2) if ok else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--set", action="append", default=[], help="[server] key=value override")
    args = parser.parse_args()
    overrides: dict[str, object] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = float(value) if "." in value else int(value)
    with tempfile.TemporaryDirectory(prefix="attack-") as tmp, live_server(Path(tmp),
                                                                           server=overrides) as live:
        results = [summary("probe alone", probe(live.port, args.seconds))]
        report: multiprocessing.SimpleQueue[int] = multiprocessing.SimpleQueue()
        attacker = multiprocessing.Process(target=attack,
                                           args=(live.port, args.idle, args.slow, args.seconds + 3, report))
        attacker.start()
        time.sleep(3)  # let the attack connections open
        results.append(summary(f"during {args.idle} idle + {args.slow} slowloris",
                               probe(live.port, args.seconds)))
        attacker.join()
        results[-1]["attack_connections_closed_by_server"] = report.get()
        results[-1]["server_settings"] = overrides or "shipped defaults"
    for row in results:
        print(orjson.dumps(row).decode())


if __name__ == "__main__":
    main()
