"""Whether this worker can read the auth database, for readiness, logs and the 503 answers.

The auth database is only needed to *issue* tokens and to administer identities; checking a
bearer token needs only the keys and revocations each worker already holds in memory (see
:mod:`server.auth.revocation`). So when the file becomes unreadable while we serve, ``/rtd`` and
``/segments`` keep accepting the tokens already issued (revocations as last known), while
``/oauth/token`` and ``/admin/identities…`` answer 503 with a JSON error. This object is where
that state lives: every path that touches the file reports here, the state change is logged
once (not per request), and :meth:`AuthDbHealth.check` is the readiness check.

Readiness also *probes* the file (at most every ``probe_interval_s``), because damage written
over a file in place is invisible to the revocation view's cheap ``data_version`` check until
someone reads a damaged page.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final, ParamSpec, TypeVar

import structlog

from server.auth import db
from server.auth.errors import AuthDatabaseError, AuthDatabaseUnavailable
from server.auth.types import Clock
from server.metrics import AUTH_FAILURES

PROBE_INTERVAL_S: Final = 5.0
_UNAVAILABLE: Final = AUTH_FAILURES.labels(reason="db_unavailable")
log = structlog.get_logger("server.auth")
P = ParamSpec("P")
T = TypeVar("T")


class AuthDbHealth:
    """``problem`` is ``None`` while the auth database reads fine, else what went wrong (with the path)."""

    def __init__(self, path: Path, *, clock: Clock = time.monotonic,
                 probe_interval_s: float = PROBE_INTERVAL_S) -> None:
        self.path = path
        self.problem: str | None = None
        self._clock = clock
        self._probe_interval_s = probe_interval_s
        self._next_probe = float("-inf")
        self._lock = threading.Lock()  # reports come from the event loop and from pool threads

    @property
    def ok(self) -> bool:
        return self.problem is None

    def failed(self, exc: BaseException) -> None:
        """Record a failed read or write; logged at error level on the change from OK only."""
        problem = str(exc) if isinstance(exc, AuthDatabaseError) else f"auth database {self.path}: {exc}"
        with self._lock:
            first = self.problem is None
            self.problem = problem
        if first:
            _UNAVAILABLE.inc()
            log.error("auth.db_unavailable", file=self.path.name, path=str(self.path), error=problem,
                      effect="token issuing and /admin/identities answer 503; issued tokens keep verifying")

    def recovered(self) -> None:
        """Record a good read; logged once when it ends a failure."""
        if self.problem is None:  # the common case: no lock, no log
            return
        with self._lock:
            was, self.problem = self.problem, None
        if was is not None:
            log.warning("auth.db_recovered", file=self.path.name, path=str(self.path))

    def reporting(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        """Decorate an endpoint that touches the auth database: a ``sqlite3.Error`` is recorded
        here and re-raised as :class:`AuthDatabaseUnavailable` (a 503 in the exception table,
        never a bare 500); a run that gets through records recovery. Other exceptions pass as
        they are (an unknown identity says nothing about the file)."""

        @functools.wraps(fn)
        async def reported(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                result = await fn(*args, **kwargs)
            except sqlite3.Error as exc:
                self.failed(exc)
                raise AuthDatabaseUnavailable(f"{self.problem}; tokens already issued keep working") from exc
            self.recovered()
            return result

        return reported

    def probe(self) -> None:
        """Check the file now (header, ``quick_check``, schema) and record the outcome."""
        try:
            db.check_database(self.path)
        except (AuthDatabaseError, sqlite3.Error) as exc:
            self.failed(exc)
        else:
            self.recovered()

    def check(self) -> tuple[bool, str]:
        """The readiness check: ``(ok, detail)``; probes the file when the interval has passed."""
        now = self._clock()
        if now >= self._next_probe:
            self._next_probe = now + self._probe_interval_s
            self.probe()
        problem = self.problem
        if problem is None:
            return True, f"auth database {self.path} readable"
        return False, f"{problem}; token issuing and /admin/identities answer 503, issued tokens still verify"
