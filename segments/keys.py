"""Typed lookup keys: the vocabulary shared by the loader, the store and `/rtd`.

A key is a string ``"<kind>:<value>"`` with a normalised value, so the same user or page written
by the loader and seen in a bid request meets in one byte-identical string. Kinds split into
*user-level* keys (they single out a person or device, so privacy rules can forbid them) and
*contextual* keys (what is on the page or in the app).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterator
from typing import Final
from urllib.parse import unquote, urlsplit

UID2: Final = "uid2"
EUID: Final = "euid"
EID: Final = "eid"  # "eid:<source>:<id>" — any other OpenRTB eid source (liveramp.com, id5-sync.com, …)
IFA: Final = "ifa"
USER_ID: Final = "user_id"
URL: Final = "url"
DOMAIN: Final = "domain"
BUNDLE: Final = "bundle"
CONTENT_ID: Final = "content_id"
IP: Final = "ip"
GEO: Final = "geo"

USER_LEVEL_KINDS: Final = frozenset({UID2, EUID, EID, IFA, USER_ID})
CONTEXTUAL_KINDS: Final = frozenset({URL, DOMAIN, BUNDLE, CONTENT_ID, IP, GEO})
ALL_KINDS: Final = USER_LEVEL_KINDS | CONTEXTUAL_KINDS

# Response order: the most specific evidence first. When more than 500 segments match, the
# cap drops from the end, so contextual segments from broad keys (ip, geo, domain) go first.
KIND_PRIORITY: Final[dict[str, int]] = {
    UID2: 0, EUID: 1, EID: 2, IFA: 3, USER_ID: 4,
    URL: 5, CONTENT_ID: 6, BUNDLE: 7, DOMAIN: 8, GEO: 9, IP: 10,
}

MAX_URL_DEPTH: Final = 8  # path segments turned into prefix keys; deeper pages still match their first 8
MAX_VALUE_LENGTH: Final = 2048
ZERO_IFA: Final = "00000000-0000-0000-0000-000000000000"


class InvalidKey(ValueError):
    """A key value that cannot be normalised (loader rows report it with their line number)."""


def make(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def split(key: str) -> tuple[str, str]:
    kind, _, value = key.partition(":")
    return kind, value


@functools.lru_cache(maxsize=65536)
def normalise_url(raw: str) -> str | None:
    """``https://WWW.Example.com:443/a//b/?q#f`` → ``example.com/a/b``.

    Scheme, ``www.``, default ports, query and fragment are dropped and the host lower-cased:
    Index sends the page as the publisher wrote it, and the seed's Cached API example
    (``url=apple.com/developer/news/iphone``) has no scheme at all. The path keeps its case
    (servers may treat it as significant) but loses empty and trailing segments.
    """
    text = raw.strip()
    if not text or len(text) > MAX_VALUE_LENGTH:
        return None
    if "://" not in text[:12]:
        text = "http://" + text.lstrip("/")
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if not host or any(c.isspace() for c in host):
        return None
    host = host.removeprefix("www.")
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    segments = [s for s in unquote(parts.path).split("/") if s]
    return "/".join([host, *segments])


def url_prefixes(normalised: str) -> Iterator[str]:
    """Every key a page URL can match: the page itself and each path prefix up to its host.

    A rule stored on ``example.com/sports`` covers ``example.com/sports/football/x``; we ask the
    store for all prefixes at once instead of scanning ranges, so a lookup stays one query.
    """
    host, _, path = normalised.partition("/")
    yield host
    if not path:
        return
    acc = host
    for depth, segment in enumerate(path.split("/")):
        if depth >= MAX_URL_DEPTH:
            break
        acc = f"{acc}/{segment}"
        yield acc


def normalise_domain(raw: str) -> str | None:
    host = raw.strip().lower().rstrip(".")
    host = host.removeprefix("www.")
    if not host or len(host) > 253 or any(c in host for c in "/ :?#"):
        return None
    return host


def normalise_ifa(raw: str) -> str | None:
    value = raw.strip().lower()
    if not value or value == ZERO_IFA or len(value) > 128:
        return None
    return value


def normalise_ip(raw: str) -> str | None:
    """A single address (``1.2.3.4``) or a network (``1.2.3.0/24``), canonical form with prefix."""
    try:
        network = ipaddress.ip_network(raw.strip(), strict=False)
    except ValueError:
        return None
    return str(network)


@functools.lru_cache(maxsize=65536)
def ip_candidates(raw: str, prefix_lengths: frozenset[int]) -> tuple[str, ...]:
    """The networks an address falls in, for only the prefix lengths the store actually holds.

    Storing CIDR rules as ``ip:<network>`` keys and asking only for the lengths present keeps an
    IP lookup inside the one batched query (typically /32 and /24 → two candidates).
    """
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return ()
    return tuple(str(ipaddress.ip_network(f"{address}/{length}", strict=False))
                 for length in sorted(prefix_lengths, reverse=True) if length <= address.max_prefixlen)


def normalise_geo(country: str, zip_code: str) -> str | None:
    """``geo:USA:55555`` — OpenRTB ``device.geo.country`` is ISO-3166-1 alpha-3, upper-cased."""
    c = country.strip().upper()
    z = zip_code.strip().upper().replace(" ", "")
    if not c or not z or len(c) > 3 or len(z) > 16:
        return None
    return f"{c}:{z}"


def normalise_plain(raw: str) -> str | None:
    value = raw.strip()
    if not value or len(value) > MAX_VALUE_LENGTH:
        return None
    return value


def normalise_eid(source: str, uid: str) -> str | None:
    src = source.strip().lower()
    value = uid.strip()
    if not src or not value or ":" in src or len(value) > MAX_VALUE_LENGTH:
        return None
    return f"{src}:{value}"


def normalise(kind: str, value: str) -> str:
    """Normalise a loader-side key value; raises :class:`InvalidKey` naming what is wrong."""
    if kind == URL:
        out = normalise_url(value)
    elif kind == DOMAIN:
        out = normalise_domain(value)
    elif kind == IFA:
        out = normalise_ifa(value)
    elif kind == IP:
        out = normalise_ip(value)
    elif kind == GEO:
        country, _, zip_code = value.partition(":")
        out = normalise_geo(country, zip_code)
    elif kind == EID:
        source, _, uid = value.partition(":")
        out = normalise_eid(source, uid)
    elif kind in ALL_KINDS:
        out = normalise_plain(value)
    else:
        raise InvalidKey(f"unknown key kind {kind!r}; expected one of {sorted(ALL_KINDS)}")
    if out is None:
        raise InvalidKey(f"invalid {kind} value")
    return out
