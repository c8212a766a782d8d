import privacy_vectors as v
import pytest

from server.privacy import gpp_sections as s
from server.privacy.bits import Bits
from server.privacy.gpp import GppDecoder, GppError, UsSection, decode, decode_header, decode_us_section


@pytest.mark.parametrize(
    ("header", "ids"),
    [
        pytest.param(v.HEADER_NONE, (), id="no sections"),
        pytest.param(v.HEADER_TCF, (2,), id="tcf (iabgpp-java padding)"),
        pytest.param("DBABM", (2,), id="tcf (spec example 1)"),
        pytest.param(v.HEADER_TCF_USP, (2, 6), id="tcf+usp: offset from previous id"),
        pytest.param("DBACNY", (2, 6), id="tcf+usp (spec example 2)"),
        pytest.param(v.HEADER_CA_TCF_USP_SPEC, (5, 6), id="fibonacci group (spec example 3)"),
        pytest.param(v.HEADER_USP, (6,), id="usp"),
        pytest.param(v.HEADER_USNAT, (7,), id="usnat"),
        pytest.param("DBACOYs", v.GPP_ALL_DEFAULTS_IDS, id="20 sections with groups"),
    ],
)
def test_header(header: str, ids: tuple[int, ...]) -> None:
    assert decode_header(header) == ids


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("", id="empty"),
        pytest.param("D", id="one char"),
        pytest.param("CBABMA", id="type 2 (a TCF string)"),
        pytest.param("DCABMA", id="version 2"),
        pytest.param("DBAB", id="count without entries"),
        pytest.param("DBABAAAA", id="unterminated fibonacci"),
        pytest.param("DB*BMA", id="not base64url"),
        pytest.param("DBP_____________", id="huge count"),
    ],
)
def test_bad_header(header: str) -> None:
    with pytest.raises(GppError):
        decode_header(header)


def test_fibonacci_words_from_spec_table() -> None:
    # spec table: 1 = 11, 2 = 011, 3 = 0011, 4 = 1011, 5 = 00011, 6 = 10011, 7 = 01011
    for value, word in [(1, "11"), (2, "011"), (3, "0011"), (4, "1011"), (5, "00011"), (6, "10011"),
                        (7, "01011")]:
        bits = Bits("")
        bits.bits = word + "0"
        assert bits.fibonacci() == value
        assert bits.pos == len(word)


OPTED_OUT = {"sale_opt_out": True, "targeted_opt_out": True, "known_child": True,
             "service_provider_mode": False}


@pytest.mark.parametrize(
    ("sid", "body", "expected"),
    [
        pytest.param(7, v.USNAT_OPTED_OUT, UsSection(7, sharing_opt_out=True, gpc=True, **OPTED_OUT),
                     id="usnat"),
        pytest.param(7, v.USNAT_OPTED_OUT_NO_GPC, UsSection(7, sharing_opt_out=True, gpc=False, **OPTED_OUT),
                     id="usnat without gpc subsection"),
        pytest.param(7, v.USNAT_LEGACY_NOT_OPTED_OUT, UsSection(7, False, False, False, False, False, False),
                     id="usnat legacy 60-bit layout"),
        pytest.param(8, v.USCA_OPTED_OUT, UsSection(8, True, True, False, True, False, True), id="usca"),
        pytest.param(9, v.USVA_OPTED_OUT, UsSection(9, sharing_opt_out=False, gpc=False, **OPTED_OUT),
                     id="usva"),
        pytest.param(10, v.USCO_OPTED_OUT, UsSection(10, sharing_opt_out=False, gpc=True, **OPTED_OUT),
                     id="usco"),
        pytest.param(11, v.USUT_OPTED_OUT, UsSection(11, sharing_opt_out=False, gpc=False, **OPTED_OUT),
                     id="usut"),
        pytest.param(12, v.USCT_OPTED_OUT, UsSection(12, sharing_opt_out=False, gpc=True, **OPTED_OUT),
                     id="usct"),
        pytest.param(15, v.USOR_OPTED_OUT, UsSection(15, sharing_opt_out=False, gpc=True, **OPTED_OUT),
                     id="usor"),
        pytest.param(16, v.USTX_OPTED_OUT, UsSection(16, sharing_opt_out=False, gpc=True, **OPTED_OUT),
                     id="ustx"),
    ],
)
def test_us_sections(sid: int, body: str, expected: UsSection) -> None:
    assert decode_us_section(s.US_LAYOUTS[sid], body) == expected


def test_all_defaults_string_decodes_every_section() -> None:
    parsed = decode(v.GPP_ALL_DEFAULTS)
    assert parsed is not None
    assert parsed.section_ids == v.GPP_ALL_DEFAULTS_IDS
    assert parsed.tcf is not None and parsed.tcf.startswith("CPSG")
    assert parsed.usp == "1---"
    assert [u.section_id for u in parsed.us] == list(range(7, 24))
    assert not any(u.opted_out or u.known_child or u.gpc for u in parsed.us)
    assert parsed.invalid == frozenset()


@pytest.mark.parametrize(
    ("raw", "tcf", "usp", "us_ids", "invalid"),
    [
        pytest.param(v.GPP_USP_OPT_OUT, None, "1YYN", (), set(), id="usp"),
        pytest.param(v.GPP_TCF_AND_USP, v.GPP_TCF_AND_USP.split("~")[1], "1YNN", (), set(), id="tcf+usp"),
        pytest.param(v.GPP_TCF_CA_USP, v.GPP_TCF_CA_USP.split("~")[1], "1YNN", (), set(),
                     id="canada kept raw"),
        pytest.param(v.GPP_USNAT_CHILD, None, None, (7,), set(), id="usnat legacy child"),
        pytest.param("DBACNYA~CPSG_8APSG_8ANwAAAENAwCAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA",
                     v.GPP_TCF_AND_USP.split("~")[1], None, (), {6}, id="section listed but missing"),
        pytest.param("DBABLA~z", None, None, (), {7}, id="undecodable usnat"),
        pytest.param("DBABLA~", None, None, (), {7}, id="empty usnat"),
        pytest.param(v.HEADER_NONE, None, None, (), set(), id="header only"),
    ],
)
def test_decode(raw: str, tcf: str | None, usp: str | None, us_ids: tuple[int, ...],
                invalid: set[int]) -> None:
    parsed = decode(raw)
    assert parsed is not None
    assert (parsed.tcf, parsed.usp) == (tcf, usp)
    assert tuple(u.section_id for u in parsed.us) == us_ids
    assert parsed.invalid == frozenset(invalid)


@pytest.mark.parametrize("raw", ["", "garbage", "~~~", "CPSG_8APSG_8A", "1YYN", "D~1YYN"])
def test_undecodable_header_is_none(raw: str) -> None:
    assert decode(raw) is None


def test_decoder_caches_results_and_failures() -> None:
    decoder = GppDecoder(cache_size=4)
    first = decoder.decode(v.GPP_USP_OPT_OUT)
    assert decoder.decode(v.GPP_USP_OPT_OUT) is first
    assert decoder.decode("garbage") is None and "garbage" in decoder._cache
    assert GppDecoder(max_length=10).decode(v.GPP_TCF_AND_USP) is None
    decoder.clear()
    assert len(decoder._cache) == 0


@pytest.mark.parametrize("layout", list(s.US_LAYOUTS.values()), ids=lambda layout: layout.name)
def test_layout_table_shape(layout: s.UsLayout) -> None:
    names = [name for name, _ in layout.fields]
    assert len(names) == len(set(names)), "a field appears twice"
    assert s.SALE_OPT_OUT in names
    assert s.TARGETED_OPT_OUT in names or layout.name == "usca"  # California has sharing, not targeting
    if layout.section_id in s.MSPA_STATES:  # 24–27: MspaCoveredTransaction, MspaMode first
        assert names[:2] == [s.MSPA_COVERED, s.MSPA_MODE]
        assert (s.KNOWN_CHILD in names) == (layout.name != "usmd")  # Maryland has no child field
    else:
        assert s.KNOWN_CHILD in names
        assert names[-3:] == [s.MSPA_COVERED, s.MSPA_OPT_OUT_MODE, s.MSPA_SERVICE_PROVIDER]


def test_usnat_layout_lengths() -> None:
    assert s.USNAT_V2.bits == 70  # 16 sensitive categories, 3 child flags
    assert s.USNAT_V1.bits == 60  # 12 sensitive categories, 2 child flags
