"""Instructions per request under callgrind: ours against the bare app, in-process — the steady ratio.

CPU-time and throughput ratios on a shared VM move by ±10 % from one run to the next (README,
"Benchmarks"), which hides a change worth 5 %. Callgrind counts the instructions a process
executes; that count does not depend on what else the machine is doing, so it is the number to
compare a hot-path change against. Each app runs twice in a fresh interpreter under valgrind:
once warming the request mix only, once warming it and then driving it ``--rounds`` more times.
The difference, divided by the extra requests, is the steady-state cost of one request, with
interpreter start, imports and the app's startup cancelled out. The apps are driven as in
:mod:`loadtest.bench_inproc` (same ASGI scopes, same ``loadtest.traffic`` mix).

Instructions are not time: cache misses, syscalls and everything uvicorn and the kernel do per
request are outside this count, so it complements the HTTP benchmark and never replaces it.
Needs ``valgrind`` (Debian package ``valgrind``); without it the result says so.

    python loadtest/bench_icount.py [--endpoint rtd segments] [--requests 500] [--rounds 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script by bench_all

from loadtest import server_icount, servers, stack, traffic

TARGETS = ("bare", "ours")
_COLLECTED = re.compile(r"Collected : (\d+)")


def drive(config: Path, target: str, endpoint: str, requests: int, rounds: int) -> None:
    """Inside valgrind: build one app, warm it with the mix once, then drive ``rounds`` more passes."""
    from loadtest import bare_app
    from loadtest.bench_inproc import drive as drive_app
    from loadtest.bench_inproc import to_scope, with_lifespan
    from server.app import create_app
    from server.config import load_settings

    cfg = orjson.loads(config.read_bytes())
    mix = traffic.build(traffic.TrafficPlan(**cfg["plan"]), count=requests, endpoint=endpoint,
                        bearer=cfg["bearer"], uid2_document=cfg["uid2"])
    prepared = [to_scope(p) for p in mix]

    async def passes() -> None:
        await drive_app(app, prepared, 1)
        if rounds:
            await drive_app(app, prepared, rounds)

    if target == "bare":
        app: Any = bare_app.app
        asyncio.run(passes())
        return
    app = create_app(load_settings(env=dict(os.environ)))

    async def served() -> None:
        await asyncio.sleep(0.5)  # the UID2 key refresh's first fetch from the fake operator
        await passes()

    asyncio.run(with_lifespan(app, served))


def count(config: Path, env: dict[str, str], target: str, endpoint: str, requests: int, rounds: int,
          out: Path) -> int:
    """Total instructions of one interpreter run under callgrind."""
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
            str(Path(__file__).resolve()), "--inner", str(config), target, endpoint, str(requests),
            str(rounds)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    found = _COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"{target} {endpoint} under callgrind failed: {proc.stderr.strip()[-800:]}")
    return int(found.group(1))


def write_config(st: stack.Stack, work: Path) -> Path:
    """What the driver needs to rebuild the same mix inside valgrind: plan, bearer token, UID2 keys."""
    config = work / "mix.json"
    config.write_bytes(orjson.dumps({"plan": dataclasses.asdict(st.plan), "bearer": st.bearer,
                                     "uid2": st.uid2_document}))
    return config


def environment(st: stack.Stack, work: Path) -> dict[str, str]:
    """The server's settings for the driver; a fixed hash seed keeps dict layouts, so counts repeat."""
    metrics = work / "metrics"
    metrics.mkdir(exist_ok=True)
    return {**os.environ, **servers.settings_env(st.data_dir, st.env), "PYTHONHASHSEED": "0",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics)}


def run(endpoints: list[str], requests: int, rounds: int, users: int, *,
        server: bool = True) -> dict[str, Any]:
    """App-only counts (``results``) and, with ``server``, whole-server ones (``server``:
    :mod:`loadtest.server_icount`, the number that includes the engine's protocol)."""
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind not installed (Debian package valgrind)"}
    from segments import compiled

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-icount-") as tmp, stack.prepare(Path(tmp), users) as st:
        work = Path(tmp)
        config, env = write_config(st, work), environment(st, work)
        for endpoint in endpoints:
            per: dict[str, float] = {}
            for target in TARGETS:
                base, more = (count(config, env, target, endpoint, requests, n, work / f"cg.{target}.{n}")
                              for n in (0, rounds))
                per[target] = (more - base) / (requests * rounds)
            results.append({"endpoint": endpoint,
                            "instructions_per_request": {k: round(v) for k, v in per.items()},
                            "ratio": round(per["ours"] / per["bare"], 2)})
        whole = server_icount.run(st, work, endpoints) if server else None
    out = {"hot_path": compiled.state(), "requests": requests, "rounds": rounds, "results": results}
    if whole is not None:
        out["server"] = whole
    return out


def main(argv: list[str] | None = None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--inner"]:
        config, target, endpoint, requests, rounds = args_in[1:6]
        drive(Path(config), target, endpoint, int(requests), int(rounds))
        return
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", choices=["rtd", "segments"], nargs="+", default=["rtd", "segments"])
    parser.add_argument("--requests", type=int, default=500, help="distinct requests in the mix (one pass)")
    parser.add_argument("--rounds", type=int, default=2, help="extra passes counted after the warm one")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--no-server", action="store_true",
                        help="skip the whole-server count (loadtest/server_icount.py)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(args_in)
    result = run(args.endpoint, args.requests, args.rounds, args.users, server=not args.no_server)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    if args.json:
        args.json.write_bytes(orjson.dumps(result))


if __name__ == "__main__":
    main()
