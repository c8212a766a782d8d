"""A fake Xandr: ``/auth``, ``/rt-segment`` and ``/rt-segment-processed``, faithful to the seed.

Two ways to run it, over the same state:

* in-process, as an ``httpx.MockTransport`` handler (no sockets)::

      fake = FakeXandr()
      http = httpx.AsyncClient(transport=fake.transport())   # serves both api and streaming hosts

* on loopback, as an ASGI app under uvicorn (for the subprocess and benchmark tests)::

      with LoopbackServer(fake) as base_url: ...              # http://127.0.0.1:<port>

What it reproduces (seed 003 + reference §B2/§B4): auth with ``{"auth": {"username", "password"}}``
and at most 10 successful auths per 5 minutes; tokens accepted in the ``Authorization`` header
or the ``access_token`` query parameter, valid 2 h after last use and 24 h at most
(``NOAUTH`` after); every validation warning with the seed's exact messages and entities; the
1000-user cut; the wrapped shape for accepted requests and the unwrapped shape of the seed's
"No valid rt_segment" examples; rate limits as leaky buckets (100 POST/s, 1000 users/s).

What the documentation does not say, and the fake assumes (marked [U] in the reference):
an over-1 MB body gets **HTTP 413** with ``error_id: "SYNTAX"`` (the seed only says "should not
exceed"); rate limiting is **HTTP 429** with ``Retry-After`` and the "Rate limit exceeded" text;
the auth limit is HTTP 429 ``error_id: "LIMIT"``; over 100 seg_blocks for one user, only the first
100 apply. Every such client misbehaviour is also recorded in ``violations`` so tests can assert
our client never commits one. Faults (``inject``): 5xx, 429, timeouts, dropped connections
(in ASGI mode a dropped connection becomes a 500, since ASGI cannot reset a socket).
"""

from __future__ import annotations

import asyncio
import enum
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson

MAX_USERS = 1000
MAX_BLOCKS = 100
MAX_BYTES = 1_000_000
AUTH_LIMIT, AUTH_WINDOW = 10, 300.0
TOKEN_IDLE, TOKEN_HARD = 2 * 3600.0, 24 * 3600.0


class Fault(enum.Enum):
    SERVER_ERROR = "503"
    RATE_LIMITED = "429"
    TIMEOUT = "timeout"  # MockTransport: raises ReadTimeout; ASGI: sleeps `slow_seconds` first
    DROP = "drop"  # MockTransport: RemoteProtocolError; ASGI: 500 (see module docstring)
    NOAUTH = "noauth"  # the token is rejected once, as if it had expired early


class LeakyBucket:
    """Capacity = rate (one second's worth), leaking continuously — aiolimiter's model too."""

    def __init__(self, rate: float, tolerance: float = 1.05) -> None:
        self.rate, self.capacity = rate, rate * tolerance
        self.level, self.last = 0.0, 0.0

    def take(self, amount: float, now: float) -> bool:
        self.level = max(0.0, self.level - (now - self.last) * self.rate)
        self.last = now
        if self.level + amount > self.capacity:
            return False
        self.level += amount
        return True


@dataclass
class Stats:
    valid_users: int = 0
    valid_adds: int = 0
    valid_removes: int = 0
    invalid_users: int = 0
    requests: int = 0


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    fault: Fault | None = None
    delay: float = 0.0


def _clean(obj: dict[str, Any], drop_null: tuple[str, ...] = ("member_id",)) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not (k in drop_null and v is None)}


class FakeXandr:
    def __init__(
        self,
        *,
        username: str = "mirror-user",
        password: str = "s3cret",
        member_id: int = 1234,
        clock: Callable[[], float] = time.time,
        posts_per_second: float = 100.0,
        users_per_second: float = 1000.0,
        latency: float = 0.0,
        slow_seconds: float = 30.0,
        unknown_users: frozenset[str] = frozenset(),
    ) -> None:
        self.username, self.password, self.member_id = username, password, member_id
        self.clock = clock
        self.latency, self.slow_seconds = latency, slow_seconds
        self.unknown_users = unknown_users
        self.faults: deque[Fault] = deque()
        self.lock = threading.Lock()
        self.tokens: dict[str, tuple[float, float]] = {}  # token → (issued, last_used)
        self.auth_times: deque[float] = deque()
        self.auth_attempts = 0
        self.posts = LeakyBucket(posts_per_second)
        self.users_bucket = LeakyBucket(users_per_second)
        # (user_id, domain) → {(seg_id, seg_code, member_id): (value, expiration)}
        self.memberships: dict[tuple[str, str | None], dict[tuple[Any, Any, Any], tuple[Any, Any]]] = {}
        self.delivered: list[tuple[float, int]] = []  # (time, users applied) per accepted POST
        self.post_log: list[tuple[float, int]] = []  # (time, users sent) per rt-segment POST, even refused
        self.log: list[tuple[str, int]] = []  # (path, status) per request
        self.violations: list[str] = []
        self.stats = Stats()
        self.in_flight = 0  # ASGI mode: requests applied but not yet answered (for the kill -9 test)

    # -- test helpers ------------------------------------------------------------------------
    def inject(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def segments_of(
        self, user_id: str, domain: str | None = None
    ) -> dict[tuple[Any, Any, Any], tuple[Any, Any]]:
        with self.lock:
            return dict(self.memberships.get((user_id, domain), {}))

    @property
    def users_delivered(self) -> int:
        with self.lock:
            return sum(n for _, n in self.delivered)

    # -- MockTransport ----------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        reply = self.respond(
            request.method,
            request.url.path,
            request.url.query.decode(),
            request.headers.get("authorization"),
            request.content,
        )
        if reply.fault is Fault.TIMEOUT:
            raise httpx.ReadTimeout("fake timeout", request=request)
        if reply.fault is Fault.DROP:
            raise httpx.RemoteProtocolError("fake dropped connection", request=request)
        return httpx.Response(reply.status, content=orjson.dumps(reply.body), headers=reply.headers)

    # -- ASGI -------------------------------------------------------------------------------
    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        reply = self.respond(
            scope["method"],
            scope["path"],
            scope["query_string"].decode(),
            headers.get("authorization"),
            b"".join(chunks),
        )
        self.in_flight += 1
        try:
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.fault is Fault.TIMEOUT:
                await asyncio.sleep(self.slow_seconds)
        finally:
            self.in_flight -= 1
        status = 500 if reply.fault is Fault.DROP else reply.status
        body = orjson.dumps(reply.body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")]
                + [(k.encode(), v.encode()) for k, v in reply.headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})

    # -- the service -------------------------------------------------------------------------
    def respond(self, method: str, path: str, query: str, authorization: str | None, body: bytes) -> Reply:
        with self.lock:
            reply = self._route(method, path.rstrip("/"), parse_qs(query), authorization, body)
            self.log.append((path, reply.status))
            return reply

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], authorization: str | None, body: bytes
    ) -> Reply:
        now = self.clock()
        if method == "POST" and path == "/auth":
            return self._auth(body, now)
        token: str | None = authorization or next(iter(query.get("access_token") or ()), None)
        if path not in ("/rt-segment", "/rt-segment-processed"):
            return Reply(404, {"response": {"error_id": "NOT_FOUND", "error": "no such service"}})
        fault = self.faults.popleft() if self.faults else None
        if fault is Fault.NOAUTH and token in self.tokens:
            del self.tokens[token]
        if not self._token_ok(token, now):
            return Reply(
                401, {"response": {"error_id": "NOAUTH", "error": "Authentication failed - not logged in"}}
            )
        if fault is Fault.SERVER_ERROR:
            return Reply(503, {"response": {"error_id": "SYSTEM", "error": "Service unavailable"}})
        if fault is Fault.RATE_LIMITED:
            return self._rate_limited("writes", 100, 2)
        if fault in (Fault.TIMEOUT, Fault.DROP):
            return Reply(500, {}, fault=fault)
        if method == "GET" and path == "/rt-segment-processed":
            return self._processed(query)
        if method == "POST" and path == "/rt-segment":
            reply = self._rt_segment(body, now)
            reply.delay = self.latency
            return reply
        return Reply(405, {"response": {"error_id": "SYNTAX", "error": "method not allowed"}})

    def _auth(self, body: bytes, now: float) -> Reply:
        self.auth_attempts += 1
        while self.auth_times and self.auth_times[0] <= now - AUTH_WINDOW:
            self.auth_times.popleft()
        try:
            creds = orjson.loads(body)["auth"]
            ok = creds["username"] == self.username and creds["password"] == self.password
        except (orjson.JSONDecodeError, KeyError, TypeError):
            ok = False
        if not ok:
            return Reply(401, {"response": {"error_id": "NOAUTH", "error": "No match found for user/pass"}})
        if len(self.auth_times) >= AUTH_LIMIT:
            self.violations.append("auth: more than 10 authentications in 5 minutes")
            wait = self.auth_times[0] + AUTH_WINDOW - now
            return Reply(
                429,
                {"response": {"error_id": "LIMIT", "error": "You have exceeded your authentication limit"}},
                {"Retry-After": str(max(1, int(wait) + 1))},
            )
        self.auth_times.append(now)
        token = f"hbapi:{self.member_id}:{secrets.token_hex(8)}:nym2"
        self.tokens[token] = (now, now)
        return Reply(200, {"response": {"status": "OK", "token": token, "dbg_info": {"instance": "fake"}}})

    def _token_ok(self, token: str | None, now: float) -> bool:
        if token is None or token not in self.tokens:
            return False
        issued, last = self.tokens[token]
        if now - last > TOKEN_IDLE or now - issued > TOKEN_HARD:
            del self.tokens[token]
            return False
        self.tokens[token] = (issued, now)
        return True

    def _rate_limited(self, kind: str, limit: int, retry_after: int) -> Reply:
        return Reply(
            429,
            {
                "response": {
                    "status": "error",
                    "error_id": "LIMIT",
                    "error": f"Rate limit exceeded. You have exceeded your request limit of {limit} {kind} "
                    "per 1 seconds to rt-segment, please wait and try again or contact Xandr for higher "
                    "limits.",
                }
            },
            {"Retry-After": str(retry_after)},
        )

    def _rt_segment(self, body: bytes, now: float) -> Reply:
        self.stats.requests += 1
        if len(body) > MAX_BYTES:
            self.violations.append(f"payload {len(body)} bytes > 1 MB")
            return Reply(413, {"response": {"error_id": "SYNTAX", "error": "Request payload exceeds 1 MB"}})
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return Reply(400, {"response": {"error_id": "SYNTAX", "error": "Invalid JSON"}})
        entries = doc.get("rt_segment") if isinstance(doc, dict) else None
        entries = entries if isinstance(entries, list) else []
        self.post_log.append((now, len(entries)))
        if not self.posts.take(1, now):
            self.violations.append("more than 100 POST/s")
            return self._rate_limited("writes", 100, 1)
        if not self.users_bucket.take(min(len(entries), MAX_USERS), now):
            self.violations.append("more than 1000 users/s")
            return self._rate_limited("users", 1000, 1)
        if len(entries) > MAX_USERS:
            self.violations.append(f"{len(entries)} users in one request")
        warnings: list[dict[str, Any]] = []
        users = segments = 0
        for idx, entry in enumerate(entries):
            entry = entry if isinstance(entry, dict) else {}
            if idx >= MAX_USERS:
                warnings.append(
                    {
                        "message": "Too many user_ids in request.",
                        "entity": {"user_id": entry.get("user_id"), "seg_block": entry.get("seg_block")},
                    }
                )
                continue
            uid = entry.get("user_id")
            blocks = entry.get("seg_block")
            if uid in (None, ""):
                warnings.append(
                    {
                        "message": "'user_id' is required and cannot be empty",
                        "entity": {k: v for k, v in entry.items() if k not in ("user_id", "domain")},
                    }
                )
                continue
            if not isinstance(blocks, list) or not blocks:
                warnings.append({"message": "'seg_block' is required", "entity": {"user_id": uid}})
                continue
            if len(blocks) > MAX_BLOCKS:
                self.violations.append(f"user {uid}: {len(blocks)} seg_blocks in one call")
                blocks = blocks[:MAX_BLOCKS]
            valid = []
            for b in blocks:
                b = b if isinstance(b, dict) else {}
                if isinstance(b.get("seg_id"), int) or (
                    b.get("seg_code") and isinstance(b.get("member_id"), int)
                ):
                    valid.append(b)
                else:
                    warnings.append(
                        {
                            "message": "'seg_id' or 'seg_code' and 'member_id' are required",
                            "entity": _clean(b, ("seg_id", "member_id")),
                        }
                    )
            if not valid:
                warnings.append(
                    {
                        "message": f"No valid segments for user_id: {uid}.",
                        "entity": {
                            "user_id": uid,
                            "seg_block": [_clean(b, ("seg_id", "member_id")) for b in blocks],
                        },
                    }
                )
                continue
            users += 1
            segments += len(valid)
            self._apply(str(uid), entry.get("domain"), valid)
        if users == 0:
            warnings.append(
                {
                    "message": "No valid rt_segment in request.",
                    "entity": {"rt_segment": [_clean(e) for e in entries if isinstance(e, dict)]},
                }
            )
            # the seed prints these answers without the "response" wrapper
            return Reply(
                200,
                {
                    "status": "OK",
                    "message": {"users_in_request": 0, "segments_in_request": 0},
                    "warnings": warnings,
                },
            )
        self.delivered.append((now, users))
        return Reply(
            200,
            {
                "response": {
                    "status": "OK",
                    "message": {"users_in_request": users, "segments_in_request": segments},
                    "warnings": warnings,
                }
            },
        )

    def _apply(self, uid: str, domain: Any, blocks: list[dict[str, Any]]) -> None:
        if uid in self.unknown_users:
            self.stats.invalid_users += 1
            return
        self.stats.valid_users += 1
        held = self.memberships.setdefault((uid, domain), {})
        for b in blocks:
            key = (b.get("seg_id"), b.get("seg_code"), b.get("member_id"))
            if b.get("expiration") == -1:
                held.pop(key, None)
                self.stats.valid_removes += 1
            else:
                held[key] = (b.get("value"), b.get("expiration"))
                self.stats.valid_adds += 1

    def _processed(self, query: dict[str, list[str]]) -> Reply:
        if query.get("member_id", [""])[0] != str(self.member_id):
            return Reply(200, {"response": {"status": "OK", "report": []}})
        s = self.stats
        total = s.valid_users + s.invalid_users
        row = {
            "processed_hour": time.strftime("%Y-%m-%d %H:00:00", time.gmtime(self.clock())),
            "member_id": self.member_id,
            "match_rate": 100.0 * s.valid_users / total if total else 0.0,
            "num_valid_users": s.valid_users,
            "num_valid_adds": s.valid_adds,
            "num_valid_removes": s.valid_removes,
            "num_invalid_users": s.invalid_users,
            "num_unauth_segments": 0,
            "num_inactive_segments": 0,
            "num_invalid_segments": 0,
            "num_other_errors": 0,
            "error_log_lines": "",
            "segment_log_lines": "",
        }
        report: Any = row if query.get("agg", [""])[0] == "true" else [row]
        return Reply(200, {"response": {"status": "OK", "report": report}})


class LoopbackServer:
    """Run an ASGI app (the fake) under uvicorn on 127.0.0.1 in a thread; yields its base URL."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._server = uvicorn.Server(
            uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
        )
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Xandr did not start")
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()
