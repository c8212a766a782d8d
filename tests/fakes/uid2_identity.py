"""A fake UID2 operator for the data-provider endpoints, built on :class:`FakeUID2Operator`.

Adds ``/v3/identity/map``, ``/v2/identity/map``, ``/v2/identity/buckets`` and
``/v2/optout/status`` with a deterministic salt-bucket model:

* every DII hash lives in one of ``n_buckets`` buckets (a function of the hash);
* a raw UID2 is ``base64(sha256(salt | did))`` — 44 characters, like a v2 raw UID;
* :meth:`rotate` gives a bucket a new salt; ``/v3`` then answers the new ``u`` with ``p`` = the
  old one for 90 days, ``/v2/identity/buckets`` lists the bucket;
* :meth:`opt_out` makes the DII unmappable (``optout``) and its raw UID2s opted out;
* limits: > 5,000 items, > 1 MB, or two kinds in one v2 request → HTTP 400 ``client_error``.

Faults: everything of the base fake (``fake.operator.inject(Fault.RATE_LIMITED)``) plus
:meth:`fail_next` for any status (400 included) before the envelope is even opened.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

from tests.fakes.uid2_operator import FakeUID2Operator

HASH_KINDS = ("email_hash", "phone_hash")
YEAR = 365 * 86400
ALIAS = 90 * 86400


class BadRequest(Exception):
    pass


class FakeIdentityOperator:
    def __init__(self, *, secret: bytes, n_buckets: int = 16, clock: Callable[[], float] = time.time,
                 refresh_seconds: float = 30 * 86400, seed: str = "fake") -> None:
        self.operator = FakeUID2Operator(secret=secret, clock=clock)
        self.clock = clock
        self.n_buckets = n_buckets
        self.refresh_seconds = refresh_seconds
        start = clock()
        # bucket -> (salt, previous salt, rotated_at, refresh_from)
        self.buckets: dict[str, tuple[str, str | None, float, float]] = {
            self.bucket_name(i): (f"{seed}-salt-{i}-0", None, start - YEAR, start + refresh_seconds + i)
            for i in range(n_buckets)
        }
        self.opted_out: dict[str, float] = {}  # did -> since (epoch seconds)
        self.invalid: set[str] = set()  # dids the operator calls "invalid identifier"
        self.pending_failures: deque[int] = deque()
        self.calls: list[tuple[str, int]] = []  # (path, number of items)
        for path, route in (("/v3/identity/map", self._map_v3), ("/v2/identity/map", self._map_v2),
                            ("/v2/identity/buckets", self._buckets), ("/v2/optout/status", self._optout)):
            self.operator.add_route(path, route)

    # -- model ---------------------------------------------------------------------------------

    @staticmethod
    def bucket_name(i: int) -> str:
        return f"bkt{i:05d}"

    def bucket_of(self, did: str) -> str:
        return self.bucket_name(hashlib.sha256(did.encode()).digest()[0] % self.n_buckets)

    def uid_for(self, did: str, salt: str) -> str:
        return base64.b64encode(hashlib.sha256(f"{salt}|{did}".encode()).digest()).decode()

    def current_uid(self, did: str) -> str:
        return self.uid_for(did, self.buckets[self.bucket_of(did)][0])

    def previous_uid(self, did: str) -> str | None:
        _salt, prev_salt, rotated_at, _r = self.buckets[self.bucket_of(did)]
        if prev_salt is None or self.clock() - rotated_at > ALIAS:
            return None
        return self.uid_for(did, prev_salt)

    def rotate(self, bucket: str) -> None:
        salt, _prev, _at, _r = self.buckets[bucket]
        generation = int(salt.rsplit("-", 1)[1]) + 1
        now = self.clock()
        self.buckets[bucket] = (f"{salt.rsplit('-', 1)[0]}-{generation}", salt, now, now + YEAR)

    def opt_out(self, did: str, since: float | None = None) -> None:
        self.opted_out[did] = self.clock() if since is None else since

    def fail_next(self, *statuses: int) -> None:
        self.pending_failures.extend(statuses)

    # -- transport -----------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if self.pending_failures:
            status = self.pending_failures.popleft()
            self.calls.append((request.url.path, -status))
            body = {"status": "client_error" if status == 400 else "error", "message": "injected"}
            return httpx.Response(status, json=body) if status != 429 else httpx.Response(429)
        if len(await request.aread()) > 1_000_000:
            return httpx.Response(400, json={"status": "client_error", "message": "request too large"})
        try:
            return await self.operator.handle(request)
        except BadRequest as exc:
            return httpx.Response(400, json={"status": "client_error", "message": str(exc)})

    # -- routes ----------------------------------------------------------------------------------

    def _check(self, path: str, payload: Any, kinds: tuple[str, ...]) -> dict[str, list[str]]:
        if not isinstance(payload, dict):
            raise BadRequest("body must be an object")
        arrays = {k: payload[k] for k in kinds if k in payload}
        total = sum(len(v) for v in arrays.values())
        if total > 5000:
            raise BadRequest("too many items")
        self.calls.append((path, total))
        return arrays

    def _valid(self, digest: str) -> bool:
        try:
            return len(base64.b64decode(digest, validate=True)) == 32
        except ValueError:
            return False

    def _map_v3(self, payload: Any) -> Any:
        arrays = self._check("/v3/identity/map", payload, HASH_KINDS)
        body: dict[str, Any] = {kind: [] for kind in HASH_KINDS}
        body["unexpected_field"] = {"tolerate": "me"}
        for kind, digests in arrays.items():
            for digest in digests:
                did = f"{kind}:{digest}"
                if not self._valid(digest) or did in self.invalid:
                    body[kind].append({"e": "invalid identifier"})
                elif did in self.opted_out:
                    body[kind].append({"e": "optout"})
                else:
                    refresh = self.buckets[self.bucket_of(did)][3]
                    body[kind].append({"u": self.current_uid(did), "p": self.previous_uid(did),
                                       "r": int(refresh), "x": 1})
        return {"body": body, "status": "success"}

    def _map_v2(self, payload: Any) -> Any:
        arrays = self._check("/v2/identity/map", payload, HASH_KINDS)
        if len(arrays) != 1:
            raise BadRequest("exactly one of email_hash, phone_hash")
        (kind, digests), = arrays.items()
        mapped, unmapped = [], []
        for digest in digests:
            did = f"{kind}:{digest}"
            if not self._valid(digest) or did in self.invalid:
                unmapped.append({"identifier": digest, "reason": "invalid identifier"})
            elif did in self.opted_out:
                unmapped.append({"identifier": digest, "reason": "optout"})
            else:
                mapped.append({"identifier": digest, "advertising_id": self.current_uid(did),
                               "bucket_id": self.bucket_of(did)})
        body: dict[str, Any] = {"mapped": mapped}
        if unmapped:
            body["unmapped"] = unmapped
        return {"body": body, "status": "success"}

    def _buckets(self, payload: Any) -> Any:
        since_text = payload.get("since_timestamp") if isinstance(payload, dict) else None
        if not isinstance(since_text, str):
            raise BadRequest("since_timestamp required")
        since = dt.datetime.fromisoformat(since_text)
        if since.tzinfo is not None:
            raise BadRequest("since_timestamp must be a local date-time (no offset)")
        self.calls.append(("/v2/identity/buckets", 0))
        cutoff = since.replace(tzinfo=dt.UTC).timestamp()
        out = [{"bucket_id": name, "last_updated": _format(at)}
               for name, (_s, _p, at, _r) in sorted(self.buckets.items()) if at > cutoff]
        return {"body": out, "status": "success"}

    def _optout(self, payload: Any) -> Any:
        arrays = self._check("/v2/optout/status", payload, ("advertising_ids",))
        ids = set(arrays.get("advertising_ids", []))
        out = []
        for did, since in sorted(self.opted_out.items()):
            for uid in (self.current_uid(did), self.previous_uid(did)):
                if uid in ids:
                    out.append({"advertising_id": uid, "opted_out_since": int(since * 1000)})
        return {"body": {"opted_out": out}, "status": "success"}


def _format(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
