"""The privacy gate: signals → facts → the rule table → one :class:`PrivacyDecision`.

``decide()`` runs before any lookup on ``/rtd``. It first reduces :class:`PrivacySignals` to
:class:`Facts` (every string decoded once, through the caches), then walks :data:`RULES` — the
whole policy, one row per rule, in precedence order — and intersects the effects of every row
that fires. ``reason`` is the first *restricting* row's code; ``reasons`` lists every row that
fired, notes included. Rows are ordered most-severe first, so ``reason`` names the rule that
explains the outcome (COPPA beats GDPR beats US opt-outs beats LMT).

Ambiguity always resolves to the safer reading, and ``decide`` never raises: a bug anywhere
yields the safest decision with reason ``internal_error`` (contextual keys only, truncated IP,
no mirroring).

Which GPP sections apply: those in ``gpp_sid`` (OpenRTB 2.6), or — if the list is empty — every
section present in the string (more sections can only restrict more). Section 2 (and the
deprecated section 1) means GDPR applies even without ``regs.gdpr``; section 2's TC string is used
when ``user.consent`` is absent. Section 6 is read like ``us_privacy``; section 5 by the TCF Canada
rule (:mod:`server.privacy.tcfca`). Where the header and the bodies disagree — a listed section
with a missing or empty body, a ``gpp_sid`` id the string does not hold, a body count that differs
from the header's — the GPP signal is malformed (``gpp_invalid``), for every section id.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from segments.keys import CONTEXTUAL_KINDS, IFA, USER_LEVEL_KINDS
from server.privacy import coppa, gpp_sections, lmt, usp
from server.privacy import reasons as r
from server.privacy.gpp import GppDecoder
from server.privacy.settings import PrivacySettings
from server.privacy.tcf import TcfDecoder
from server.privacy.tcfca import TcfCaDecoder
from server.signals import PrivacyDecision, PrivacySignals

ALL_KINDS: Final = USER_LEVEL_KINDS | CONTEXTUAL_KINDS


@dataclass(frozen=True, slots=True)
class Effect:
    kinds: frozenset[str]  # what remains usable
    mirror: bool
    truncate_ip: bool = False
    restricts: bool = True  # False for notes: counted, but change nothing


CHILD: Final = Effect(CONTEXTUAL_KINDS, mirror=False, truncate_ip=True)
CONTEXTUAL_ONLY: Final = Effect(CONTEXTUAL_KINDS, mirror=False)
NO_IFA: Final = Effect(ALL_KINDS - {IFA}, mirror=True)
NOTE: Final = Effect(ALL_KINDS, mirror=True, restricts=False)


class Gdpr(enum.Enum):
    NOT_APPLICABLE = "not_applicable"
    MISSING = "missing"
    INVALID = "invalid"
    NO_VENDOR_ID = "no_vendor_id"
    DENIED = "denied"
    GRANTED = "granted"


class TcfCa(enum.Enum):
    NOT_APPLICABLE = "not_applicable"
    INVALID = "invalid"  # section 5 applies but its body is missing or undecodable: read as gpp_invalid
    NO_VENDOR_ID = "no_vendor_id"
    DENIED = "denied"
    GRANTED = "granted"


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the rules look at, already decoded, plus the settings that pick a behaviour."""

    s: PrivacySettings
    coppa: bool = False
    gdpr: Gdpr = Gdpr.NOT_APPLICABLE
    usp: usp.UspStatus = usp.UspStatus.ABSENT
    gpp_invalid: bool = False  # undecodable string, or an applicable section missing/undecodable
    gpp_unknown: bool = False  # an applicable section id we do not decode
    gpp_deprecated: bool = False  # an applicable deprecated section (1, EU TCF v1)
    tcfca: TcfCa = TcfCa.NOT_APPLICABLE
    us_opt_out: bool = False
    us_child: bool = False
    gpc: bool = False
    lmt: bool = False
    has_ifa: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    when: Callable[[Facts], bool]
    effect: Effect


# The policy. Read top to bottom: the first row that restricts names the decision.
RULES: Final[tuple[Rule, ...]] = (
    Rule(r.COPPA, lambda f: f.coppa, CHILD),
    Rule(r.GDPR_MISSING_CONSENT, lambda f: f.gdpr is Gdpr.MISSING, CONTEXTUAL_ONLY),
    Rule(r.GDPR_INVALID_CONSENT, lambda f: f.gdpr is Gdpr.INVALID, CONTEXTUAL_ONLY),
    Rule(r.GDPR_NO_VENDOR_ID, lambda f: f.gdpr is Gdpr.NO_VENDOR_ID, CONTEXTUAL_ONLY),
    Rule(r.GDPR_NO_CONSENT, lambda f: f.gdpr is Gdpr.DENIED, CONTEXTUAL_ONLY),
    Rule(r.TCFCA_NO_VENDOR_ID, lambda f: f.tcfca is TcfCa.NO_VENDOR_ID, CONTEXTUAL_ONLY),
    Rule(r.TCFCA_NO_CONSENT, lambda f: f.tcfca is TcfCa.DENIED, CONTEXTUAL_ONLY),
    Rule(r.USP_OPT_OUT, lambda f: f.usp is usp.UspStatus.OPT_OUT, CONTEXTUAL_ONLY),
    Rule(r.USP_INVALID, lambda f: f.usp is usp.UspStatus.INVALID and f.s.usp_malformed_opt_out,
         CONTEXTUAL_ONLY),
    Rule(r.USP_INVALID, lambda f: f.usp is usp.UspStatus.INVALID and not f.s.usp_malformed_opt_out, NOTE),
    Rule(r.GPP_US_CHILD, lambda f: f.us_child, CONTEXTUAL_ONLY),
    Rule(r.GPP_US_OPT_OUT, lambda f: f.us_opt_out, CONTEXTUAL_ONLY),
    Rule(r.GPP_INVALID, lambda f: f.gpp_invalid and f.s.gpp_malformed_opt_out, CONTEXTUAL_ONLY),
    Rule(r.GPP_INVALID, lambda f: f.gpp_invalid and not f.s.gpp_malformed_opt_out, NOTE),
    Rule(r.GPP_UNKNOWN_SECTION, lambda f: f.gpp_unknown and f.s.gpp_unknown_section_opt_out, CONTEXTUAL_ONLY),
    Rule(r.GPP_UNKNOWN_SECTION, lambda f: f.gpp_unknown and not f.s.gpp_unknown_section_opt_out, NOTE),
    Rule(r.GPP_DEPRECATED_SECTION, lambda f: f.gpp_deprecated and f.s.gpp_unknown_section_opt_out,
         CONTEXTUAL_ONLY),
    Rule(r.GPP_DEPRECATED_SECTION, lambda f: f.gpp_deprecated and not f.s.gpp_unknown_section_opt_out, NOTE),
    Rule(r.GPC, lambda f: f.gpc and f.s.gpc_opt_out, CONTEXTUAL_ONLY),
    # LMT drops the ad id whether or not one was sent, but is only *counted* when there was one.
    Rule(r.LMT, lambda f: f.lmt and f.has_ifa, NO_IFA),
    Rule(r.LMT, lambda f: f.lmt and not f.has_ifa, Effect(NO_IFA.kinds, mirror=True, restricts=False)),
)

ALLOW_ALL: Final = PrivacyDecision(allowed_kinds=ALL_KINDS, mirror_allowed=True, reason=r.ALLOWED)
SAFEST: Final = PrivacyDecision(
    allowed_kinds=CONTEXTUAL_KINDS, mirror_allowed=False, reason=r.INTERNAL_ERROR, truncate_ip=True,
    reasons=(r.INTERNAL_ERROR,),
)


class PrivacyGate:
    """Decides, per request, which key kinds ``/rtd`` may use and whether to mirror the user.

    Holds the per-worker consent caches, so build one per process (after fork) and reuse it.
    """

    def __init__(self, settings: PrivacySettings | None = None) -> None:
        self.settings = settings or PrivacySettings()
        self.tcf = TcfDecoder(self.settings.gvl_vendor_id, self.settings.cache_size,
                              self.settings.max_consent_length)
        self.gpp = GppDecoder(self.settings.cache_size, self.settings.max_consent_length)
        self.tcfca = TcfCaDecoder(self.settings.tcfca_vendor_id, self.settings.cache_size,
                                  self.settings.max_consent_length)

    def decide(self, signals: PrivacySignals) -> PrivacyDecision:
        try:
            return apply(RULES, self.facts(signals))
        except Exception:  # noqa: BLE001 — the gate must never fail a request; fail closed instead
            return SAFEST

    def facts(self, signals: PrivacySignals) -> Facts:
        settings = self.settings
        gpp_string = None
        gpp_raw = _text(signals.gpp)
        gpp_invalid = gpp_unknown = gpp_deprecated = us_opt_out = us_child = us_gpc = False
        listed = tuple(sid for sid in _sids(signals.gpp_sid) if sid not in gpp_sections.NOT_A_SIGNAL)
        if gpp_raw:
            gpp_string = self.gpp.decode(gpp_raw)
            gpp_invalid = gpp_string is None or gpp_string.mismatch
        present = gpp_string.section_ids if gpp_string else ()
        applicable = listed or present
        for sid in applicable:
            if gpp_string is None or sid not in present or sid in gpp_string.invalid:
                gpp_invalid = True  # listed but absent, empty or undecodable: header and body disagree
            if sid in gpp_sections.PASSTHROUGH_IDS:
                continue  # read below, alongside their OpenRTB counterparts
            if sid in gpp_sections.DEPRECATED:
                gpp_deprecated = True
                continue
            if sid not in gpp_sections.US_LAYOUTS:
                gpp_unknown = True
                continue
            section = gpp_string.us_section(sid) if gpp_string else None
            if section is not None:
                us_opt_out |= section.opted_out
                us_child |= section.known_child
                us_gpc |= section.gpc

        usp_status = usp.parse(signals.us_privacy)
        if gpp_sections.USP_V1 in applicable:
            gpp_usp = usp.parse(gpp_string.usp if gpp_string and gpp_string.usp else "-")
            usp_status = _stricter_usp(usp_status, gpp_usp)
        gdpr_by_gpp = gpp_sections.TCF_EU_V2 in applicable or gpp_sections.TCF_EU_V1 in applicable
        tcfca = TcfCa.NOT_APPLICABLE
        if gpp_sections.TCF_CA_V1 in applicable:
            tcfca = self._tcfca(gpp_string.tcfca if gpp_string else None)
            gpp_invalid |= tcfca is TcfCa.INVALID

        return Facts(
            coppa=coppa.applies(signals.coppa),
            gdpr=self._gdpr(signals, gdpr_by_gpp, gpp_string.tcf if gpp_string else None),
            usp=usp_status,
            gpp_invalid=gpp_invalid or (bool(listed) and not gpp_raw),
            gpp_unknown=gpp_unknown,
            gpp_deprecated=gpp_deprecated,
            tcfca=tcfca,
            us_opt_out=us_opt_out,
            us_child=us_child,
            gpc=signals.gpc is True or us_gpc,
            lmt=lmt.applies(signals.lmt),
            has_ifa=signals.has_ifa is True,
            s=settings,
        )

    def _tcfca(self, raw: str | None) -> TcfCa:
        """Section 5 applies: judge it for our Canadian vendor id (none configured: no consent possible)."""
        if self.settings.tcfca_vendor_id == 0:
            return TcfCa.NO_VENDOR_ID
        consent = self.tcfca.decode(raw) if raw else None
        if consent is None:
            return TcfCa.INVALID
        allowed = consent.allows(self.settings.tcfca_required_purposes,
                                 implied_ok=self.settings.tcfca_implied_consent)
        return TcfCa.GRANTED if allowed else TcfCa.DENIED

    def _gdpr(self, signals: PrivacySignals, gpp_says_tcf: bool, gpp_tcf: str | None) -> Gdpr:
        flag = signals.gdpr
        # absent: the configured default; 1, or garbage: applies
        applies = self.settings.gdpr_default if flag is None else not (isinstance(flag, int) and flag == 0)
        if not (applies or gpp_says_tcf):
            return Gdpr.NOT_APPLICABLE
        raw = _text(signals.consent) or _text(gpp_tcf)
        if not raw:
            return Gdpr.MISSING
        if self.settings.gvl_vendor_id == 0:
            return Gdpr.NO_VENDOR_ID
        consent = self.tcf.decode(raw)
        if consent is None:
            return Gdpr.INVALID
        return Gdpr.GRANTED if consent.allows(self.settings.required_purposes) else Gdpr.DENIED


def apply(rules: tuple[Rule, ...], facts: Facts) -> PrivacyDecision:
    fired = [rule for rule in rules if rule.when(facts)]
    if not fired:
        return ALLOW_ALL
    kinds = ALL_KINDS
    mirror = True
    truncate_ip = False
    reason = r.ALLOWED
    for rule in fired:
        kinds = kinds & rule.effect.kinds
        mirror = mirror and rule.effect.mirror
        truncate_ip = truncate_ip or rule.effect.truncate_ip
        if reason == r.ALLOWED and rule.effect.restricts:
            reason = rule.code
    codes = tuple(dict.fromkeys(rule.code for rule in fired))
    return PrivacyDecision(allowed_kinds=kinds, mirror_allowed=mirror, reason=reason,
                           truncate_ip=truncate_ip, reasons=codes)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _sids(value: object) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)):
        return ()
    return tuple(v for v in value if isinstance(v, int) and not isinstance(v, bool))


_USP_SEVERITY: Final = {
    usp.UspStatus.OPT_OUT: 4, usp.UspStatus.INVALID: 3, usp.UspStatus.NO_OPT_OUT: 2,
    usp.UspStatus.NOT_APPLICABLE: 1, usp.UspStatus.ABSENT: 0,
}


def _stricter_usp(a: usp.UspStatus, b: usp.UspStatus) -> usp.UspStatus:
    return a if _USP_SEVERITY[a] >= _USP_SEVERITY[b] else b
