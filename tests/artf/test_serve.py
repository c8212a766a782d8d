"""``segment-server serve --workers 2`` with ``[grpc] port`` set: the real process, uvloop and all.

Both workers bind the gRPC port (two listening sockets, SO_REUSEPORT); Index's samples get the same
segments over gRPC as over HTTP; bad input gets its status; health answers SERVING; SIGTERM ends
the process cleanly (exit 0) with both servers stopped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.artf.pb import agenticrtbframework_pb2 as artf
from server.artf.service import PATH
from tests.artf.conftest import sample
from tests.helpers import load_json
from tests.serverproc import Server, free_port, run_cli, serve_ready, write_config

pytestmark = pytest.mark.slow


def listening_sockets(port: int) -> int:
    """LISTEN entries for ``port`` in /proc/net/tcp (one per worker when they share it)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                count += 1
    return count


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, int, subprocess.Popen[bytes], Path]]:
    tmp = tmp_path_factory.mktemp("serve")
    grpc_port = free_port()
    config = write_config(tmp / "config.toml", {
        "store": {"data_dir": tmp / "data"},
        "grpc": {"port": grpc_port},
        "auth": {"rtd_enabled": False, "segments_enabled": False, "admin_enabled": False},
    })
    demo = run_cli(config, "demo", "--users", "50")
    assert demo.returncode == 0, demo.stderr
    port = free_port()

    def both_listening(server: Server) -> None:
        server.wait_until(lambda: httpx.get(server.base + "/health/ready", timeout=1).status_code == 200
                          and listening_sockets(grpc_port) == 2, "ready with two gRPC listeners", step_s=0.2)

    with serve_ready(config, "--workers", "2", "--host", "127.0.0.1", "--port", str(port), port=port,
                     logs=tmp / "server.log", merged=True, ready=both_listening) as running:
        yield running.base, grpc_port, running.proc, running.log


def test_both_workers_answer_like_http(served: tuple[str, int, subprocess.Popen[bytes], Path]) -> None:
    base, grpc_port, _, _ = served
    assert listening_sockets(grpc_port) == 2
    http = {name: httpx.post(base + "/rtd", json=load_json(f"index_{name}_request.json"), timeout=10).json()
            for name in ("web", "app")}

    async def go() -> tuple[dict[str, list[str]], grpc.StatusCode, int]:
        got: dict[str, list[str]] = {}
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            call = channel.unary_unary(PATH)
            for name in ("web", "app"):
                answer = await call(sample(name).SerializeToString(), timeout=10)
                response = artf.RTBResponse.FromString(answer)
                got[name] = [i for m in response.mutations if m.intent == artf.ACTIVATE_SEGMENTS
                             for i in m.ids.id]
            try:
                await call(b"\xff\xff", timeout=10)
                bad = grpc.StatusCode.OK
            except grpc.aio.AioRpcError as exc:
                bad = exc.code()
            health_stub = health_pb2_grpc.HealthStub(channel)
            health = await health_stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
        return got, bad, health.status

    got, bad, health = asyncio.run(go())
    assert got == {name: http[name]["segment_ids"] for name in http} and got["web"]
    assert bad is grpc.StatusCode.INVALID_ARGUMENT
    assert health == health_pb2.HealthCheckResponse.SERVING


def test_sigterm_stops_both_grpc_servers(served: tuple[str, int, subprocess.Popen[bytes], Path]) -> None:
    _, grpc_port, proc, log = served
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    assert listening_sockets(grpc_port) == 0
    assert "Traceback" not in log.read_text()
