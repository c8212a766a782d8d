"""A real app with its gRPC server on a free loopback port, and a real ``grpc.aio`` client.

The app runs under Starlette's TestClient (its lifespan, so the gRPC server is started exactly as
``serve`` starts it, in the worker's lifespan); each call runs a ``grpc.aio`` channel in
``asyncio.run`` on the test's thread. HTTP requests go to the same app, so both protocols are
answered by the same store, gate and metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import text_format
from starlette.testclient import TestClient

from server.app import create_app
from server.artf.pb import agenticrtbframework_pb2 as artf
from server.artf.service import PATH
from tests.helpers import build_data_dir, settings_for
from tests.server.conftest import MEMBERS
from tests.serverproc import free_port

HERE = Path(__file__).parent


def sample(name: str) -> artf.RTBRequest:
    """Index's sample request ``name`` ("web" or "app") as an ``RTBRequest`` (tests/artf/data/)."""
    return text_format.Parse((HERE / "data" / f"index_{name}_request.txtpb").read_text(), artf.RTBRequest())


@dataclass
class Artf:
    http: TestClient
    port: int
    data_dir: Path

    def call_raw(self, body: bytes, *, token: str | None = None, timeout: float | None = 10.0,
                 metadata: Sequence[tuple[str, str]] = ()) -> bytes:
        """One unary call with raw bytes in and out; raises ``grpc.aio.AioRpcError`` on a non-OK status."""
        md = (*metadata, ("authorization", f"Bearer {token}")) if token else tuple(metadata)

        async def go() -> bytes:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{self.port}") as channel:
                method = channel.unary_unary(PATH)
                result: bytes = await method(body, timeout=timeout, metadata=md)
                return result

        return asyncio.run(go())

    def call(self, request: artf.RTBRequest, **kwargs: Any) -> artf.RTBResponse:
        return artf.RTBResponse.FromString(self.call_raw(request.SerializeToString(), **kwargs))

    def status(self, body: bytes, **kwargs: Any) -> tuple[grpc.StatusCode, str]:
        """The status code and details of a call expected to fail."""
        try:
            self.call_raw(body, **kwargs)
        except grpc.aio.AioRpcError as exc:
            return exc.code(), exc.details() or ""
        return grpc.StatusCode.OK, ""


def start(tmp: Path, **sections: Any) -> Iterator[Artf]:
    data_dir = build_data_dir(tmp, MEMBERS)
    port = free_port()
    grpc_section = {"port": port, **sections.pop("grpc", {})}
    # A loopback client, as a local Prometheus scrape is: /metrics answers it without a token.
    with TestClient(create_app(settings_for(data_dir, grpc=grpc_section, **sections)),
                    client=("127.0.0.1", 50000)) as http:
        yield Artf(http, port, data_dir)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Artf]:
    """Auth off (as the HTTP endpoint tests run); auth has its own fixture in test_auth.py."""
    yield from start(tmp_path_factory.mktemp("artf"))
