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


@functools.lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str | None:
    """``news.example.co.uk`` → ``example.co.uk`` (public-suffix aware); cached per host."""
    host = host.lower().rstrip(".")
    if not host or host.replace(".", "").isdigit():
        return None
    return _PSL.privatesuffix(host)


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

    def text(self, parent: dict[str, Any] | None, name: str) -> str | None:
        if parent is None:
            return None
        value = parent.get(name)
        if value is None or isinstance(value, str):
            return value or None
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
    text, integer = r.text, r.integer
    coppa = gdpr = us_privacy = gpp = None
    gpp_sid: list[Any] = []
    if regs is not None:
        coppa, gdpr = integer(regs, "coppa"), integer(regs, "gdpr")
        us_privacy, gpp = text(regs, "us_privacy"), text(regs, "gpp")
        gpp_sid = r.items(regs, "gpp_sid") or r.items(regs, "gppSid")
    if regs_ext is not None:  # OpenRTB 2.5 locations: used where the 2.6 field is absent
        coppa = integer(regs_ext, "coppa") if coppa is None else coppa
        gdpr = integer(regs_ext, "gdpr") if gdpr is None else gdpr
        us_privacy = text(regs_ext, "us_privacy") if us_privacy is None else us_privacy
        gpp = text(regs_ext, "gpp") if gpp is None else gpp
        gpp_sid = gpp_sid or r.items(regs_ext, "gpp_sid") or r.items(regs_ext, "gppSid")
    sids: tuple[int, ...] = ()
    if gpp_sid:
        sids = tuple(s for s in gpp_sid if s.__class__ is int)
        r.invalid += len(gpp_sid) - len(sids)
    consent = text(user, "consent")
    if consent is None:
        consent = text(user_ext, "consent")
    ifa = device.get("ifa") if device is not None else None
    return PrivacySignals(
        coppa, gdpr, consent, us_privacy, gpp, sids, integer(device, "lmt"),
        gpc_header or (regs_ext is not None and regs_ext.get("gpc") in ("1", 1)),
        ifa.__class__ is str and bool(ifa),
    )


def _site(r: _Reader, site: dict[str, Any] | None, s: RequestSignals) -> None:
    if site is None:
        return
    url, domains, s.site_domain = site_context(r.text(site, "page"), r.text(site, "domain"))
    if url is not None:
        s.page_url = url
        s.add(K.URL, url)
    _content(r, r.obj(site, "content"), s)
    for value in domains:
        s.add(K.DOMAIN, value)


@functools.lru_cache(maxsize=65536)
def site_context(page: str | None, domain: str | None) -> tuple[str | None, tuple[str, ...], str | None]:
    """(normalised page URL, domain key values, registrable site domain) of ``site.page`` and
    ``site.domain`` — pages repeat across requests, so this is worked out once per pair."""
    hosts = []
    url = K.normalise_url(page) if page else None
    if url:
        hosts.append(url.partition("/")[0].partition(":")[0])
    if domain and (d := K.normalise_domain(domain)):
        hosts.insert(0, d)
    values = tuple(dict.fromkeys(v for host in hosts for v in domain_keys(host)))
    return url or None, values, next((reg for h in hosts if (reg := registrable_domain(h))), None)


def _app(r: _Reader, app: dict[str, Any] | None, s: RequestSignals) -> None:
    if app is None:
        return
    if (bundle := r.text(app, "bundle")) and (b := K.normalise_plain(bundle)):
        s.app_bundle = b
        s.add(K.BUNDLE, b)
    hosts = [d] if (domain := r.text(app, "domain")) and (d := K.normalise_domain(domain)) else []
    _content(r, r.obj(app, "content"), s)
    _domains(hosts, s)


def _content(r: _Reader, content: dict[str, Any] | None, s: RequestSignals) -> None:
    if (cid := r.text(content, "id")) and (v := K.normalise_plain(cid)):
        s.add(K.CONTENT_ID, v)
    if (curl := r.text(content, "url")) and (u := K.normalise_url(curl)):
        s.add(K.URL, u)


def domain_keys(host: str) -> list[str]:
    """A host and, when different, its registrable domain: a rule on ``example.co.uk`` covers its subdomains."""
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
    s.ip = r.text(device, "ip") or r.text(device, "ipv6")
    geo = r.obj(device, "geo")
    country, zip_code = r.text(geo, "country"), r.text(geo, "zip")
    if country and zip_code and (g := _geo(country, zip_code)):
        s.add(K.GEO, g)


_geo = functools.lru_cache(maxsize=65536)(K.normalise_geo)  # a few thousand country+zip pairs


def _eids(r: _Reader, eids: list[Any], s: RequestSignals, xandr_sources: frozenset[str]) -> None:
    for eid in eids[:MAX_EIDS]:
        if eid.__class__ is not dict:
            r.invalid += 1
            continue
        source = r.text(eid, "source")
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
