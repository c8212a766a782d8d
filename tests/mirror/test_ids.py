from __future__ import annotations

import pytest

from server.mirror.ids import mirrorable_users
from server.mirror.settings import MirrorSettings
from server.signals import IdToken, PrivacyDecision, PrivacySignals, RequestSignals

ALLOWED = PrivacyDecision(allowed_kinds=frozenset({"ifa", "uid2"}), mirror_allowed=True, reason="allowed")
LMT = PrivacyDecision(allowed_kinds=frozenset({"uid2"}), mirror_allowed=True, reason="lmt")
BARRED = PrivacyDecision(allowed_kinds=frozenset(), mirror_allowed=False, reason="coppa")


def sig(**kw: object) -> RequestSignals:
    return RequestSignals(privacy=PrivacySignals(), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("signals", "decision", "users", "kinds"), [
    pytest.param(sig(xandr_ids=["123"]), ALLOWED, [("123", None)], [], id="xandr id → domain null"),
    pytest.param(sig(ifa="AEBE52E7", device_os="iOS"), ALLOWED, [("AEBE52E7", "idfa")], [], id="iOS → idfa"),
    pytest.param(sig(ifa="a-1", device_os="Android"), ALLOWED, [("a-1", "aaid")], [], id="Android → aaid"),
    pytest.param(sig(ifa="a-1", device_os="Tizen"), ALLOWED, [], ["ifa_unknown_os"], id="unknown os"),
    pytest.param(sig(ifa="a-1", device_os="iOS"), LMT, [], ["ifa_not_allowed"], id="LMT removes ifa"),
    pytest.param(sig(tokens=[IdToken("UID2", "A4AA")]), ALLOWED, [], ["uid2"], id="uid2 not mirrorable"),
    pytest.param(sig(tokens=[IdToken("EUID", "A4AA")], xandr_ids=["9"]), ALLOWED, [("9", None)], ["euid"],
                 id="euid beside a xandr id"),
    pytest.param(sig(xandr_ids=["123"], ifa="x", device_os="ios"), BARRED, [], ["privacy"],
                 id="privacy gate"),
    pytest.param(sig(xandr_ids=["1", "1", ""]), ALLOWED, [("1", None)], [], id="dedup and empty"),
])
def test_mirrorable_users(signals: RequestSignals, decision: PrivacyDecision,
                          users: list[tuple[str, str | None]], kinds: list[str]) -> None:
    assert mirrorable_users(signals, decision, MirrorSettings()) == (users, kinds)


def test_device_ids_can_be_switched_off() -> None:
    s = sig(ifa="AEBE52E7", device_os="iOS")
    assert mirrorable_users(s, ALLOWED, MirrorSettings(mirror_device_ids=False)) == ([], [])
