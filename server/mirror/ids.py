"""Which of a request's identifiers Xandr's rt-segment can take, and what to count for the rest.

rt-segment's ``domain`` accepts ``null`` (a Xandr user id) and device-id domains only
(reference §B3/§B7): UID2 and EUID have no domain, and Microsoft lists them as "audience
onboarding: No". So a matched user is mirrorable through a Xandr id from a configured eid source
or through ``device.ifa`` mapped by ``device.os`` (iOS → ``idfa``, Android → ``aaid``); LMT and the
privacy gate remove ``ifa`` from ``allowed_kinds`` before we see it.
"""

from __future__ import annotations

from typing import Final

from server.metrics import MIRROR_NOT_MIRRORABLE
from server.mirror.settings import MirrorSettings
from server.mirror.types import User
from server.signals import PrivacyDecision, RequestSignals

#: device.os (lower-cased) → rt-segment domain
OS_DOMAINS: Final[dict[str, str]] = {"ios": "idfa", "ipados": "idfa", "tvos": "idfa", "android": "aaid"}

_NOT_MIRRORABLE = {kind: MIRROR_NOT_MIRRORABLE.labels(kind=kind) for kind in
                   ("uid2", "euid", "ifa_unknown_os", "ifa_not_allowed", "privacy")}


def mirrorable_users(signals: RequestSignals, decision: PrivacyDecision,
                     settings: MirrorSettings) -> tuple[list[User], list[str]]:
    """Return ``(users, not_mirrorable_kinds)`` for one request and count the latter.

    ``not_mirrorable_kinds`` names ids present but unusable ("uid2", "euid", "ifa_unknown_os",
    "ifa_not_allowed", "privacy") so /rtd can log them; when no id at all is usable, each kind is counted in
    ``MIRROR_NOT_MIRRORABLE`` here.
    """
    kinds: list[str] = []
    users: list[User] = []
    if not decision.mirror_allowed:
        if signals.xandr_ids or signals.ifa or signals.tokens:
            kinds.append("privacy")
    else:
        for xid in signals.xandr_ids:
            if xid and (xid, None) not in users:
                users.append((xid, None))
        if signals.ifa and settings.mirror_device_ids:
            if "ifa" not in decision.allowed_kinds:
                kinds.append("ifa_not_allowed")
            else:
                domain = OS_DOMAINS.get((signals.device_os or "").strip().lower())
                if domain is None:
                    kinds.append("ifa_unknown_os")
                else:
                    users.append((signals.ifa, domain))
        for token in signals.tokens:
            kind = token.scope.lower()
            if kind not in kinds:
                kinds.append(kind)
    if not users:  # the metric counts *users* we could not mirror, not every unusable id
        for kind in kinds:
            counter = _NOT_MIRRORABLE.get(kind)
            (counter or MIRROR_NOT_MIRRORABLE.labels(kind=kind)).inc()
    return users, kinds
