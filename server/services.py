"""The long-lived objects the hot endpoints use, built once per worker in the lifespan.

Handlers take a :class:`Services` at construction so tests can build them around a real store
and real collaborators without the whole app.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from segments.store.base import SegmentStore
from segments.taxonomy import Segment
from server.config import Settings
from server.signals import PrivacyDecision, PrivacySignals


class PrivacyGate(Protocol):
    def decide(self, signals: PrivacySignals) -> PrivacyDecision: ...


class TokenDecryptor(Protocol):
    def decrypt(self, token: str, scope: Any, *, domain_or_app_name: str | None,
                now: float | None = None) -> Any: ...


class Denial(Protocol):
    status: int
    reply: tuple[int, list[tuple[bytes, bytes]], bytes]  # what the hot endpoints send: status, headers, body

    def response(self) -> Any: ...


class Guard(Protocol):
    def check(self, authorization: str | None, scope: str) -> Denial | None: ...


class OptOuts(Protocol):
    def is_opted_out(self, raw_uid: str, established: float | None) -> bool: ...


class Mirror(Protocol):
    settings: Any

    def offer(self, users: Sequence[tuple[str, str | None]], segments: Sequence[Segment]) -> None: ...


@dataclass
class Services:
    settings: Settings
    store: SegmentStore
    gate: PrivacyGate
    decryptor: TokenDecryptor | None = None
    guard: Guard | None = None
    mirror: Mirror | None = None
    optouts: OptOuts | None = None  # UID2 users who opted out: their older tokens are refused
    extras: dict[str, Any] = field(default_factory=dict)  # refreshers, outbox, … for status pages
