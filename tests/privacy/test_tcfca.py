"""Canada TCF (GPP section 5): decoding for our vendor id, both range encodings, and the rule."""

from __future__ import annotations

import privacy_vectors as v
import pytest

from server.privacy.tcfca import TcfCaConsent, TcfCaDecoder, decode

EXPRESS = frozenset({1, 2, 3, 4, 5, 6, 13, 14, 15, 16, 17, 18})
IMPLIED = frozenset({7, 8, 9, 10, 11, 12, 19, 20, 21, 22, 23, 24})


@pytest.mark.parametrize("raw", [
    pytest.param(v.TCFCA_VENDORS_LEGACY, id="int ranges (iabgpp-java TcfCaV1Test.testDecode2)"),
    pytest.param(v.TCFCA_VENDORS_FIBONACCI, id="fibonacci ranges (iabgpp-es TcfCaV1.test.ts)"),
])
@pytest.mark.parametrize(("vendor", "express", "implied"), [
    pytest.param(12, True, False, id="vendor 12 express"),
    pytest.param(48, True, False, id="vendor 48 express"),
    pytest.param(18, False, True, id="vendor 18 implied"),
    pytest.param(30, False, True, id="vendor 30 implied"),
    pytest.param(13, False, False, id="vendor 13 neither"),
    pytest.param(65535, False, False, id="vendor 65535 neither"),
])
def test_vendor_lists(raw: str, vendor: int, express: bool, implied: bool) -> None:
    consent = decode(raw, vendor)
    assert consent == TcfCaConsent(EXPRESS, IMPLIED, express, implied, ())


@pytest.mark.parametrize("raw", [
    pytest.param(v.TCFCA_RESTRICTION_LEGACY, id="int ranges (iabgpp-java TcfCaV1Test.testDecode4)"),
    pytest.param(v.TCFCA_RESTRICTION_FIBONACCI, id="fibonacci ranges (iabgpp-es TcfCaV1.test.ts)"),
])
@pytest.mark.parametrize(("vendor", "restrictions"), [
    pytest.param(1, ((1, 1),), id="vendor 1 restricted"),
    pytest.param(9, ((1, 1),), id="vendor 9 restricted"),
    pytest.param(4, (), id="vendor 4 not named"),
    pytest.param(10, (), id="vendor 10 not named"),
])
def test_publisher_restrictions(raw: str, vendor: int, restrictions: tuple[tuple[int, int], ...]) -> None:
    consent = decode(raw, vendor)
    assert consent is not None and consent.restrictions == restrictions


@pytest.mark.parametrize("raw", [
    pytest.param(v.TCFCA_DEFAULTS, id="defaults (iabgpp-java TcfCaV1Test.testDecode1)"),
    pytest.param(v.TCFCA_DISCLOSED, id="disclosed vendors subsection (iabgpp-java TcfCaV1Test.testDecode3)"),
])
def test_nothing_consented(raw: str) -> None:
    assert decode(raw, 12) == TcfCaConsent(frozenset(), frozenset(), False, False, ())


@pytest.mark.parametrize("raw", [
    pytest.param("A", id="garbage A (iabgpp-java TcfCaV1Test.testDecodeGarbage1)"),
    pytest.param("z", id="garbage z (iabgpp-java TcfCaV1Test.testDecodeGarbage2)"),
    pytest.param(v.TCFCA_VENDORS_FIBONACCI[:40], id="truncated core"),
    pytest.param(v.TCFCA_DEFAULTS.replace(".YAAA", ".zAAA"), id="unknown subsection type"),
    pytest.param("C" + v.TCFCA_DEFAULTS[1:], id="version 2"),
    pytest.param("1YNN", id="a US Privacy string in section 5"),
    pytest.param(v.TCFCA_DEFAULTS.replace("B", "*", 1), id="not base64url"),
])
def test_undecodable(raw: str) -> None:
    assert decode(raw, 12) is None


def consent(*, express: bool = False, implied: bool = False, restrictions: tuple[tuple[int, int], ...] = (),
            purposes_express: frozenset[int] = frozenset({3, 4}),
            purposes_implied: frozenset[int] = frozenset({3, 4})) -> TcfCaConsent:
    return TcfCaConsent(purposes_express, purposes_implied, express, implied, restrictions)


@pytest.mark.parametrize(("given", "implied_ok", "allowed"), [
    pytest.param(consent(express=True), True, True, id="express consent"),
    pytest.param(consent(implied=True), True, True, id="implied consent accepted"),
    pytest.param(consent(implied=True), False, False, id="implied consent refused by setting"),
    pytest.param(consent(), True, False, id="vendor not consented"),
    pytest.param(consent(express=True, purposes_express=frozenset({3})), True, False,
                 id="purpose 4 only implied, but our vendor only has express consent"),
    pytest.param(consent(express=True, restrictions=((3, 0),)), True, False, id="restriction: not allowed"),
    pytest.param(consent(implied=True, restrictions=((3, 1),)), True, False,
                 id="restriction: require express"),
    pytest.param(consent(express=True, restrictions=((3, 1),)), True, True,
                 id="require express, has express"),
    pytest.param(consent(express=True, restrictions=((4, 2),)), True, False,
                 id="require implied, only express"),
    pytest.param(consent(implied=True, restrictions=((4, 2),)), True, True,
                 id="require implied, has implied"),
    pytest.param(consent(express=True, implied=True, restrictions=((4, 3),)), True, False,
                 id="undefined restriction type 3 reads as not allowed"),
    pytest.param(consent(express=True, restrictions=((9, 0),)), True, True,
                 id="restriction on another purpose"),
])
def test_rule(given: TcfCaConsent, implied_ok: bool, allowed: bool) -> None:
    assert given.allows((3, 4), implied_ok=implied_ok) is allowed


def test_decoder_bounds_entries_and_entry_size() -> None:
    decoder = TcfCaDecoder(12, cache_size=2, max_length=80)
    assert decoder.decode(v.TCFCA_VENDORS_FIBONACCI) is not None
    assert decoder.decode("x" * 81) is None and "x" * 81 not in decoder._cache  # too long: never cached
    for raw in ("a", "b", "c"):
        decoder.decode(raw)
    assert len(decoder._cache) == 2
    decoder.clear()
    assert len(decoder._cache) == 0
