"""One tolerant pass over an Index RTD body (OpenRTB 2.5 or 2.6) into :class:`RequestSignals`.

Wrong types are skipped and counted, never raised: Index's circuit breaker throttles partners
that answer 4xx/5xx, so a field we cannot read must cost us that field, not the request.
2.6 locations win over 2.5 ``ext`` locations when both are present (``user.eids`` and
``user.ext.eids`` are *both* read: Index's samples use the 2.5 form).
"""

from __future__ import annotations

import functools
from typing import Any, Final

from publicsuffixlist import PublicSuffixList

from segments import keys as K
from server.signals import TOKEN_SOURCES, IdToken, PrivacySignals, RequestSignals

MAX_EIDS: Final = 64
MAX_UIDS_PER_EID: Final = 8
_PSL = PublicSuffixList()  # bundled list, built once per process (offline, no network)

# Longest value read from a field: a longer one is skipped and counted as an invalid field (never
# an error), so nothing attacker-sized reaches a cache. The per-worker caches below are also
# bounded twice — by entries, and by only remembering keys up to CACHED_KEY_LENGTH characters
# (longer valid values are worked out each time) — so a worker's memory stays flat under any input.
MAX_TEXT_LENGTH: Final = 8192  # any string field: none we read is legitimately longer
MAX_URL_LENGTH: Final = K.MAX_VALUE_LENGTH  # 2,048: sitemaps.org's URL limit, ~IE's 2,083 (de-facto web limit)
MAX_HOST_LENGTH: Final = 253  # RFC 1035 §2.3.4: 255 octets on the wire, 253 characters as text
MAX_IP_LENGTH: Final = 45  # RFC 4291 §2.2 form 3 x:x:x:x:x:x:d.d.d.d (POSIX INET6_ADDRSTRLEN = 46 with NUL)
MAX_COUNTRY_LENGTH: Final = 3  # OpenRTB 2.5 §3.2.19 geo.country: ISO-3166-1 alpha-3
MAX_ZIP_LENGTH: Final = 16  # segments.keys.normalise_geo's bound; the longest postal codes have 10 characters
# TCF and GPP strings: the privacy gate decodes at most [privacy] max_consent_length (8,192)
# characters. A longer one reaches the gate as OVERSIZE, a value no decoder accepts, so the
# gate takes the same safe reading as for any malformed string (no consent, opt-out).
MAX_CONSENT_LENGTH: Final = 8192
MAX_US_PRIVACY_LENGTH: Final = 16  # IAB CCPA spec: exactly 4 characters (the parser tolerates spaces)
OVERSIZE: Final = "!oversize"
CACHED_KEY_LENGTH: Final = 256  # longest URL or host remembered by the caches below
_normalise_url = K.normalise_url.__wrapped__  # segments.keys' own cache is never fed from a request


def registrable_domain(host: str) -> str | None:
    """``news.example.co.uk`` → ``example.co.uk`` (public-suffix aware); cached per host."""
    if len(host) > CACHED_KEY_LENGTH:
        return _registrable(host) if len(host) <= MAX_HOST_LENGTH else None
    return _cached_registrable(host)


def _registrable(host: str) -> str | None:
    host = host.lower().rstrip(".")
    if not host or host.replace(".", "").isdigit():
        return None
    return _PSL.privatesuffix(host)


_cached_registrable = functools.lru_cache(maxsize=16384)(_registrable)


def normalise_url(raw: str) -> str | None:
    """:func:`segments.keys.normalise_url` behind a cache that only remembers short values."""
    if len(raw) > CACHED_KEY_LENGTH:
        return _normalise_url(raw) if len(raw) <= MAX_URL_LENGTH else None
    return _cached_url(raw)


_cached_url = functools.lru_cache(maxsize=16384)(_normalise_url)


class _Reader:
    """Typed getters that count fields of the wrong type instead of raising."""

    __slots__ = ("invalid",)

    def __init__(self) -> None:
        self.invalid = 0

    def obj(self, parent: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
        if parent is None:
            return None
        value = parent.get(name)
        if value is None or isinstance(value, dict):
            return value
        self.invalid += 1
        return None

    def text(self, parent: dict[str, Any] | None, name: str, limit: int = MAX_TEXT_LENGTH) -> str | None:
        if parent is None:
            return None
        value = parent.get(name)
        if value is None:
            return None
        if isinstance(value, str) and len(value) <= limit:
            return value or None
        self.invalid += 1
        return None

    def signal(self, parent: dict[str, Any] | None, name: str, limit: int) -> str | None:
        """A privacy string: too long is not absent (that would read as "no restriction") but
        :data:`OVERSIZE`, which the gate treats like any malformed value."""
        if parent is None:
            return None
        value = parent.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            if len(value) <= limit:
                return value or None
            self.invalid += 1
            return OVERSIZE
        self.invalid += 1
        return None

    def integer(self, parent: dict[str, Any] | None, name: str) -> int | None:
        if parent is None:
            return None
        value = parent.get(name)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.invalid += 1
        return None

    def items(self, parent: dict[str, Any] | None, name: str) -> list[Any]:
        if parent is None:
            return []
        value = parent.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.invalid += 1
        return []


def parse_request(body: dict[str, Any], *, gpc_header: bool = False,
                  xandr_sources: frozenset[str] = frozenset()) -> RequestSignals:
    r = _Reader()
    site, app, device = r.obj(body, "site"), r.obj(body, "app"), r.obj(body, "device")
    user, regs = r.obj(body, "user"), r.obj(body, "regs")
    user_ext, regs_ext = r.obj(user, "ext"), r.obj(regs, "ext")
    signals = RequestSignals(privacy=_privacy(r, regs, regs_ext, user, user_ext, device, gpc_header))
    _site(r, site, signals)
    _app(r, app, signals)
    _device(r, device, signals)
    if user is not None:
        if (uid := r.text(user, "id")) and (v := K.normalise_plain(uid)):
            signals.add(K.USER_ID, v)
        for eids in (r.items(user, "eids"), r.items(user_ext, "eids")):
            _eids(r, eids, signals, xandr_sources)
    signals.invalid_fields = r.invalid
    return signals


def _privacy(r: _Reader, regs: dict[str, Any] | None, regs_ext: dict[str, Any] | None,
             user: dict[str, Any] | None, user_ext: dict[str, Any] | None,
             device: dict[str, Any] | None, gpc_header: bool) -> PrivacySignals:
    text, integer = r.signal, r.integer
    coppa = gdpr = us_privacy = gpp = None
    gpp_sid: list[Any] = []
    if regs is not None:
        coppa, gdpr = integer(regs, "coppa"), integer(regs, "gdpr")
        us_privacy = text(regs, "us_privacy", MAX_US_PRIVACY_LENGTH)
        gpp = text(regs, "gpp", MAX_CONSENT_LENGTH)
        gpp_sid = r.items(regs, "gpp_sid") or r.items(regs, "gppSid")
    if regs_ext is not None:  # OpenRTB 2.5 locations: used where the 2.6 field is absent
        coppa = integer(regs_ext, "coppa") if coppa is None else coppa
        gdpr = integer(regs_ext, "gdpr") if gdpr is None else gdpr
        us_privacy = text(regs_ext, "us_privacy", MAX_US_PRIVACY_LENGTH) if us_privacy is None else us_privacy
        gpp = text(regs_ext, "gpp", MAX_CONSENT_LENGTH) if gpp is None else gpp
        gpp_sid = gpp_sid or r.items(regs_ext, "gpp_sid") or r.items(regs_ext, "gppSid")
    sids: tuple[int, ...] = ()
    if gpp_sid:
        sids = tuple(s for s in gpp_sid if s.__class__ is int)
        r.invalid += len(gpp_sid) - len(sids)
    consent = text(user, "consent", MAX_CONSENT_LENGTH)
    if consent is None:
        consent = text(user_ext, "consent", MAX_CONSENT_LENGTH)
    ifa = device.get("ifa") if device is not None else None
    return PrivacySignals(
        coppa, gdpr, consent, us_privacy, gpp, sids, integer(device, "lmt"),
        gpc_header or (regs_ext is not None and regs_ext.get("gpc") in ("1", 1)),
        ifa.__class__ is str and bool(ifa),
    )


def _site(r: _Reader, site: dict[str, Any] | None, s: RequestSignals) -> None:
    if site is None:
        return
    page, domain = r.text(site, "page", MAX_URL_LENGTH), r.text(site, "domain", MAX_HOST_LENGTH)
    if (page is None or len(page) <= CACHED_KEY_LENGTH) and (domain is None or len(domain) <= CACHED_KEY_LENGTH):
        url, domains, s.site_domain = site_context(page, domain)
    else:
        url, domains, s.site_domain = _site_context(page, domain)
    if url is not None:
        s.page_url = url
        s.add(K.URL, url)
    _content(r, r.obj(site, "content"), s)
    for value in domains:
        s.add(K.DOMAIN, value)


def _site_context(page: str | None, domain: str | None) -> tuple[str | None, tuple[str, ...], str | None]:
    """(normalised page URL, domain key values, registrable site domain) of ``site.page`` and
    ``site.domain`` — pages repeat across requests, so :func:`site_context` remembers short ones."""
    hosts = []
    url = _normalise_url(page) if page else None
    if url:
        hosts.append(url.partition("/")[0].partition(":")[0])
    if domain and (d := K.normalise_domain(domain)):
        hosts.insert(0, d)
    values = tuple(dict.fromkeys(v for host in hosts for v in domain_keys(host)))
    return url or None, values, next((reg for h in hosts if (reg := registrable_domain(h))), None)


site_context = functools.lru_cache(maxsize=8192)(_site_context)


def _app(r: _Reader, app: dict[str, Any] | None, s: RequestSignals) -> None:
    if app is None:
        return
    if (bundle := r.text(app, "bundle")) and (b := K.normalise_plain(bundle)):
        s.app_bundle = b
        s.add(K.BUNDLE, b)
    hosts = [d] if (domain := r.text(app, "domain", MAX_HOST_LENGTH)) and (d := K.normalise_domain(domain)) else []
    _content(r, r.obj(app, "content"), s)
    _domains(hosts, s)


def _content(r: _Reader, content: dict[str, Any] | None, s: RequestSignals) -> None:
    if (cid := r.text(content, "id")) and (v := K.normalise_plain(cid)):
        s.add(K.CONTENT_ID, v)
    if (curl := r.text(content, "url", MAX_URL_LENGTH)) and (u := normalise_url(curl)):
        s.add(K.URL, u)


def domain_keys(host: str) -> list[str]:
    """A host and, when different, its registrable domain: a rule on ``example.co.uk`` covers its subdomains.

    A "host" longer than DNS allows is no host: no domain keys."""
    if len(host) > MAX_HOST_LENGTH:
        return []
    reg = registrable_domain(host)
    return [host, reg] if reg and reg != host else [host]


def _domains(hosts: list[str], s: RequestSignals) -> None:
    for host in hosts:
        for value in domain_keys(host):
            s.add(K.DOMAIN, value)


def _device(r: _Reader, device: dict[str, Any] | None, s: RequestSignals) -> None:
    if device is None:
        return
    if (ifa := r.text(device, "ifa")) and (v := K.normalise_ifa(ifa)):
        s.ifa = v
        s.add(K.IFA, v)
    s.device_os = r.text(device, "os")
    s.ip = r.text(device, "ip", MAX_IP_LENGTH) or r.text(device, "ipv6", MAX_IP_LENGTH)
    geo = r.obj(device, "geo")
    country, zip_code = r.text(geo, "country", MAX_COUNTRY_LENGTH), r.text(geo, "zip", MAX_ZIP_LENGTH)
    if country and zip_code and (g := _geo(country, zip_code)):
        s.add(K.GEO, g)


_geo = functools.lru_cache(maxsize=16384)(K.normalise_geo)  # a few thousand country+zip pairs (≤ 3 + 16 chars)


def _eids(r: _Reader, eids: list[Any], s: RequestSignals, xandr_sources: frozenset[str]) -> None:
    for eid in eids[:MAX_EIDS]:
        if eid.__class__ is not dict:
            r.invalid += 1
            continue
        source = r.text(eid, "source", MAX_HOST_LENGTH)  # a domain (OpenRTB 2.6 §3.2.27)
        if not source:
            continue
        source = _source(source)
        scope = TOKEN_SOURCES.get(source)
        xandr = scope is None and source in xandr_sources
        for uid in r.items(eid, "uids")[:MAX_UIDS_PER_EID]:
            if uid.__class__ is not dict:
                r.invalid += 1
                continue
            value = r.text(uid, "id")
            if not value:
                continue
            if scope is not None:
                if len(s.tokens) < MAX_UIDS_PER_EID:
                    s.tokens.append(IdToken(scope, value))
            elif xandr:
                s.xandr_ids.append(value.strip())
            elif v := K.normalise_eid(source, value):
                s.add(K.EID, v)


@functools.lru_cache(maxsize=1024)
def _source(raw: str) -> str:
    """``eid.source`` as compared and stored: trimmed, lower-case (a handful of distinct values)."""
    return raw.strip().lower()
