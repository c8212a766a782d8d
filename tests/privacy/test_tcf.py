import base64

import pytest
from privacy_vectors import (
    TCF_ALL_PURPOSES,
    TCF_ALL_PURPOSES_VENDORS,
    TCF_EMPTY,
    TCF_IAB_TCF_README,
    TCF_NO_PURPOSES,
    TCF_PURPOSE_1_ONLY,
)

from server.privacy.tcf import TcfConsent, TcfDecoder


def _encode(bits: str) -> str:
    bits += "0" * (-len(bits) % 8)
    return base64.urlsafe_b64encode(int(bits, 2).to_bytes(len(bits) // 8, "big")).decode().rstrip("=")


HEADER_V2 = "000010" + "0" * 207  # version 2 then zeroed fixed fields up to the country code


@pytest.mark.parametrize(
    ("raw", "vendor", "purposes", "vendor_consent", "restricted"),
    [
        pytest.param(TCF_ALL_PURPOSES, 8, set(range(1, 11)), True, set(),
                     id="all purposes, vendor 8 consented"),
        pytest.param(TCF_ALL_PURPOSES, 10, set(range(1, 11)), False, set(), id="all purposes, vendor 10 not"),
        pytest.param(TCF_PURPOSE_1_ONLY, 755, {1}, True, set(), id="range-encoded vendor 755"),
        pytest.param(TCF_PURPOSE_1_ONLY, 10, {1}, False, {1}, id="publisher restriction P1 for vendor 10"),
        pytest.param(TCF_NO_PURPOSES, 173, set(), True, set(), id="vendor consent without purposes"),
        pytest.param(TCF_EMPTY, 1, set(), False, set(), id="nothing consented"),
        pytest.param(TCF_IAB_TCF_README, 2, {1}, False, set(), id="iab-tcf README example"),
    ],
)
def test_decode_real_strings(raw: str, vendor: int, purposes: set[int], vendor_consent: bool,
                             restricted: set[int]) -> None:
    consent = TcfDecoder(vendor).decode(raw)
    assert consent == TcfConsent(frozenset(purposes), vendor_consent, frozenset(restricted))


@pytest.mark.parametrize("vendor", TCF_ALL_PURPOSES_VENDORS)
def test_every_listed_vendor_is_consented(vendor: int) -> None:
    consent = TcfDecoder(vendor).decode(TCF_ALL_PURPOSES)
    assert consent is not None and consent.allows((1, 3, 4))


@pytest.mark.parametrize(
    ("consent", "required", "expected"),
    [
        pytest.param(TcfConsent(frozenset({1, 3, 4}), True, frozenset()), (1, 3, 4), True, id="all present"),
        pytest.param(TcfConsent(frozenset({1, 3}), True, frozenset()), (1, 3, 4), False, id="missing P4"),
        pytest.param(TcfConsent(frozenset({1, 3, 4}), False, frozenset()), (1, 3, 4), False, id="no vendor"),
        pytest.param(TcfConsent(frozenset({1, 3, 4}), True, frozenset({3})), (1, 3, 4), False,
                     id="restricted"),
        pytest.param(TcfConsent(frozenset({1, 3, 4}), True, frozenset({7})), (1, 3, 4), True,
                     id="restriction on an unused purpose"),
        pytest.param(TcfConsent(frozenset(), True, frozenset()), (), True, id="no purposes required"),
    ],
)
def test_allows(consent: TcfConsent, required: tuple[int, ...], expected: bool) -> None:
    assert consent.allows(required) is expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param("garbage", id="garbage"),
        pytest.param("C", id="one char"),
        pytest.param("COv_eg6Ov_eg6AOADBENAaCgAP_AAH_AACiQAVEUQ", id="truncated real string"),
        pytest.param("C!!!!!!!!", id="not base64"),
        pytest.param("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA", id="TCF v1 string"),
        pytest.param("DBABMA~CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAFpQAwAAgCtAWkAAAAAAA", id="a GPP string"),
        pytest.param("1YYN", id="a US Privacy string"),
        pytest.param(_encode(HEADER_V2 + format(65535, "016b") + "0"), id="65535-vendor bitfield, truncated"),
        pytest.param(_encode("000011" + "0" * 300), id="version 3"),
    ],
)
def test_undecodable_is_none(raw: str) -> None:
    assert TcfDecoder(8).decode(raw) is None


def test_truncated_giant_bitfield_is_rejected_cheaply(monkeypatch: pytest.MonkeyPatch) -> None:
    # iab-tcf alone spends ~40 ms on this 39-character string; the size guard must stop it first.
    # Asserted as "iab-tcf is never called", not as a time (loadtest/bench_privacy.py times decoding).
    raw = _encode(HEADER_V2 + format(65535, "016b") + "0")

    def must_not_run(_: str) -> None:
        raise AssertionError("the size guard let a truncated giant bitfield reach iab-tcf")

    monkeypatch.setattr("server.privacy.tcf.decode_v2", must_not_run)
    assert TcfDecoder(8).decode(raw) is None


def test_over_long_string_is_rejected_without_decoding() -> None:
    decoder = TcfDecoder(8, max_length=100)
    assert decoder.decode(TCF_ALL_PURPOSES + "A" * 100) is None
    assert len(decoder._cache) == 0


def test_results_and_failures_are_cached() -> None:
    decoder = TcfDecoder(8, cache_size=2)
    first = decoder.decode(TCF_ALL_PURPOSES)
    assert decoder.decode(TCF_ALL_PURPOSES) is first
    assert decoder.decode("garbage") is None
    assert "garbage" in decoder._cache
    decoder.decode(TCF_EMPTY)
    assert len(decoder._cache) == 2  # LRU bound holds
    decoder.clear()
    assert len(decoder._cache) == 0


def test_vendor_id_zero_never_has_consent() -> None:
    consent = TcfDecoder(0).decode(TCF_ALL_PURPOSES)
    assert consent is not None and not consent.vendor_consent
