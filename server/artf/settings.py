"""``GrpcSettings``: the ``[grpc]`` config section (Index Exchange's ARTF gRPC endpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from server.sections import Section

KIB = 1024


@dataclass(frozen=True, slots=True)
class GrpcSettings(Section):
    """Every field maps 1:1 to a key of ``[grpc]`` in ``config/default.toml``.

    >>> GrpcSettings().enabled, GrpcSettings(port=50051).enabled
    (False, True)
    """

    section: ClassVar[str] = "grpc"

    #: Port of ``RTBExtensionPoint/GetMutations``; 0 = no gRPC server. Every uvicorn worker serves
    #: it on this same port (SO_REUSEPORT). 50051 is the port Index's and IAB's build kits use.
    port: int = 0
    #: Bind address; empty = the same as ``[server] host``.
    host: str = ""
    #: Largest request message accepted; bigger ones get RESOURCE_EXHAUSTED (as HTTP /rtd's 413).
    max_message_bytes: int = 64 * KIB
    #: With less time than this left before the caller's deadline or ``tmax``, the answer is an
    #: empty mutation list sent at once (an answer that arrives late is worth nothing to Index).
    min_budget_ms: float = 0.5
    #: ``RTBResponse.metadata.api_version``: the ARTF version these mutations follow.
    api_version: str = "1.0"
    #: Seconds in-flight calls get to finish at shutdown before they are cancelled.
    grace_seconds: float = 5.0
    #: Serve gRPC server reflection (grpcurl and friends list and call the service without .proto files).
    reflection: bool = True

    @property
    def enabled(self) -> bool:
        return self.port != 0

    def validate(self, section: str) -> list[str]:
        problems = []
        if not 0 <= self.port <= 65535:
            problems.append(f"port: {self.port} is not a TCP port (0 = off)")
        if not KIB <= self.max_message_bytes <= 16 * KIB * KIB:
            problems.append(f"max_message_bytes: {self.max_message_bytes} outside 1024–16777216")
        if not 0 <= self.min_budget_ms <= 1000:
            problems.append(f"min_budget_ms: {self.min_budget_ms} outside 0–1000")
        if not 0 <= self.grace_seconds <= 300:
            problems.append(f"grace_seconds: {self.grace_seconds} outside 0–300")
        if not self.api_version:
            problems.append("api_version: must not be empty")
        return problems
