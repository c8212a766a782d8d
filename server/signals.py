"""What one bid request tells us, parsed once, tolerantly, into plain typed values.

`/rtd` is parse → gate → decrypt → lookup → respond. This module holds the *values* that flow
between those steps so that each step (and its tests) can be written against data, not against
OpenRTB's nested dicts: :class:`PrivacySignals` feed the privacy gate, :class:`PrivacyDecision`
is its answer, and :class:`RequestSignals` is everything else the request offers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple, TypeVar


class PrivacySignals(NamedTuple):
    """Privacy-relevant fields, already resolved across OpenRTB 2.5 (``ext``) and 2.6 locations.

    ``None`` always means "absent or of the wrong type" — the gate decides what that implies.
    A NamedTuple, not a dataclass: built on every request and used as the key of the decision
    cache, so construction and hashing run in C.
    """

    coppa: int | None = None
    gdpr: int | None = None
    consent: str | None = None  # TCF v2 string: user.consent / user.ext.consent
    us_privacy: str | None = None  # regs.us_privacy / regs.ext.us_privacy
    gpp: str | None = None
    gpp_sid: tuple[int, ...] = ()  # regs.gpp_sid / regs.gppSid (Index's sample) / regs.ext.gpp_sid
    lmt: int | None = None  # device.lmt
    gpc: bool = False  # Sec-GPC: 1 header, or regs.ext.gpc == "1"
    has_ifa: bool = False  # whether the request carries a device.ifa (for LMT bookkeeping)


_T = TypeVar("_T", bound=tuple)  # type: ignore[type-arg]
_tuple_new: Final = tuple.__new__


def built(cls: type[_T], values: tuple[object, ...]) -> _T:
    """``cls(*values)`` for a NamedTuple ``cls``, without its generated ``__new__``: that one is
    an interpreted function (~1.5 k instructions per call under callgrind), this is one C call.
    ``values`` must hold every field, in order."""
    return _tuple_new(cls, values)


# The privacy decision cache (server.rtd) only remembers signals this small: TCF and GPP strings
# carry per-user timestamps, so long ones rarely repeat, and remembering them costs memory.
CACHED_SIGNAL_LENGTH: Final = 1024
CACHED_GPP_SIDS: Final = 32  # GPP defines about twenty section ids


_SID_SIZE: Final = CACHED_SIGNAL_LENGTH // CACHED_GPP_SIDS


def entry_size(signals: PrivacySignals) -> int:
    """The size of ``signals`` as a cache key: its longest string, or its GPP section ids scaled
    so that :data:`CACHED_GPP_SIDS` of them weigh :data:`CACHED_SIGNAL_LENGTH`."""
    return max(len(signals.consent or ""), len(signals.gpp or ""), len(signals.us_privacy or ""),
               len(signals.gpp_sid) * _SID_SIZE)


@dataclass(frozen=True, slots=True)
class PrivacyDecision:
    """Which key kinds this request may use, whether its user may be mirrored, and why.

    ``reason`` is a short stable code (``"allowed"``, ``"coppa"``, ``"gdpr_no_consent"``, …),
    counted in metrics; it names the first rule that restricted the request.
    """

    allowed_kinds: frozenset[str]
    mirror_allowed: bool
    reason: str
    truncate_ip: bool = False  # COPPA: only a truncated IP may be used for contextual ip keys
    reasons: tuple[str, ...] = ()  # every rule that fired, for debugging and metrics


class IdToken(NamedTuple):
    """An encrypted identity token found in the eids (UID2 ``uidapi.com`` / EUID ``euid.eu``)."""

    scope: str  # "UID2" or "EUID"
    token: str


@dataclass(slots=True, init=False)
class RequestSignals:
    """Every usable value of one request, gathered in a single pass over the body.

    ``keys`` maps a key kind (see :mod:`segments.keys`) to normalised values, in request order and
    deduplicated; the privacy decision later filters kinds before anything is looked up. Built
    once per request: the ``__init__`` is written out because the generated one with
    ``default_factory`` fields costs ~0.7 µs compiled, twice this one.
    """

    privacy: PrivacySignals
    keys: dict[str, list[str]]
    tokens: list[IdToken]
    ip: str | None  # device.ip or device.ipv6, as sent (Index may already truncate it)
    page_url: str | None  # normalised site.page (for CSTG and url keys)
    site_domain: str | None  # site.domain or the host of site.page, for the UID2 CSTG check
    app_bundle: str | None
    ifa: str | None
    device_os: str | None
    xandr_ids: list[str]  # eids from the source configured as Xandr's
    invalid_fields: int  # fields skipped for a wrong type (counted, never an error)

    def __init__(self, privacy: PrivacySignals, keys: dict[str, list[str]] | None = None,
                 tokens: list[IdToken] | None = None, ip: str | None = None, page_url: str | None = None,
                 site_domain: str | None = None, app_bundle: str | None = None, ifa: str | None = None,
                 device_os: str | None = None, xandr_ids: list[str] | None = None,
                 invalid_fields: int = 0) -> None:
        self.privacy = privacy
        self.keys = {} if keys is None else keys
        self.tokens = [] if tokens is None else tokens
        self.ip, self.page_url, self.site_domain = ip, page_url, site_domain
        self.app_bundle, self.ifa, self.device_os = app_bundle, ifa, device_os
        self.xandr_ids = [] if xandr_ids is None else xandr_ids
        self.invalid_fields = invalid_fields

    def add(self, kind: str, value: str) -> None:
        bucket = self.keys.get(kind)
        if bucket is None:
            self.keys[kind] = [value]
        elif value not in bucket:
            bucket.append(value)


UID2_SOURCE: Final = "uidapi.com"
EUID_SOURCE: Final = "euid.eu"
TOKEN_SOURCES: Final = {UID2_SOURCE: "UID2", EUID_SOURCE: "EUID"}
