"""One enveloped operator call with jittered exponential backoff on 429, 5xx and timeouts.

Written here rather than with ``stamina`` because the jobs need an injected ``sleep`` (tests run
the whole backoff path without waiting) and must turn the final failure into an
:class:`~.errors.IdentityError` that names the endpoint and the operator's status.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from ... import metrics as M
from ..operator import OperatorClient, OperatorError
from .errors import HINTS, OperatorRejected, OperatorUnavailable, is_retryable
from .settings import MAX_BATCH, MAX_REQUEST_BYTES

__all__ = ["Backoff", "post_with_retry"]

log = structlog.get_logger("server.uid2.identity")
Sleep = Callable[[float], Awaitable[None]]


class Backoff:
    """Full-jitter exponential delays: ``uniform(0, min(cap, initial * 2**n))``."""

    def __init__(self, attempts: int, initial: float, cap: float, *, sleep: Sleep = asyncio.sleep,
                 rng: random.Random | None = None) -> None:
        self.attempts = attempts
        self.initial = initial
        self.cap = cap
        self.sleep = sleep
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        return self._rng.uniform(0.0, min(self.cap, self.initial * 2**attempt))


async def post_with_retry(operator: OperatorClient, path: str, payload: Mapping[str, Any],
                          backoff: Backoff) -> Any:
    """The decrypted document's ``body``; raises OperatorRejected / OperatorUnavailable."""
    for attempt in range(backoff.attempts):
        try:
            document = await operator.post_enveloped(path, payload)
        except OperatorError as exc:
            status = exc.status_code
            M.IDENTITY_OPERATOR_ERRORS.labels(path, str(status or "transport")).inc()
            hint = HINTS.get(status or 0, "")
            if not is_retryable(status):
                log.error("uid2 operator rejected the request", endpoint=path, status=status, hint=hint)
                raise OperatorRejected(f"{path}: HTTP {status} ({hint})", endpoint=path,
                                       status_code=status) from None
            if attempt + 1 >= backoff.attempts:
                raise OperatorUnavailable(f"{path}: {exc} after {backoff.attempts} attempts",
                                          endpoint=path, status_code=status) from None
            wait = backoff.delay(attempt)
            log.warning("uid2 operator call failed; retrying", endpoint=path, status=status,
                        attempt=attempt + 1, wait_seconds=round(wait, 3), hint=hint)
            await backoff.sleep(wait)
            continue
        if not isinstance(document, dict) or document.get("status") != "success" or "body" not in document:
            status_text = document.get("status") if isinstance(document, dict) else type(document).__name__
            raise OperatorRejected(f"{path}: status {status_text!r}", endpoint=path, status_code=200)
        return document["body"]
    raise AssertionError("unreachable: attempts must be >= 1")  # pragma: no cover


class OperatorCall:
    """What every identity-endpoint client holds: the operator, its retry policy, request limits."""

    def __init__(self, operator: OperatorClient, backoff: Backoff, *, max_items: int = MAX_BATCH,
                 max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self._operator = operator
        self._backoff = backoff
        self._max_items = max_items
        self._max_bytes = max_bytes
