"""The ``grpc.aio`` server a worker runs beside uvicorn, started and stopped by the app lifespan.

One per worker, all on the same port: gRPC sets ``SO_REUSEPORT`` on Linux, so the kernel spreads
new connections over the workers as it does for uvicorn's shared socket, and each worker answers
from its own store, keys, privacy gate and metric tallies — the ones its HTTP ``/rtd`` uses.
Also served: ``grpc.health.v1.Health`` (``""`` and the ARTF service: SERVING while up,
NOT_SERVING from the start of shutdown) and, when configured, server reflection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from server.artf import service
from server.artf.pb import agenticrtbframeworkservices_pb2  # noqa: F401 -- registers the service for reflection
from server.artf.settings import GrpcSettings
from server.rtd import RtdEndpoint
from server.services import Services

SERVING: Final = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING: Final = health_pb2.HealthCheckResponse.NOT_SERVING
HEALTH_SERVICE: Final = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
log = structlog.get_logger("server.artf")


@dataclass
class ArtfServer:
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int  # the bound port (the configured one)
    grace: float

    async def stop(self) -> None:
        """Report NOT_SERVING, refuse new calls, let in-flight ones finish within the grace period."""
        for name in ("", service.SERVICE):
            await self.health.set(name, NOT_SERVING)
        await self.server.stop(self.grace)


def options(settings: GrpcSettings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),  # larger → RESOURCE_EXHAUSTED
        ("grpc.max_send_message_length", 4 * 1024 * 1024),  # 500 segments and the deal lists fit easily
        ("grpc.so_reuseport", 1),  # every worker binds the same port
        # Index keeps connections alive: allow its pings without tripping "too_many_pings".
        ("grpc.http2.min_ping_interval_without_data_ms", 5000),
        ("grpc.keepalive_permit_without_calls", 1),
    ]


async def start(endpoint: RtdEndpoint, settings: GrpcSettings, default_host: str) -> ArtfServer:
    """Bind and start; raises (and so fails the worker's start) when the port cannot be bound."""
    server = grpc.aio.server(options=options(settings))
    server.add_generic_rpc_handlers((service.handler(endpoint, settings),))
    checks = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    if settings.reflection:
        reflection.enable_server_reflection((service.SERVICE, HEALTH_SERVICE, reflection.SERVICE_NAME),
                                            server)
    host = settings.host or default_host
    address = f"[{host}]:{settings.port}" if ":" in host else f"{host}:{settings.port}"
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:  # the worker's start fails, naming the setting
        raise RuntimeError(f"[grpc] port: cannot bind {address} ({exc})") from None
    await server.start()
    for name in ("", service.SERVICE):
        await checks.set(name, SERVING)
    log.info("grpc.started", address=address, method=service.PATH, reflection=settings.reflection)
    return ArtfServer(server, checks, port, settings.grace_seconds)


async def start_for(services: Services) -> ArtfServer | None:
    """The lifespan's hook: this worker's server when ``[grpc] port`` is set, else ``None``.

    It gets an :class:`RtdEndpoint` of its own around the worker's :class:`Services` — the same
    store, keys, gate, guard and mirror as HTTP; only the privacy-decision memo is per endpoint.
    """
    settings = services.settings.grpc
    if not settings.enabled:
        return None
    return await start(RtdEndpoint(services), settings, services.settings.server.host)
