"""One tolerant pass over an Index RTD body (OpenRTB 2.5 or 2.6) into :class:`RequestSignals`.

This is the path for any JSON object; :mod:`server.openrtb_typed` is the fast path for clean
bodies and shares the steps below that turn field values into signals (``_site``, ``_ids``…).

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
from server.bidrequest import (
    MAX_CONSENT_LENGTH,
    MAX_COUNTRY_LENGTH,
    MAX_HOST_LENGTH,
    MAX_IP_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_URL_LENGTH,
    MAX_US_PRIVACY_LENGTH,
    MAX_ZIP_LENGTH,
)
from server.signals import TOKEN_SOURCES, IdToken, PrivacySignals, RequestSignals, built

MAX_EIDS: Final = 64
MAX_UIDS_PER_EID: Final = 8
_PSL = PublicSuffixList()  # bundled list, built once per process (offline, no network)

# The longest value read from each field is in server.bidrequest (the typed schema states them
# too). The per-worker caches below are also bounded twice — by entries, and by only remembering
# keys up to CACHED_KEY_LENGTH characters (longer valid values are worked out each time) — so a
# worker's memory stays flat under any input.
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

    def uid(self, uid: Any) -> str | None:
        """``uids[].id`` of one element of an eid's ``uids``."""
        if uid.__class__ is not dict:
            self.invalid += 1
            return None
        return self.text(uid, "id")

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
    """The tolerant path: any JSON object, wrong types skipped and counted."""
    r = _Reader()
    site, app, device = r.obj(body, "site"), r.obj(body, "app"), r.obj(body, "device")
    user, regs = r.obj(body, "user"), r.obj(body, "regs")
    user_ext, regs_ext = r.obj(user, "ext"), r.obj(regs, "ext")
    s = RequestSignals(privacy=_privacy(r, regs, regs_ext, user, user_ext, device, gpc_header))
    if site is not None:
        page, domain = r.text(site, "page", MAX_URL_LENGTH), r.text(site, "domain", MAX_HOST_LENGTH)
        content = r.obj(site, "content")
        _site(s, page, domain, r.text(content, "id"), r.text(content, "url", MAX_URL_LENGTH))
    if app is not None:
        bundle, domain = r.text(app, "bundle"), r.text(app, "domain", MAX_HOST_LENGTH)
        content = r.obj(app, "content")
        _app(s, bundle, domain, r.text(content, "id"), r.text(content, "url", MAX_URL_LENGTH))
    if device is not None:
        geo = r.obj(device, "geo")
        _device(s, r.text(device, "ifa"), r.text(device, "os"),
                r.text(device, "ip", MAX_IP_LENGTH) or r.text(device, "ipv6", MAX_IP_LENGTH),
                r.text(geo, "country", MAX_COUNTRY_LENGTH), r.text(geo, "zip", MAX_ZIP_LENGTH))
    if user is not None:
        _user_id(s, r.text(user, "id"))
        for eids in (r.items(user, "eids"), r.items(user_ext, "eids")):
            for eid in eids[:MAX_EIDS]:
                if eid.__class__ is not dict:
                    r.invalid += 1
                elif source := r.text(eid, "source", MAX_HOST_LENGTH):  # a domain (OpenRTB 2.6 §3.2.27)
                    uids = r.items(eid, "uids")[:MAX_UIDS_PER_EID]
                    _ids(s, source, [v for uid in uids if (v := r.uid(uid))], xandr_sources)
    s.invalid_fields = r.invalid
    return s


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
    return built(PrivacySignals, (
        coppa, gdpr, consent, us_privacy, gpp, sids, integer(device, "lmt"),
        gpc_header or (regs_ext is not None and regs_ext.get("gpc") in ("1", 1)),
        ifa.__class__ is str and bool(ifa),
    ))


def _site(s: RequestSignals, page: str | None, domain: str | None, content_id: str | None,
          content_url: str | None) -> None:
    short = (page is None or len(page) <= CACHED_KEY_LENGTH) and (domain is None
                                                                  or len(domain) <= CACHED_KEY_LENGTH)
    if short:
        url, domains, s.site_domain = site_context(page, domain)
    else:
        url, domains, s.site_domain = _site_context(page, domain)
    if url is not None:
        s.page_url = url
        s.add(K.URL, url)
    _content(s, content_id, content_url)
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


def _app(s: RequestSignals, bundle: str | None, domain: str | None, content_id: str | None,
         content_url: str | None) -> None:
    if bundle and (b := K.normalise_plain(bundle)):
        s.app_bundle = b
        s.add(K.BUNDLE, b)
    hosts = [d] if domain and (d := K.normalise_domain(domain)) else []
    _content(s, content_id, content_url)
    _domains(hosts, s)


def _content(s: RequestSignals, content_id: str | None, content_url: str | None) -> None:
    if content_id and (v := K.normalise_plain(content_id)):
        s.add(K.CONTENT_ID, v)
    if content_url and (u := normalise_url(content_url)):
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


def _device(s: RequestSignals, ifa: str | None, os: str | None, ip: str | None, country: str | None,
            zip_code: str | None) -> None:
    if ifa and (v := K.normalise_ifa(ifa)):
        s.ifa = v
        s.add(K.IFA, v)
    s.device_os = os
    s.ip = ip
    if country and zip_code and (g := _geo(country, zip_code)):
        s.add(K.GEO, g)


# a few thousand country+zip pairs (≤ 3 + 16 characters)
_geo = functools.lru_cache(maxsize=16384)(K.normalise_geo)


def _user_id(s: RequestSignals, uid: str | None) -> None:
    if uid and (v := K.normalise_plain(uid)):
        s.add(K.USER_ID, v)


def _ids(s: RequestSignals, raw_source: str, ids: list[str], xandr_sources: frozenset[str]) -> None:
    """The non-empty ``uids[].id`` of one eid: UID2/EUID tokens, Xandr ids, or ``eid`` keys."""
    source = _source(raw_source)
    scope = TOKEN_SOURCES.get(source)
    xandr = scope is None and source in xandr_sources
    for value in ids:
        if scope is not None:
            if len(s.tokens) < MAX_UIDS_PER_EID:
                s.tokens.append(built(IdToken, (scope, value)))
        elif xandr:
            s.xandr_ids.append(value.strip())
        elif v := K.normalise_eid(source, value):
            s.add(K.EID, v)


@functools.lru_cache(maxsize=1024)
def _source(raw: str) -> str:
    """``eid.source`` as compared and stored: trimmed, lower-case (a handful of distinct values)."""
    return raw.strip().lower()
