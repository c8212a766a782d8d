"""``GET /segments`` — Index's Cached API: one key (or a documented complex key) per call.

Index caches our answer against the key: ``Cache-Control: max-age`` says for how long (Index
ignores more than 24 h and assumes 24 h when absent), ``no-cache`` says "cache it, but ask again
each time" — for data still being classified. A 4xx means "no data for this key, do not retry",
a 5xx "retry later" (seed 004, レスポンスコード). Index's macro names are not public, so the
parameter names are configuration.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_plus as _unquote_plus

import orjson

from segments import keys as K
from segments.bounded import BoundedCache
from server import metrics as M
from server.bidrequest import MAX_IP_LENGTH
from server.config import CachedApiSettings
from server.http import JSON_HEADERS, BadRequest, Headers, Reply, authorization, error_body, send_bytes
from server.lookup import collect_keys, resolve
from server.observability import hotpath
from server.openrtb import domain_keys, normalise_url
from server.services import Services
from server.types import Receive, Scope, Send

ALL_KINDS = K.ALL_KINDS
_REQUESTS: Final = hotpath.tally(M.REQUESTS, prefix=("segments",))
_LATENCY: Final = hotpath.histogram(M.LATENCY, "segments")
_SEGMENTS: Final = hotpath.histogram(M.SEGMENTS_RETURNED, "segments")


@dataclass(frozen=True, slots=True)
class KeyShape:
    """One accepted combination of query parameters and the key kinds it becomes."""

    params: frozenset[str]
    description: str


def accepted_shapes(cfg: CachedApiSettings) -> list[KeyShape]:
    single = [cfg.url_param, cfg.bundle_param, cfg.content_id_param, cfg.content_url_param,
              cfg.ip_param, cfg.device_id_param]
    shapes = [KeyShape(frozenset({p}), p) for p in single]
    for a, b in ((cfg.url_param, cfg.content_id_param), (cfg.bundle_param, cfg.content_id_param),
                 (cfg.country_param, cfg.zip_param)):
        shapes.append(KeyShape(frozenset({a, b}), f"{a}+{b}"))
    return shapes


EMPTY = b'{"segment_ids":[],"deal_ids":[]}'
NO_STORE_HEADERS: Final = [*JSON_HEADERS, (b"cache-control", b"no-store")]


def _put(found: dict[str, list[str]], kind: str, value: str | None, name: str) -> None:
    if value is None:
        raise BadQuery(f"query parameter {name!r} is not a valid {kind}")
    found.setdefault(kind, []).append(value)


def _single_address(raw: str) -> bool:
    """An ``ip`` parameter is one address (IPv4 or IPv6), not a network; cached per value.

    A value longer than any address is refused before it can reach a cache."""
    return len(raw) <= MAX_IP_LENGTH and _cached_single_address(raw)


@functools.lru_cache(maxsize=16384)
def _cached_single_address(raw: str) -> bool:
    return "/" not in raw and K.normalise_ip(raw) is not None


class BadQuery(ValueError):
    pass


MAX_QUERY_FIELDS = 8


def query_pairs(query: str) -> list[tuple[str, str]]:
    """``parse_qsl(query, keep_blank_values=True, max_num_fields=8)`` without its per-field
    generic work: Index's queries are one or two plain fields, and only a field holding ``%`` or
    ``+`` needs decoding (same results; pinned against ``parse_qsl`` in the tests)."""
    fields = [f for f in query.split("&") if f]
    if len(fields) > MAX_QUERY_FIELDS:
        raise BadQuery("too many query parameters")
    pairs = []
    for field in fields:
        name, _, value = field.partition("=")
        if "%" in field or "+" in field:
            name, value = unquote_plus(name), unquote_plus(value)
        pairs.append((name, value))
    return pairs


_HEX_DIGITS = "0123456789abcdefABCDEF"
# "2F" → b"/": every pair of hex digits, either case, as its byte (what urllib's _hextobyte holds)
_HEX_BYTE: Final = {a + b: bytes([int(a + b, 16)]) for a in _HEX_DIGITS for b in _HEX_DIGITS}


def unquote_plus(text: str) -> str:
    """:func:`urllib.parse.unquote_plus` (UTF-8, ``errors="replace"``), compiled with the path.

    urllib's is interpreted (a regex split, then bytes per chunk): a third of a ``/segments``
    request under callgrind, as Index's values carry ``%2F``. Same algorithm for an ASCII
    string — every ``%XX`` with two hex digits is a byte, any other ``%`` stays — and urllib's
    own for the rare other (pinned against ``parse_qsl`` in the tests).
    """
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    if not text.isascii():
        return _unquote_plus(text)
    bits = text.split("%")
    out = [bits[0].encode()]
    for bit in bits[1:]:
        byte = _HEX_BYTE.get(bit[:2])
        if byte is None:
            out.append(b"%")
            out.append(bit.encode())
        else:
            out.append(byte)
            out.append(bit[2:].encode())
    return b"".join(out).decode("utf-8", "replace")


class CachedApiEndpoint:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.cfg: CachedApiSettings = services.settings.cached_api
        self.shapes = {s.params: s for s in accepted_shapes(self.cfg)}
        self.accepted = sorted({p for s in self.shapes for p in s})  # for the error body
        self._accepted = frozenset(self.accepted)
        self.combos = [s.description for s in self.shapes.values()]
        self.cap = services.settings.rtd.max_segments
        self.miss_cache = f"max-age={min(self.cfg.negative_ttl_seconds, self.cfg.max_age_cap_seconds)}"
        # "max-age=" and at most 20 digits, or "no-cache"/"no-store": the bound only says so
        self._headers: BoundedCache[str, list[tuple[bytes, bytes]]] = BoundedCache(256, 64)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Answer one request over ASGI; returns the status sent (the access log reads it)."""
        status, headers, body = self.reply(scope["headers"], scope.get("query_string", b""), b"")
        await send_bytes(send, status, body, headers)
        return status

    def reply(self, header_list: Headers, query: bytes, body: bytes) -> Reply:
        """The whole answer to a request (a GET's body is not read); the direct path of
        :mod:`server.direct` calls this as the ASGI path does."""
        started = time.perf_counter()
        try:
            credentials = authorization(header_list)
        except BadRequest as exc:
            _REQUESTS.add(400)
            return 400, NO_STORE_HEADERS, error_body(str(exc))
        guard = self.services.guard
        if guard is not None:
            denial = guard.check(credentials, "segments")
            if denial is not None:
                _REQUESTS.add(denial.status)
                return denial.reply
        status, payload, cache = self.answer(query.decode("latin-1"))
        headers = self._headers.get(cache)
        if headers is None:  # a handful of distinct values (the TTLs in the taxonomy): build each once
            headers = [(b"content-type", b"application/json"), (b"cache-control", cache.encode())]
            self._headers.put(cache, headers, len(cache))
        _REQUESTS.add(status)
        _LATENCY.observe(time.perf_counter() - started)
        return status, headers, payload

    def answer(self, query: str, now: float | None = None) -> tuple[int, bytes, str]:
        """(status, body, Cache-Control) for one query string."""
        try:
            params = self._params(query)
            found = self._found(params)
        except BadQuery as exc:
            body = error_body(str(exc), accepted_parameters=self.accepted, accepted_combinations=self.combos)
            return 400, body, "no-store"
        store = self.services.store  # reloaded by the worker's upkeep task, never per request
        keys = collect_keys(found, ALL_KINDS, params.get(self.cfg.ip_param), store.ip_prefix_lengths)
        result = store.lookup(keys, time.time() if now is None else now)
        if result.failed:  # a damaged snapshot answers empty: say "retry" (5xx), not "no data" (4xx/miss)
            return 503, error_body("store unavailable, retry"), "no-store"
        answer = resolve(keys, result, store.taxonomy, self.cap)
        _SEGMENTS.observe(len(answer.segment_ids))
        if not answer.segment_ids:
            if not store.info.segments:  # nothing loaded yet: "retry", not an hour of cached "no data"
                return 503, error_body("no segment data loaded yet, retry"), "no-store"
            if result.classifying:
                return 200, EMPTY, "no-cache"
            return self.cfg.miss_status, EMPTY if self.cfg.miss_status != 204 else b"", self.miss_cache
        body = orjson.dumps({"segment_ids": answer.segment_ids, "deal_ids": answer.deal_ids})
        ttl = self.cfg.max_age_cap_seconds
        default_ttl = self.cfg.default_ttl_seconds
        for segment in answer.matched:
            if segment.classifying:
                return 200, body, "no-cache"
            ttl = min(ttl, default_ttl if segment.ttl_seconds is None else segment.ttl_seconds)
        if result.classifying:
            return 200, body, "no-cache"
        return 200, body, f"max-age={max(0, ttl)}"

    def _params(self, query: str) -> dict[str, str]:
        params: dict[str, str] = {}
        for name, value in query_pairs(query):
            if name not in self._accepted:
                raise BadQuery(f"unknown query parameter {name!r}")
            if name in params:
                raise BadQuery(f"query parameter {name!r} given more than once")
            if not value.strip():
                raise BadQuery(f"query parameter {name!r} is empty")
            params[name] = value
        if frozenset(params) not in self.shapes:
            raise BadQuery("expected exactly one key or one documented complex key" if params
                           else "missing key parameter")
        return params

    def _found(self, params: dict[str, str]) -> dict[str, list[str]]:
        cfg = self.cfg
        found: dict[str, list[str]] = {}
        for name, raw in params.items():
            if name in (cfg.url_param, cfg.content_url_param):
                url = normalise_url(raw)  # None past bidrequest.MAX_URL_LENGTH: a 400 naming the parameter
                _put(found, K.URL, url, name)
                for domain in domain_keys(url.partition("/")[0].partition(":")[0]):  # type: ignore[union-attr]
                    found.setdefault(K.DOMAIN, []).append(domain)
            elif name == cfg.bundle_param:
                _put(found, K.BUNDLE, K.normalise_plain(raw), name)
            elif name == cfg.content_id_param:
                _put(found, K.CONTENT_ID, K.normalise_plain(raw), name)
            elif name == cfg.device_id_param:
                _put(found, K.IFA, K.normalise_ifa(raw), name)
            elif name == cfg.ip_param and not _single_address(raw):
                raise BadQuery(f"query parameter {name!r} is not a valid ip address")
        if cfg.country_param in params:
            geo = K.normalise_geo(params[cfg.country_param], params[cfg.zip_param])
            _put(found, K.GEO, geo, cfg.zip_param)
        return found
