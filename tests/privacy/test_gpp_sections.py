"""usnat Version 1 / 2, the US states 24–27 and the section registry, with the IAB libraries' strings.

Every string is copied from a test suite of IABTechLab/iabgpp-java or IABTechLab/iabgpp-es; the
constant's comment in ``privacy_vectors`` names the repository, commit, file and test.
"""

from __future__ import annotations

import privacy_vectors as v
import pytest

from server.privacy import gpp_sections as s
from server.privacy.bits import Bits, GppError
from server.privacy.gpp import UsSection, decode, decode_us_section

NOTHING = {"sale_opt_out": False, "sharing_opt_out": False, "targeted_opt_out": False, "known_child": False,
           "service_provider_mode": False, "gpc": False}


def us(sid: int, **flags: bool) -> UsSection:
    return UsSection(sid, **{**NOTHING, **flags})


OPTED_OUT = {"sale_opt_out": True, "targeted_opt_out": True}


@pytest.mark.parametrize(
    ("sid", "body", "expected"),
    [
        # usnat Version 2 — iabgpp-java 4.X UsNatTest.java / iabgpp-es UsNat.test.ts
        pytest.param(7, v.USNAT_V2_OPTED_OUT,
                     us(7, sharing_opt_out=True, known_child=True, gpc=True, **OPTED_OUT),
                     id="usnat v2 opted out (iabgpp-java 4.X UsNatTest.testDecode1)"),
        pytest.param(7, v.USNAT_V2_DEFAULTS, us(7), id="usnat v2 defaults (iabgpp-es UsNat.test.ts)"),
        pytest.param(7, v.USNAT_V2_CHILD_V2_VALUES, us(7, known_child=True),
                     id="usnat v2 child [1,1,1] (iabgpp-es UsNat.test.ts)"),
        pytest.param(7, v.USNAT_V2_CHILD_V1_VALUES, us(7, known_child=True),
                     id="usnat v2 child [1,1,0] (iabgpp-es UsNat.test.ts)"),
        pytest.param(7, v.USNAT_V2_THIRD_CHILD, us(7, known_child=True),
                     id="usnat v2 only the third child flag (iabgpp-es GppModel.test.ts)"),
        # usnat Version 1 — both legacy lengths
        pytest.param(7, v.USNAT_V1_CHILD, us(7, known_child=True),
                     id="usnat v1 child [1,1] (iabgpp-es UsNat.test.ts)"),
        pytest.param(7, v.USNAT_V1_66_BITS, us(7), id="usnat v1 66 bits (iabgpp-java 4.X GppModelTest)"),
        pytest.param(7, v.USNAT_V1_60_BITS, us(7), id="usnat v1 60 bits (iabgpp-java 4.X UsNatTest)"),
        pytest.param(7, v.USNAT_OPTED_OUT_NO_GPC, us(7, sharing_opt_out=True, known_child=True, **OPTED_OUT),
                     id="usnat v2 layout written as Version 1 "
                        "(iabgpp-java 4.X testDecodeWithGpcSegmentExcluded)"),
        # 24–27, core first — iabgpp-es Us{Md,In,Ky,Ri}.test.ts
        pytest.param(24, v.USMD_OPTED_OUT, us(24, gpc=True, **OPTED_OUT), id="usmd (iabgpp-es UsMd.test.ts)"),
        pytest.param(24, v.USMD_DEFAULTS, us(24), id="usmd defaults (iabgpp-es UsMd.test.ts)"),
        pytest.param(25, v.USIN_OPTED_OUT, us(25, known_child=True, **OPTED_OUT),
                     id="usin (iabgpp-es UsIn.test.ts)"),
        pytest.param(25, v.USIN_DEFAULTS, us(25), id="usin defaults (iabgpp-es UsIn.test.ts)"),
        pytest.param(25, v.USIN_NO_SENSITIVE, us(25), id="usin without subsection (iabgpp-es UsIn.test.ts)"),
        pytest.param(26, v.USKY_OPTED_OUT, us(26, known_child=True, **OPTED_OUT),
                     id="usky (iabgpp-es UsKy.test.ts)"),
        pytest.param(27, v.USRI_OPTED_OUT, us(27, known_child=True, **OPTED_OUT),
                     id="usri (iabgpp-es UsRi.test.ts)"),
        # 24–27 with the spec's section header — iabgpp-java @86578d01 Us{In,Ri}Test.java
        pytest.param(25, v.USIN_HEADER_OPTED_OUT, us(25, known_child=True, **OPTED_OUT),
                     id="usin with section header (iabgpp-java UsInTest.testDecode1)"),
        pytest.param(27, v.USRI_HEADER_OPTED_OUT, us(27, known_child=True, **OPTED_OUT),
                     id="usri with section header (iabgpp-java UsRiTest.testDecode1)"),
        pytest.param(25, v.USIN_HEADER_DEFAULTS, us(25),
                     id="usin header defaults (iabgpp-java UsInTest.testEncode1)"),
        pytest.param(27, v.USRI_HEADER_DEFAULTS, us(27),
                     id="usri header defaults (iabgpp-java UsRiTest.testEncode1)"),
    ],
)
def test_published_sections(sid: int, body: str, expected: UsSection) -> None:
    assert decode_us_section(s.US_LAYOUTS[sid], body) == expected


@pytest.mark.parametrize(
    ("sid", "body"),
    [
        pytest.param(7, v.USNAT_V2_SHORT_66,
                     id="usnat Version 2 in 66 bits (iabgpp-java 4.X rejects, -es zero-fills)"),
        pytest.param(7, v.USNAT_V2_OPTED_OUT[:10], id="usnat Version 2 cut to 60 bits"),
        pytest.param(7, "CVVVkkkkkp", id="usnat Version 2 cut to 60 bits, no subsection"),
        pytest.param(24, "z", id="usmd garbage (iabgpp-java UsMdTest.testDecodeGarbage)"),
        pytest.param(25, "z", id="usin garbage (iabgpp-java UsInTest.testDecodeGarbage)"),
        pytest.param(26, "BVV", id="usky truncated core"),
        pytest.param(27, "BVVV.kk", id="usri truncated sensitive subsection"),
        pytest.param(25, "BVVV.///", id="usin sensitive value 3"),
        pytest.param(25, "ZBABYA.BVVV", id="usin header lists a subsection that is missing"),
        pytest.param(25, "ZBABYA", id="usin header without core"),
        pytest.param(25, "ZCABYA.BVVV.kkk", id="usin section header version 2"),
        pytest.param(24, "B___.YA", id="usmd 2-bit value 3"),
        pytest.param(7, "z", id="usnat/states: garbage (iabgpp-java testDecodeGarbage)"),
        pytest.param(7, "BVVV", id="usnat/states: truncated"),
        pytest.param(8, "", id="usnat/states: empty"),
        pytest.param(7, "DVVVkkkkkpFY", id="usnat/states: version 3"),
        pytest.param(7, "AVVVkkkkkpFY", id="usnat/states: version 0"),
        pytest.param(9, "CVWSSVY", id="usnat/states: usva version 2"),
        pytest.param(9, "B_____________", id="usnat/states: 2-bit value 3"),
        pytest.param(9, "BVWS!VY", id="usnat/states: not base64url"),
    ],
)
def test_malformed_sections(sid: int, body: str) -> None:
    with pytest.raises(GppError):
        decode_us_section(s.US_LAYOUTS[sid], body)


def test_mspa_mode_2_is_service_provider_mode() -> None:
    # BVVV with MspaMode (bits 8–9) set to 2: 000001 01 10 01 01 01 01 01 → "BZVV"
    assert decode_us_section(s.US_LAYOUTS[25], "BZVV").service_provider_mode
    assert decode_us_section(s.US_LAYOUTS[25], "BZVV").opted_out


@pytest.mark.parametrize(
    ("version", "bits", "layout"),
    [
        pytest.param(1, 60, s.USNAT_V1, id="v1, 60 bits: legacy layout"),
        pytest.param(1, 66, s.USNAT_V1, id="v1, 66 bits (zero fill): legacy layout"),
        pytest.param(1, 72, s.USNAT_V2, id="v1, 72 bits: the v2 layout written as v1"),
        pytest.param(2, 60, s.USNAT_V2, id="v2, 60 bits: v2 layout, so truncated"),
        pytest.param(2, 66, s.USNAT_V2, id="v2, 66 bits: v2 layout, so truncated"),
        pytest.param(2, 72, s.USNAT_V2, id="v2, 72 bits"),
        pytest.param(3, 72, None, id="v3: unsupported"),
    ],
)
def test_usnat_layout_is_chosen_by_version_then_length(version: int, bits: int,
                                                       layout: s.UsLayout | None) -> None:
    assert s.usnat_layout(version, bits) is layout


@pytest.mark.parametrize("cut", [10, 11], ids=["60 bits", "66 bits"])
def test_a_version_1_core_cut_to_a_legacy_length_reads_as_legacy(cut: int) -> None:
    """The documented limit, shared with iabgpp: such a core cannot be told from a genuine legacy one."""
    full = v.USNAT_OPTED_OUT_NO_GPC  # Version 1, 72 bits: the v2 layout, child flags [2, 1, 0]
    assert len(Bits(full[:cut])) == cut * 6
    truncated = decode_us_section(s.USNAT, full[:cut])
    assert truncated.opted_out  # the opt-outs sit in the first 24 bits and survive any such cut
    assert s.usnat_layout(1, cut * 6) is s.USNAT_V1


def test_every_section_in_the_es_all_sections_string_decodes() -> None:
    parsed = decode(v.GPP_ALL_SECTIONS_ES)
    assert parsed is not None
    assert parsed.section_ids == v.GPP_ALL_SECTIONS_ES_IDS
    assert [u.section_id for u in parsed.us] == list(range(7, 28))
    assert parsed.tcfca is not None and parsed.usp == "1---"
    assert not parsed.invalid and not parsed.mismatch
    assert not any(u.opted_out or u.known_child or u.gpc for u in parsed.us)


def test_registry_covers_every_assigned_section_id() -> None:
    assert sorted(s.REGISTRY) == list(range(1, 28))
    assert all(prefix and handling for prefix, handling in s.REGISTRY.values())
    assert s.REGISTRY[s.TCF_EU_V1][1].startswith("deprecated")
    assert {sid for sid, (_, how) in s.REGISTRY.items() if how.startswith("not a signal")} == s.NOT_A_SIGNAL
    assert s.PASSTHROUGH_IDS | set(s.US_LAYOUTS) | s.DEPRECATED | s.NOT_A_SIGNAL == set(s.REGISTRY)


@pytest.mark.parametrize(
    ("raw", "invalid", "mismatch"),
    [
        pytest.param(v.GPP_MISSING_SECTION, {6}, True, id="missing section (iabgpp-es GppModel.test.ts)"),
        pytest.param(v.GPP_BLANK_SECTION, {2, 6}, True, id="blank section (iabgpp-es GppModel.test.ts)"),
        pytest.param("DBABTA~", {6}, False, id="header says 6, nothing after the ~"),
        pytest.param("DBABTA", {6}, True, id="header says 6, no ~ at all"),
        pytest.param("DBABMA~", {2}, False, id="header says 2, empty body"),
        pytest.param("DBABTA~1YNN~1YNN", set(), True, id="more bodies than the header lists"),
    ],
)
def test_header_body_disagreement(raw: str, invalid: set[int], mismatch: bool) -> None:
    parsed = decode(raw)
    assert parsed is not None
    assert parsed.invalid == frozenset(invalid)
    assert parsed.mismatch is mismatch
