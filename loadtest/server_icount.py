"""Instructions per request of a whole server process under callgrind: engine, protocol and app.

:mod:`loadtest.bench_icount` counts the app alone, driven in-process through ASGI. Since issue 21
the uvicorn engine answers ``/rtd`` and ``/segments`` from its protocol (:mod:`server.direct`,
no ASGI), so the app-only count no longer holds what a request costs: this one runs each server
(``segment-server serve`` and the bare baseline under uvicorn, one worker) under valgrind with
instrumentation off, warms it with the request mix over loopback sockets, switches counting on
(``callgrind_control -i on``), sends the mix ``rounds`` more times over 4 keep-alive connections,
one request at a time, and divides. Everything in the server's user space is counted — uvicorn,
httptools, uvloop, the app — and nothing in the kernel (``read``/``write``/``epoll`` are the same
for both). Needs ``valgrind``; the server runs ~50× slower under it, so periodic work (the
metrics flush, the upkeep tick) weighs a little more per request than at full speed.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import httptools

from loadtest import servers, stack, traffic
from loadtest.generator import Prepared

CONNECTIONS = 4
_TOTALS = re.compile(r"^totals: (\d+)", re.M)


class _Done:
    def __init__(self) -> None:
        self.done = False

    def on_message_complete(self) -> None:
        self.done = True


def send(port: int, mix: list[Prepared], rounds: int) -> None:
    """Each request of ``mix`` ``rounds`` times, waiting for each answer (no pipelining)."""
    socks = [socket.create_connection((servers.HOST, port), timeout=120) for _ in range(CONNECTIONS)]
    try:
        for _ in range(rounds):
            for i, request in enumerate(mix):
                sock = socks[i % CONNECTIONS]
                sock.sendall(request.raw)
                state = _Done()
                parser = httptools.HttpResponseParser(state)
                while not state.done:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("server closed the connection")
                    parser.feed_data(chunk)
    finally:
        for sock in socks:
            sock.close()


def _control(*command: str) -> None:
    """``callgrind_control`` on every callgrind run on the machine: one worker is the server's
    only process, and nothing else here runs under callgrind meanwhile."""
    subprocess.run(["callgrind_control", *command], check=True, capture_output=True)


def measure(target: str, st: stack.Stack, mix: list[Prepared], rounds: int, work: Path) -> float:
    """Instructions per request of ``target`` ("bare" or "ours") on the uvicorn engine."""
    out = work / f"callgrind.{target}.out"
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    if target == "bare":
        server = servers.start_bare(log_dir=work / "logs", timeout=900, launcher=valgrind)
    else:
        server = servers.start_ours(st.data_dir, env=st.env, log_dir=work / "logs", timeout=900,
                                    engine="uvicorn", launcher=valgrind)
    try:
        send(server.port, mix, 1)  # warm: caches, lazily built state, the first UID2 key fetch
        _control("-i", "on")
        send(server.port, mix, rounds)
        _control("-i", "off")
        _control("-d")
    finally:
        server.stop()
    total = sum(int(m.group(1)) for f in work.glob(f"callgrind.{target}.out*")
                for m in [_TOTALS.search(f.read_text(errors="replace"))] if m)
    return total / (len(mix) * rounds)


def run(st: stack.Stack, work: Path, endpoints: list[str], requests: int = 300,
        rounds: int = 2) -> dict[str, Any]:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        return {"skipped": "valgrind not installed (Debian package valgrind)"}
    results = []
    for endpoint in endpoints:
        mix = traffic.build(st.plan, count=requests, endpoint=endpoint, bearer=st.bearer,
                            uid2_document=st.uid2_document)
        per = {}
        for target in ("bare", "ours"):
            target_dir = work / f"server-{endpoint}-{target}"
            target_dir.mkdir(parents=True, exist_ok=True)
            per[target] = measure(target, st, mix, rounds, target_dir)
        results.append({"endpoint": endpoint,
                        "instructions_per_request": {k: round(v) for k, v in per.items()},
                        "ratio": round(per["ours"] / per["bare"], 2)})
    return {"engine": "uvicorn", "requests": requests, "rounds": rounds, "results": results}
