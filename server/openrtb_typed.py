"""The fast path from a ``POST /rtd`` body to :class:`RequestSignals`: msgspec's typed decode.

:data:`server.bidrequest.DECODER` decodes only the fields ``/rtd`` reads, with their types and
bounds; :func:`parse_typed` then runs the same steps as the tolerant :func:`parse_request`
(:mod:`server.openrtb`'s ``_site``, ``_app``, ``_device``, ``_ids``…) without its checks. Any
body the decoder refuses goes the tolerant way (:func:`parse_body`), so both paths answer alike
(``tests/server/test_bidrequest.py``).
"""

from __future__ import annotations

from typing import Final

import msgspec
import orjson

from server.bidrequest import DECODER, BidRequest, Eid
from server.openrtb import MAX_EIDS, MAX_UIDS_PER_EID, _app, _device, _ids, _site, _user_id, parse_request
from server.signals import PrivacySignals, RequestSignals, built

NO_SIGNALS: Final = PrivacySignals()


class NotAnObject(ValueError):
    """Valid JSON whose top level is not an object: no bid request (answered with 400)."""


def parse_body(raw: bytes, *, gpc_header: bool = False,
               xandr_sources: frozenset[str] = frozenset()) -> RequestSignals:
    """The request body's signals: the typed fast path, or the tolerant one when it says no.

    :data:`~server.bidrequest.DECODER` refuses any body with a field of the wrong type or over
    its bound, and any malformed one; the same bytes then go through ``orjson.loads`` and
    :func:`parse_request`, which skips and counts such fields (or raises
    :class:`orjson.JSONDecodeError` for malformed JSON: a 400). msgspec does not check UTF-8 in
    the fields it skips, orjson does, so a body that is not plain ASCII is checked first.
    """
    if raw.isascii() or _utf8(raw):
        try:
            return parse_typed(DECODER.decode(raw), gpc_header=gpc_header, xandr_sources=xandr_sources)
        except (msgspec.MsgspecError, RecursionError):  # a wrong type, malformed, or nested past
            pass  # msgspec's depth limit (orjson's is lower: a 400): the tolerant path decides
    doc = orjson.loads(raw)
    if doc.__class__ is not dict:
        raise NotAnObject()
    return parse_request(doc, gpc_header=gpc_header, xandr_sources=xandr_sources)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_typed(req: BidRequest, *, gpc_header: bool = False,
                xandr_sources: frozenset[str] = frozenset()) -> RequestSignals:
    """The fast path: a body :data:`server.bidrequest.DECODER` accepted, so every field we read
    has its type and length; the same steps as :func:`parse_request`, without the checks."""
    site, app, device, user = req.site, req.app, req.device, req.user
    s = RequestSignals(privacy=_typed_privacy(req, gpc_header))
    if site is not None:
        content = site.content
        _site(s, site.page or None, site.domain or None,
              content.id or None if content else None, content.url or None if content else None)
    if app is not None:
        content = app.content
        _app(s, app.bundle or None, app.domain or None,
             content.id or None if content else None, content.url or None if content else None)
    if device is not None:
        geo = device.geo
        _device(s, device.ifa or None, device.os or None, device.ip or device.ipv6 or None,
                geo.country or None if geo else None, geo.zip or None if geo else None)
    if user is not None:
        _user_id(s, user.id or None)
        for eids in (user.eids, user.ext.eids if user.ext is not None else None):
            if eids:
                _typed_eids(s, eids, xandr_sources)
    return s


def _typed_eids(s: RequestSignals, eids: list[Eid], xandr_sources: frozenset[str]) -> None:
    for eid in eids[:MAX_EIDS]:
        if eid.source and eid.uids:
            _ids(s, eid.source, [uid.id for uid in eid.uids[:MAX_UIDS_PER_EID] if uid.id], xandr_sources)


def _typed_privacy(req: BidRequest, gpc_header: bool) -> PrivacySignals:
    """:func:`_privacy` on typed fields: the same precedence (2.6 first, then 2.5 ``ext``)."""
    regs, user, device = req.regs, req.user, req.device
    if regs is None and user is None and device is None and not gpc_header:
        return NO_SIGNALS  # nothing to read: one shared value (the gate's cache key, hashed once)
    coppa = gdpr = us_privacy = gpp = None
    gpp_sid: list[int] | None = None
    gpc = gpc_header
    if regs is not None:
        coppa, gdpr, us_privacy, gpp = regs.coppa, regs.gdpr, regs.us_privacy or None, regs.gpp or None
        gpp_sid = regs.gpp_sid or regs.gppSid
        if (ext := regs.ext) is not None:  # OpenRTB 2.5 locations: used where the 2.6 field is absent
            coppa = ext.coppa if coppa is None else coppa
            gdpr = ext.gdpr if gdpr is None else gdpr
            us_privacy = (ext.us_privacy or None) if us_privacy is None else us_privacy
            gpp = (ext.gpp or None) if gpp is None else gpp
            gpp_sid = gpp_sid or ext.gpp_sid or ext.gppSid
            gpc = gpc or ext.gpc in ("1", 1)
    consent = None
    if user is not None:
        consent = user.consent or (user.ext.consent or None if user.ext is not None else None)
    return built(PrivacySignals, (coppa, gdpr, consent, us_privacy, gpp, tuple(gpp_sid) if gpp_sid else (),
                                  device.lmt if device is not None else None, gpc,
                                  device is not None and bool(device.ifa)))
