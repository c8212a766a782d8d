"""The OpenRTB fields ``/rtd`` reads, as msgspec structs: a typed decode that skips the rest in C.

Index's bid requests carry ~1.6 KB of which we read a few hundred bytes (site, app, device, user,
regs). ``orjson.loads`` builds every object of the body as a dict and :mod:`server.openrtb` then
walks them; :data:`DECODER` instead decodes straight into these structs, skipping unknown fields
without building them, and checks each field's type and length bound on the way.

This is the *fast* path only, for clean requests: a field of the wrong type or over its length
bound raises :class:`msgspec.ValidationError`, and the caller then parses the same bytes with the
tolerant path (``orjson.loads`` + :func:`server.openrtb.parse_request`), which skips and counts
that field. So a wrong type is still ignored, never rejected, and both paths give the same
:class:`~server.signals.RequestSignals` for every body the fast path accepts
(``tests/server/test_bidrequest.py`` checks this on generated bodies).

The length bounds below are the tolerant reader's too; integers are bounded to
what orjson returns as ``int`` (a larger literal becomes a float there, which the tolerant reader
counts as invalid). Not compiled with mypyc: these classes are msgspec's C types.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec

from segments import keys as K

# Longest value read from a field: a longer one is skipped and counted as an invalid field (never
# an error), so nothing attacker-sized reaches a cache (server.openrtb bounds its caches too).
MAX_TEXT_LENGTH: Final = 8192  # any string field: none we read is legitimately longer
# 2,048: sitemaps.org's URL limit, ~IE's 2,083 (the de-facto web limit)
MAX_URL_LENGTH: Final = K.MAX_VALUE_LENGTH
MAX_HOST_LENGTH: Final = 253  # RFC 1035 §2.3.4: 255 octets on the wire, 253 characters as text
MAX_IP_LENGTH: Final = 45  # RFC 4291 §2.2 form 3 x:x:x:x:x:x:d.d.d.d (POSIX INET6_ADDRSTRLEN = 46 with NUL)
MAX_COUNTRY_LENGTH: Final = 3  # OpenRTB 2.5 §3.2.19 geo.country: ISO-3166-1 alpha-3
MAX_ZIP_LENGTH: Final = 16  # segments.keys.normalise_geo's bound; the longest postal codes have 10 characters
# TCF and GPP strings: the privacy gate decodes at most [privacy] max_consent_length (8,192)
# characters. A longer one reaches the gate as OVERSIZE (server.openrtb), a value no decoder
# accepts, so the gate takes the same safe reading as for any malformed string.
MAX_CONSENT_LENGTH: Final = 8192
MAX_US_PRIVACY_LENGTH: Final = 16  # IAB CCPA spec: exactly 4 characters (the parser tolerates spaces)

Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_LENGTH)]
Url = Annotated[str, msgspec.Meta(max_length=MAX_URL_LENGTH)]
Host = Annotated[str, msgspec.Meta(max_length=MAX_HOST_LENGTH)]
Consent = Annotated[str, msgspec.Meta(max_length=MAX_CONSENT_LENGTH)]
UsPrivacy = Annotated[str, msgspec.Meta(max_length=MAX_US_PRIVACY_LENGTH)]
# orjson returns integers in [-2**63, 2**64 - 1] as int and anything wider as a float (msgspec
# takes int64 bounds only: the rare integer above 2**63 - 1 goes the tolerant way, which reads it).
Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


# ``gc=False``: a decoded body is a tree (JSON has no references), so its structs never form a
# cycle; untracked, they skip the collector's link/unlink on every allocation and free
# (msgspec, "Disabling Garbage Collection").
class Content(msgspec.Struct, gc=False):
    id: Text | None = None
    url: Url | None = None


class Site(msgspec.Struct, gc=False):
    page: Url | None = None
    domain: Host | None = None
    content: Content | None = None


class App(msgspec.Struct, gc=False):
    bundle: Text | None = None
    domain: Host | None = None
    content: Content | None = None


class Geo(msgspec.Struct, gc=False):
    country: Annotated[str, msgspec.Meta(max_length=MAX_COUNTRY_LENGTH)] | None = None
    zip: Annotated[str, msgspec.Meta(max_length=MAX_ZIP_LENGTH)] | None = None


class Device(msgspec.Struct, gc=False):
    ifa: Text | None = None
    os: Text | None = None
    ip: Annotated[str, msgspec.Meta(max_length=MAX_IP_LENGTH)] | None = None
    ipv6: Annotated[str, msgspec.Meta(max_length=MAX_IP_LENGTH)] | None = None
    lmt: Int | None = None
    geo: Geo | None = None


class Uid(msgspec.Struct, gc=False):
    id: Text | None = None


class Eid(msgspec.Struct, gc=False):
    source: Host | None = None
    uids: list[Uid] | None = None


class UserExt(msgspec.Struct, gc=False):
    consent: Consent | None = None
    eids: list[Eid] | None = None


class User(msgspec.Struct, gc=False):
    id: Text | None = None
    consent: Consent | None = None
    eids: list[Eid] | None = None
    ext: UserExt | None = None


class _PrivacyFields(msgspec.Struct, gc=False):
    """The privacy fields OpenRTB 2.6 puts in ``regs`` and 2.5 put in ``regs.ext``: both are read."""

    coppa: Int | None = None
    gdpr: Int | None = None
    us_privacy: UsPrivacy | None = None
    gpp: Consent | None = None
    gpp_sid: list[Int] | None = None
    gppSid: list[Int] | None = None  # Index's sample request spells it so


class RegsExt(_PrivacyFields):
    gpc: Any = None  # read as ``in ("1", 1)``, any JSON value: nothing to be of the wrong type


class Regs(_PrivacyFields):
    ext: RegsExt | None = None


class BidRequest(msgspec.Struct, gc=False):
    site: Site | None = None
    app: App | None = None
    device: Device | None = None
    user: User | None = None
    regs: Regs | None = None


DECODER: Final = msgspec.json.Decoder(BidRequest)
