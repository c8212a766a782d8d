"""``POST /rtd`` — Index Exchange's Real-Time Data call, once per bid request.

parse → gate → decrypt → lookup → respond, all in process memory: no network I/O, no logging of
identifiers. Index throttles partners that answer with errors or time out, so every outcome that
is not the client's fault is a ``200`` — a miss is ``{"segment_ids": [], "deal_ids": []}``.
"""

from __future__ import annotations

import time
from typing import Any, Final

import orjson

from segments import keys as K
from segments.bounded import BoundedCache
from segments.store.base import LookupResult
from server import metrics as M
from server.artf.metrics import STORE_ERRORS
from server.http import (
    AUTHORIZATION,
    CONTENT_ENCODING,
    JSON_HEADERS,
    UNSUPPORTED_ENCODING_HEADERS,
    BadRequest,
    BodyTooLarge,
    ClientGone,
    Headers,
    Reply,
    UnsupportedEncoding,
    check_repeats,
    decode_body,
    error_body,
    prepared,
    read_body,
    send_bytes,
)
from server.lookup import Answer, KeyRuns, collect_keys, resolve
from server.mirror import mirrorable_users
from server.observability import hotpath
from server.openrtb import parse_request
from server.openrtb_typed import NO_SIGNALS, NotAnObject, parse_body
from server.services import Services
from server.signals import CACHED_SIGNAL_LENGTH, PrivacyDecision, PrivacySignals, RequestSignals, entry_size
from server.types import Receive, Scope, Send

EMPTY = b'{"segment_ids":[],"deal_ids":[]}'
_MISS: Final = prepared(200, EMPTY)
CLIENT_GONE: Final = 499  # nginx's code for a request abandoned before the answer: nothing is sent
DECISION_CACHE_SIZE = 4096
# Per-process tallies flushed to Prometheus once a second: a dict increment per request instead
# of a lock and an mmap write per label (see server.observability.hotpath).
_REQUESTS: Final = hotpath.tally(M.REQUESTS, prefix=("rtd",))
_PRIVACY: Final = hotpath.tally(M.PRIVACY_DECISIONS)
_DECRYPT: Final = hotpath.tally(M.UID2_DECRYPT)
_KEYS_FOUND: Final = hotpath.tally(M.KEYS_FOUND)
_LOOKUP_HITS: Final = hotpath.tally(M.LOOKUPS, suffix=("hit",))
_LOOKUP_MISSES: Final = hotpath.tally(M.LOOKUPS, suffix=("miss",))
_INVALID: Final = hotpath.tally(M.INVALID_FIELDS)
_CAPPED: Final = hotpath.tally(M.RESPONSES_CAPPED)
_LATENCY: Final = hotpath.histogram(M.LATENCY, "rtd")
_SEGMENTS: Final = {name: hotpath.histogram(M.SEGMENTS_RETURNED, name) for name in ("rtd", "grpc")}
_STORE_ERRORS: Final = hotpath.tally(STORE_ERRORS)
# What the store raises when it cannot serve: its own errors, SQLite's, and I/O.


def encode(answer: Answer) -> bytes:
    """Index's JSON answer: ``{"segment_ids": [...], "deal_ids": [...]}``."""
    if not answer.segment_ids:
        return EMPTY
    return orjson.dumps({"segment_ids": answer.segment_ids, "deal_ids": answer.deal_ids})


def count_lookups(keys: list[str], hits: dict[str, list[str]], runs: KeyRuns | None = None) -> None:
    """Tally hits and misses per key kind into ``segserver_lookups_total``.

    With ``runs`` (from :func:`~server.lookup.collect_keys`: each kind's key count) no key is
    parsed for its kind — a per-key ``startswith`` and ``partition`` cost ~10 k instructions of
    ``/rtd`` under callgrind — and a request without hits tallies its misses per kind at once.
    Without, the kind is worked out once per run of keys of one kind; ungrouped keys are
    still counted right, with more tally updates.
    """
    if runs is not None:
        start = 0
        for kind, count in runs:
            hit = 0
            if hits:
                for i in range(start, start + count):
                    if keys[i] in hits:
                        hit += 1
            start += count
            _tally_lookups(kind, hit, count - hit)
        return
    prefix = ""
    kind = ""
    hit = miss = 0
    for key in keys:
        if not (prefix and key.startswith(prefix)):
            if kind:
                _tally_lookups(kind, hit, miss)
            kind = key.partition(":")[0]
            prefix = kind + ":"
            hit = miss = 0
        if key in hits:
            hit += 1
        else:
            miss += 1
    if kind:
        _tally_lookups(kind, hit, miss)


def _tally_lookups(kind: str, hit: int, miss: int) -> None:
    if hit:
        _LOOKUP_HITS.add(kind, hit)
    if miss:
        _LOOKUP_MISSES.add(kind, miss)


class RtdEndpoint:
    def __init__(self, services: Services) -> None:
        self.services = services
        rtd = services.settings.rtd
        self.max_body = services.settings.server.max_body_bytes
        self.cap = rtd.max_segments
        self.max_keys = rtd.max_keys
        self.xandr_sources = frozenset(s.lower() for s in rtd.xandr_eid_sources)
        self.want_links = services.mirror is not None
        self._decisions: BoundedCache[PrivacySignals, PrivacyDecision] = BoundedCache(
            DECISION_CACHE_SIZE, CACHED_SIGNAL_LENGTH)
        self._unrestricted: PrivacyDecision | None = None  # the gate's answer to NO_SIGNALS
        self._scopes: dict[str, Any] = {}
        if services.decryptor is not None:
            from server.uid2 import IdentityScope
            self._scopes = {"UID2": IdentityScope.UID2, "EUID": IdentityScope.EUID}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Answer one request over ASGI; returns the status sent (the access log reads it)."""
        started = time.perf_counter()
        status, headers, body = await self._answer(scope, receive)
        if body is EMPTY:  # the most common answer, a miss: its messages are built once
            await send(_MISS[0])
            await send(_MISS[1])
        elif status != CLIENT_GONE:
            await send_bytes(send, status, body, headers)
        _REQUESTS.add(status)
        _LATENCY.observe(time.perf_counter() - started)
        return status

    def reply(self, header_list: Headers, query: bytes, raw: bytes) -> Reply | None:
        """The direct path's answer (:mod:`server.direct`: the request is complete in memory).

        ``None`` hands the request to the ASGI path: a repeated header or a ``Content-Encoding``
        (rare, and answered there with their 400/413/415 rules).
        """
        started = time.perf_counter()
        headers = dict(header_list)
        if len(headers) != len(header_list) or CONTENT_ENCODING in headers:
            return None
        reply = self._denied(headers)
        if reply is None:
            reply = self._respond(headers, raw)
        _REQUESTS.add(reply[0])
        _LATENCY.observe(time.perf_counter() - started)
        return reply

    def _denied(self, headers: dict[bytes, bytes]) -> Reply | None:
        guard = self.services.guard
        if guard is None:
            return None
        denial = guard.check(headers.get(AUTHORIZATION, b"").decode("latin-1") or None, "rtd")
        return None if denial is None else denial.reply

    async def _answer(self, scope: Scope, receive: Receive) -> Reply:
        headers = dict(scope["headers"])
        try:
            if len(headers) != len(scope["headers"]):  # some header repeated: only then look closer
                check_repeats(scope["headers"])
            denied = self._denied(headers)
            if denied is not None:
                return denied
            raw = await read_body(headers, receive, self.max_body)
            encoding = headers.get(CONTENT_ENCODING)
            if encoding is not None:
                raw = decode_body(raw, encoding, self.max_body)
        except BadRequest as bad:  # distinct names: mypyc types an ``as`` variable once per function
            return 400, JSON_HEADERS, error_body(str(bad))
        except BodyTooLarge:
            return 413, JSON_HEADERS, error_body("request body too large", limit_bytes=self.max_body)
        except UnsupportedEncoding as unsupported:
            return 415, UNSUPPORTED_ENCODING_HEADERS, error_body(
                f"unsupported Content-Encoding {str(unsupported)!r}", accepted=["gzip"])
        except ClientGone:
            return CLIENT_GONE, JSON_HEADERS, b""  # nothing is sent
        return self._respond(headers, raw)

    def _respond(self, headers: dict[bytes, bytes], raw: bytes) -> Reply:
        """parse → (gate → decrypt → lookup: :meth:`answer`) → respond, for a body read whole."""
        try:
            signals = parse_body(raw, gpc_header=headers.get(b"sec-gpc") == b"1",        # parse
                                 xandr_sources=self.xandr_sources)
        except orjson.JSONDecodeError as exc:
            return 400, JSON_HEADERS, error_body("malformed JSON", detail=str(exc))
        except NotAnObject:
            return 400, JSON_HEADERS, error_body("the body must be a JSON object (an OpenRTB bid request)")
        return 200, JSON_HEADERS, encode(self.answer(signals))                           # respond

    def handle(self, doc: dict[str, Any], *, gpc: bool = False, now: float | None = None) -> bytes:
        """``POST /rtd``'s answer to a bid request already parsed into a dict (tests, tools)."""
        return encode(self.run(doc, gpc=gpc, now=now))

    def run(self, doc: dict[str, Any], *, gpc: bool = False, now: float | None = None,
            endpoint: str = "rtd") -> Answer:
        """The chain for a bid request as a dict: gRPC builds one from the protobuf message
        (:mod:`server.artf.convert`); callers only encode the answer."""
        signals = parse_request(doc, gpc_header=gpc, xandr_sources=self.xandr_sources)
        return self.answer(signals, now=now, endpoint=endpoint)

    def answer(self, signals: RequestSignals, *, now: float | None = None, endpoint: str = "rtd") -> Answer:
        """gate → decrypt → lookup on a parsed request, the one chain every protocol runs.

        The store's trouble is not the client's: it is counted per ``endpoint`` and answered as
        a miss, as Index's circuit breaker trips on error answers (README, "RTD"). The store is
        not asked to reload here: the worker's upkeep task does that (:mod:`server.wiring`).
        """
        now = time.time() if now is None else now
        store = self.services.store
        decision = self._decide(signals.privacy)                                          # gate
        self._decrypt(signals, decision, now)                                             # decrypt
        runs: KeyRuns = []
        keys = collect_keys(signals.keys, decision.allowed_kinds, signals.ip, store.ip_prefix_lengths,
                            truncate=decision.truncate_ip, limit=self.max_keys, runs=runs)
        result = store.lookup(keys, now, classifying=False, links=self.want_links)        # lookup
        if result.failed:  # the store never raises into a request: a read it could not do answers this
            _STORE_ERRORS.add(endpoint)
            return Answer([], [], False, [])
        answer = resolve(keys, result, store.taxonomy, self.cap)
        self._account(signals, decision, keys, runs, result.hits, answer, endpoint)
        if answer.matched and self.services.mirror is not None:
            self._mirror(signals, decision, result, answer)
        return answer

    def _decide(self, privacy: PrivacySignals) -> PrivacyDecision:
        """The gate is a pure function of the signals, which repeat across requests: remember them
        (long consent strings are not kept, see :func:`server.signals.entry_size`)."""
        if privacy is NO_SIGNALS and self._unrestricted is not None:  # no regs, user or device at all
            return self._unrestricted
        decision = self._decisions.get(privacy)
        if decision is None:
            decision = self.services.gate.decide(privacy)
            self._decisions.put(privacy, decision, entry_size(privacy))
            if privacy is NO_SIGNALS:
                self._unrestricted = decision
        return decision

    def _decrypt(self, signals: RequestSignals, decision: PrivacyDecision, now: float) -> None:
        """UID2/EUID tokens become raw-id keys; nothing is decrypted when user-level keys are barred."""
        decryptor = self.services.decryptor
        if decryptor is None or not signals.tokens:
            return
        domain = signals.site_domain or signals.app_bundle
        optouts = self.services.optouts
        for token in signals.tokens:
            kind = K.UID2 if token.scope == "UID2" else K.EUID
            if kind not in decision.allowed_kinds:
                continue
            result = decryptor.decrypt(token.token, self._scopes[token.scope], domain_or_app_name=domain,
                                       now=now)
            status = result.status.name
            if result.uid and kind == K.UID2 and optouts is not None \
                    and optouts.is_opted_out(result.uid, result.established):
                # POST /v2/optout/status said so after the token was made
                status = "OPTED_OUT_BY_STATUS_CHECK"
            _DECRYPT.add((token.scope, status, str(result.version or 0)))
            if result.uid and status == "SUCCESS":
                signals.add(kind, result.uid)

    def _account(self, signals: RequestSignals, decision: PrivacyDecision, keys: list[str], runs: KeyRuns,
                 hits: dict[str, list[str]], answer: Answer, endpoint: str) -> None:
        """The request's tallies (``/metrics``), all in one place: dict increments, flushed each second."""
        _PRIVACY.add(decision.reason)
        for kind, values in signals.keys.items():
            _KEYS_FOUND.add(kind, len(values))
        count_lookups(keys, hits, runs)
        if signals.invalid_fields:
            _INVALID.add(endpoint, signals.invalid_fields)
        _SEGMENTS[endpoint].observe(len(answer.segment_ids))
        if answer.capped:
            _CAPPED.add(endpoint)

    def _mirror(self, signals: RequestSignals, decision: PrivacyDecision, result: LookupResult,
                answer: Answer) -> None:
        """Offer the matched user to the Xandr mirror: an O(1) in-memory append, never I/O here.

        Users are the request's own Xandr/device ids, plus Xandr ids linked (at load time) to a
        user-level key that matched — keys of forbidden kinds were never looked up.
        """
        mirror = self.services.mirror
        mapped = [s for s in answer.matched if s.xandr is not None]
        if mirror is None or not mapped:
            return
        users, _ = mirrorable_users(signals, decision, mirror.settings)
        if decision.mirror_allowed:
            for key, links in result.links.items():
                if key in result.hits and key.partition(":")[0] in K.USER_LEVEL_KINDS:
                    users.extend(link for link in links if link not in users)
        if users:
            mirror.offer(users, mapped)
