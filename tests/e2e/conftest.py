"""Fixtures for the end-to-end layer: real ``segment-server`` processes, shared per worker count.

A server takes 1-3 s to start (demo data, token, uvicorn); the ``served`` fixture starts one per
``--workers`` value for the whole session and every module that only *reads* from it shares it.
Tests that must break a server (kill a worker, remove the store) start their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Server, demo_token, start_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


class _Servers:
    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp = tmp
        self.running: dict[int, Server] = {}

    def get(self, workers: int) -> Server:
        if workers not in self.running:
            server = start_server(self.tmp.mktemp(f"served-{workers}"), workers=workers)
            server.token = demo_token(server)
            server.extra["workers"] = workers
            self.running[workers] = server
        return self.running[workers]

    def close(self) -> None:
        for server in self.running.values():
            server.stop()


@pytest.fixture(scope="session")
def _servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Servers]:
    servers = _Servers(tmp_path_factory)
    yield servers
    servers.close()


@pytest.fixture(scope="session", params=[1, 2], ids=["workers1", "workers2"])
def served(request: pytest.FixtureRequest, _servers: _Servers) -> Server:
    """``segment-server serve --workers N`` on the demo data, auth on, the demo token in ``.token``."""
    server = _servers.get(int(request.param))
    assert server.proc.poll() is None, server.tail()
    return server
