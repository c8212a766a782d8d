"""Xandr Digital Platform API client: ``/auth``, ``/rt-segment``, ``/rt-segment-processed``.

Token policy (reference §B2): one token, cached and reused, sent as the bare ``Authorization``
header (no "Bearer"). It lives 2 h from its last use and 24 h at most, so we re-authenticate
``token_refresh_margin`` before either — and at once on ``NOAUTH``. Xandr allows 10 successful
authentications per 5 minutes; we refuse locally (``AuthRateLimited``) before asking for an 11th,
counting auths in the outbox so the budget survives restarts of the sender.

Every network call goes through the injected ``httpx.AsyncClient`` (tests pass a
``MockTransport`` over :mod:`tests.fakes.xandr`); the clock is injected too.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import orjson
import structlog

from server.metrics import MIRROR_AUTHS
from server.mirror import limits
from server.mirror.errors import AuthFailed, AuthRateLimited, PayloadTooLarge, Rejected, RetryableError
from server.mirror.settings import MirrorSettings
from server.mirror.types import Clock

log = structlog.get_logger("server.mirror.client")


class AuthLog(Protocol):
    """Where successful authentications are remembered (the outbox implements it)."""

    def record_auth(self, result: str) -> None: ...
    def auths_since(self, since: float, result: str = "ok") -> list[float]:
        """Timestamps of ``result`` auths strictly after ``since``, oldest first."""
        ...


class MemoryAuthLog:
    def __init__(self, clock: Clock = time.time) -> None:
        self._entries: list[tuple[float, str]] = []
        self.clock = clock

    def record_auth(self, result: str) -> None:
        self._entries.append((self.clock(), result))

    def auths_since(self, since: float, result: str = "ok") -> list[float]:
        return [ts for ts, r in self._entries if ts > since and r == result]


@dataclass(frozen=True, slots=True)
class RtWarning:
    message: str
    entity: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RtSegmentResult:
    status: str
    users_in_request: int | None
    segments_in_request: int | None
    warnings: list[RtWarning] = field(default_factory=list)


def unwrap(body: Any) -> dict[str, Any]:
    """The seed shows both ``{"response": {...}}`` and the bare inner object; accept both."""
    if isinstance(body, dict) and isinstance(body.get("response"), dict):
        return body["response"]  # type: ignore[no-any-return]
    return body if isinstance(body, dict) else {}


def parse_rt_segment(body: Any) -> RtSegmentResult:
    """Parse an rt-segment answer; tolerant of unknown fields and of counts outside ``message``."""
    inner = unwrap(body)
    raw_message = inner.get("message")
    message: dict[str, Any] = raw_message if isinstance(raw_message, dict) else inner

    def count(name: str) -> int | None:
        v = message.get(name, inner.get(name))
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    warnings = []
    for w in inner.get("warnings") or ():
        if isinstance(w, dict):
            entity = w.get("entity")
            warnings.append(RtWarning(str(w.get("message", "")), entity if isinstance(entity, dict) else {}))
    return RtSegmentResult(status=str(inner.get("status", "")), users_in_request=count("users_in_request"),
                           segments_in_request=count("segments_in_request"), warnings=warnings)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


class XandrClient:
    def __init__(self, settings: MirrorSettings, http: httpx.AsyncClient, *, clock: Clock = time.time,
                 auth_log: AuthLog | None = None) -> None:
        self._settings = settings
        self._http = http
        self._clock = clock
        self._auth_log: AuthLog = auth_log if auth_log is not None else MemoryAuthLog(clock)
        self._token: str | None = None
        self._issued = 0.0
        self._last_used = 0.0
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    @staticmethod
    def make_http(settings: MirrorSettings,
                  transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
        timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
        return httpx.AsyncClient(transport=transport, timeout=timeout,
                                 limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
                                 headers={"Content-Type": "application/json"})

    # -- token -------------------------------------------------------------------------------
    def _token_fresh(self, now: float) -> bool:
        margin = self._settings.token_refresh_margin
        return (self._token is not None
                and now - self._last_used < limits.TOKEN_IDLE_SECONDS - margin
                and now - self._issued < limits.TOKEN_HARD_SECONDS - margin)

    async def token(self) -> str:
        async with self._lock:
            if not self._token_fresh(self._clock()):
                await self._authenticate()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        if self._token == token:
            self._token = None

    async def _authenticate(self) -> None:
        now = self._clock()
        recent = self._auth_log.auths_since(now - limits.AUTH_WINDOW_SECONDS)
        if len(recent) >= self._settings.auths_per_window:
            MIRROR_AUTHS.labels(result="local_limit").inc()
            wait = recent[-self._settings.auths_per_window] + limits.AUTH_WINDOW_SECONDS - now
            raise AuthRateLimited(max(wait, 1.0))
        payload = {"auth": {"username": self._settings.username, "password": self._settings.read_password()}}
        try:
            resp = await self._http.post(f"{self._settings.api_url}/auth", content=orjson.dumps(payload))
        except httpx.TimeoutException as exc:
            MIRROR_AUTHS.labels(result="timeout").inc()
            raise RetryableError("auth_timeout") from exc
        except httpx.TransportError as exc:
            MIRROR_AUTHS.labels(result="connection").inc()
            raise RetryableError("auth_connection") from exc
        inner = unwrap(_json(resp))
        token = inner.get("token")
        if resp.status_code == 200 and inner.get("status") == "OK" and isinstance(token, str) and token:
            self._token, self._issued, self._last_used = token, now, now
            self._auth_log.record_auth("ok")
            MIRROR_AUTHS.labels(result="ok").inc()
            log.info("xandr_auth", result="ok")  # never the token or the password
            return
        error_id = str(inner.get("error_id", ""))
        self._auth_log.record_auth(error_id.lower() or f"http_{resp.status_code}")
        if resp.status_code == 429 or error_id == "LIMIT":
            MIRROR_AUTHS.labels(result="limited").inc()
            raise AuthRateLimited(retry_after_seconds(resp.headers.get("Retry-After"), now) or 60.0)
        if resp.status_code >= 500 or error_id == "SYSTEM":
            MIRROR_AUTHS.labels(result="error").inc()
            raise RetryableError("auth_5xx", retry_after_seconds(resp.headers.get("Retry-After"), now))
        MIRROR_AUTHS.labels(result="refused").inc()
        log.error("xandr_auth", result="refused", status=resp.status_code, error_id=error_id)
        raise AuthFailed(f"{error_id or resp.status_code}: {inner.get('error', '')}")

    # -- calls --------------------------------------------------------------------------------
    async def post_rt_segment(self, body: bytes) -> RtSegmentResult:
        """POST one batch; re-authenticates once on NOAUTH. Raises the :mod:`errors` tree."""
        data = await self._call("POST", f"{self._settings.streaming_url}/rt-segment", body)
        result = parse_rt_segment(data)
        if result.status != "OK":
            # At-least-once: only a clear "OK" lets the sender delete the batch from the outbox.
            raise RetryableError("bad_response", detail=result.status or "unparseable body")
        return result

    async def get_processed(self, member_id: int, start: str | None = None, end: str | None = None,
                            agg: bool = False) -> list[dict[str, Any]]:
        """``GET rt-segment-processed``: hourly report rows (a single object when ``agg``)."""
        params: dict[str, str] = {"member_id": str(member_id)}
        if start:
            params["start"] = start
        if end:
            params["end"] = end
        if agg:
            params["agg"] = "true"
        data = await self._call("GET", f"{self._settings.streaming_url}/rt-segment-processed", None, params)
        report = unwrap(data).get("report")
        if isinstance(report, dict):
            return [report]
        return [r for r in report or () if isinstance(r, dict)]

    async def _call(self, method: str, url: str, body: bytes | None,
                    params: Mapping[str, str] | None = None) -> Any:
        for attempt in (1, 2):
            token = await self.token()
            try:
                resp = await self._http.request(method, url, content=body, params=params,
                                                headers={"Authorization": token})
            except httpx.TimeoutException as exc:
                raise RetryableError("timeout") from exc
            except httpx.TransportError as exc:
                raise RetryableError("connection", detail=type(exc).__name__) from exc
            now = self._clock()
            data = _json(resp)
            inner = unwrap(data)
            error_id = str(inner.get("error_id", ""))
            if resp.status_code == 401 or error_id.startswith("NOAUTH"):
                self.invalidate(token)
                if attempt == 1 and error_id != "NOAUTH_DISABLED":
                    continue  # the token died early: one fresh auth, then give up
                raise AuthFailed(error_id or "401")
            # The retry label says what happened: the status first, the body's text only without one.
            retry_after = retry_after_seconds(resp.headers.get("Retry-After"), now)
            if resp.status_code == 429:
                raise RetryableError("429", retry_after)
            if resp.status_code >= 500:
                raise RetryableError("5xx", retry_after, detail=str(resp.status_code))
            if "Rate limit exceeded" in str(inner.get("error", "")):
                raise RetryableError("rate_limit_message", retry_after, detail=str(resp.status_code))
            if resp.status_code == 413:
                raise PayloadTooLarge("413")
            if resp.status_code >= 400 or error_id:
                raise Rejected(error_id.lower() or f"http_{resp.status_code}", str(inner.get("error", "")))
            self._last_used = now
            return data
        raise AssertionError("unreachable")  # pragma: no cover


def _json(resp: httpx.Response) -> Any:
    try:
        return orjson.loads(resp.content) if resp.content else {}
    except orjson.JSONDecodeError:
        return {}
