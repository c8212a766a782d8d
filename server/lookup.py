"""From allowed signals to store keys, and from store hits to Index's answer.

Shared by ``/rtd`` and ``/segments`` so both order, deduplicate and cap segments the same way.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import NamedTuple

from segments import keys as K
from segments.store.base import LookupResult
from segments.taxonomy import Segment, Taxonomy
from server.bidrequest import MAX_IP_LENGTH
from server.openrtb import CACHED_KEY_LENGTH
from server.signals import built

# Index: "最大500セグメントを配列に含めて送信できます" (at most 500 segments per response; seed 004).
MAX_SEGMENTS = 500
_KIND_ORDER = sorted(K.KIND_PRIORITY, key=K.KIND_PRIORITY.__getitem__)


# Bounded twice, like server.openrtb's caches: by entries, and by the length of what they remember.
# Addresses are at most MAX_IP_LENGTH characters; URLs are remembered up to CACHED_KEY_LENGTH
# (each costs up to 9 prefix keys), longer ones are worked out each time.
_ip_candidates = K.ip_candidates.__wrapped__  # ip_keys remembers the result; no second cache


@functools.lru_cache(maxsize=16384)
def truncate_ip(raw: str) -> str | None:
    """IPv4 → /24, IPv6 → /48: the truncated form COPPA allows (PBS truncates IPv4 by 8 bits)."""
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    length = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{length}", strict=False).network_address)


def url_keys(url: str) -> tuple[str, ...]:
    """Store keys for a normalised page URL, longest prefix first (the page is the most specific rule)."""
    return _cached_url_keys(url) if len(url) <= CACHED_KEY_LENGTH else _url_keys(url)


def _url_keys(url: str) -> tuple[str, ...]:
    return tuple(K.make(K.URL, p) for p in reversed(list(K.url_prefixes(url))))


_cached_url_keys = functools.lru_cache(maxsize=8192)(_url_keys)


KeyRuns = list[tuple[str, int]]  # (key kind, how many keys of it), in the order of the key list


def collect_keys(found: dict[str, list[str]], allowed: frozenset[str], ip: str | None,
                 ip_lengths: frozenset[int], *, truncate: bool = False, limit: int = 256,
                 runs: KeyRuns | None = None) -> list[str]:
    """Store keys in priority order (most specific evidence first), only for allowed kinds.

    Keys come grouped by kind, each kind's keys deduplicated (a page's prefixes and a content
    URL's may overlap; a key's kind is part of it, so no two kinds share a key). ``runs``, when
    given, receives each kind's count, so a caller tallies per kind without parsing every key.
    """
    out: list[str] = []
    for kind, prefix in _KIND_PREFIXES:
        values = found.get(kind)
        if not values or kind not in allowed:
            continue
        keys: list[str] | tuple[str, ...]
        if kind == K.URL:
            keys = url_keys(values[0]) if len(values) == 1 else _merged_url_keys(values)
        elif len(values) == 1:  # the usual case: nothing to deduplicate
            keys = [prefix + values[0]]
        else:
            keys = list(dict.fromkeys([prefix + v for v in values]))
        _extend(out, kind, keys, limit, runs)
    if ip and ip_lengths and K.IP in allowed and len(ip) <= MAX_IP_LENGTH:  # IP: the last kind in priority
        address = (truncate_ip(ip) or "") if truncate else ip
        _extend(out, K.IP, ip_keys(address, ip_lengths, truncate), limit, runs)
    return out


def _merged_url_keys(urls: list[str]) -> list[str]:
    """The prefix keys of several URLs (a page and its content URL share most), each once."""
    seen: dict[str, None] = {}
    for url in urls:
        for key in url_keys(url):
            seen[key] = None
    return list(seen)


def _extend(out: list[str], kind: str, keys: list[str] | tuple[str, ...], limit: int,
            runs: KeyRuns | None) -> None:
    room = limit - len(out)
    if room <= 0 or not keys:
        return
    if len(keys) > room:
        keys = keys[:room]
    out += keys
    if runs is not None:
        runs.append((kind, len(keys)))


@functools.lru_cache(maxsize=8192)
def ip_keys(address: str, lengths: frozenset[int], truncated: bool) -> tuple[str, ...]:
    """``ip:<network>`` keys for the prefix lengths the store holds (only /24 and wider when truncated)."""
    if truncated:
        lengths = frozenset(n for n in lengths if n <= 24)
    return tuple(K.make(K.IP, net) for net in _ip_candidates(address, lengths))


_KIND_PREFIXES = tuple((kind, kind + ":") for kind in _KIND_ORDER if kind != K.IP)


class Answer(NamedTuple):
    segment_ids: list[str]
    deal_ids: list[str]
    capped: bool
    matched: list[Segment]


def resolve(keys: Iterable[str], result: LookupResult, taxonomy: Taxonomy, cap: int = MAX_SEGMENTS) -> Answer:
    """Unique segments in key-priority order, then segment-id order within a key.

    Segments no longer in the taxonomy are skipped (Index only knows registered ids). When more
    than ``cap`` match, the tail is dropped — the segments from the broadest keys (ip, geo,
    domain) go first, user-level and exact-page segments are kept.
    """
    hits = result.hits
    if not hits:
        return Answer([], [], False, [])
    seen: dict[str, Segment] = {}
    known = taxonomy.segments
    left = len(hits)  # keys with hits not met yet: the rest of the keys are misses
    for key in keys:
        sids = hits.get(key)
        if sids is None:
            continue
        for sid in sids:
            if sid not in seen and (segment := known.get(sid)) is not None:
                seen[sid] = segment
        left -= 1
        if not left:
            break
    matched = list(seen.values())
    capped = len(matched) > cap
    if capped:
        matched = matched[:cap]
    deals: dict[str, None] = {}
    for segment in matched:
        for deal in segment.deal_ids:
            deals[deal] = None
    return built(Answer, (list(seen)[:cap], list(deals), capped, matched))
