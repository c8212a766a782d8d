"""Real consent strings, copied verbatim from maintained encoders' test suites (never hand-typed bits).

Each constant names its source and what that source's tests assert about it. ``iab-tcf`` has no
encoder, so TCF strings come from IABTechLab/iabgpp-java (the IAB Tech Lab reference encoder/decoder,
commit a51d55f0, ``iabgpp-encoder/src/test/java/com/iab/gpp/encoder/...``).
"""

# --- TCF v2 (section/TcfEuV2Test.java) ---------------------------------------------------------
# testDecode6: purposes 1–10 consented; vendor consents [2, 6, 8, 12, 18, 23, 25, 37, 42]; bitfield.
TCF_ALL_PURPOSES = "COv_eg6Ov_eg6AOADBENAaCgAP_AAH_AACiQAVEUQQoAIQAqIoghAAQgAA.YAAAAAAAAAAAAAAAAAA"
TCF_ALL_PURPOSES_VENDORS = (2, 6, 8, 12, 18, 23, 25, 37, 42)
# testDecode7: purpose 1 only; vendor consents [1, 2, 3, 755] (range encoding); one publisher
# restriction: purpose 1, type 0 (not allowed), vendor 10.
TCF_PURPOSE_1_ONLY = "COoC-kUOoC-kUAHABAENAwCoAIAAAELAAAwIF5wAoAAgAGAvMACX_ABBAAQAFA"
# GppModelTest.testDecode3 (section 2 of a GPP string): no purposes; vendor consents [1, 173, 722].
TCF_NO_PURPOSES = "CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAFpQAwAAgCtAWkAAAAAAA.QAAA.IAAA"
# GppModelTest (DBABMA~…): defaults, nothing consented.
TCF_EMPTY = "CPSG_8APSG_8ANwAAAENAwCAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA"
# iab-tcf's own README example (gguridi/iab-tcf README.md): decodes as version 2.
TCF_IAB_TCF_README = "CO5VTlWO5VTlWH1AAAENAwCwAIAAAAAAAIAAAAoAAAAA.YAAAAAAAAAA"

# --- GPP headers (section/HeaderV1Test.java; spec Core/Consent String Specification.md) --------
HEADER_NONE = "DBAA"  # []
HEADER_TCF = "DBABMA"  # [2]          (the spec's example 1 writes it "DBABM")
HEADER_TCF_USP = "DBACNYA"  # [2, 6]  (spec example 2: "DBACNY")
HEADER_CA_TCF_USP_SPEC = "DBABjw"  # [5, 6] spec example 3 (a Fibonacci *group*)
HEADER_USP = "DBABTA"  # [6]  GppModelTest
HEADER_USNAT = "DBABLA"  # [7] GppModelTest.testDecode5

# --- GPP full strings (GppModelTest.java) -------------------------------------------------------
GPP_USP_OPT_OUT = "DBABTA~1YYN"  # testDecode4
GPP_USP_NO_OPT_OUT = "DBABTA~1YNN"  # testEncodeUspv1 expected output
GPP_USP_NOT_APPLICABLE = "DBABTA~1---"
GPP_TCF_AND_USP = "DBACNYA~CPSG_8APSG_8ANwAAAENAwCAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA~1YNN"  # [2, 6]
GPP_TCF_CA_USP = (  # [2, 5, 6]: EU TCF, Canadian TCF, USP
    "DBACOeA~CPSG_8APSG_8ANwAAAENAwCAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA"
    "~BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBgABABAAABAB4AACACAAA.fHHHA4444ao~1YNN"
)
GPP_TCF_WITH_VENDORS = "DBABMA~CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAFpQAwAAgCtAWkAAAAAAA.QAAA.IAAA"  # testDecode3
# testDecodeDefaultsAll: sections [2, 5, 6, 7, 8, …, 23], every US section at its defaults (all 0).
GPP_ALL_DEFAULTS = (
    "DBACOYs~CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA"
    "~BPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAAAAAA.YAAAAAAAAAAA~1---~BAAAAAAAAABA.QA~BAAAAABA.QA"
    "~BAAAABA~BAAAAEA.QA~BAAAAAQA~BAAAAAEA.QA~BAAAAABA~BAAAAABA.QA~BAAAAAABAA.QA~BAAAAAQA.QA"
    "~BAAAAAABAA.QA~BAAAAAQA.QA~BAAAAAQA.QA~BAAAAABA.QA~BAAAAAAAQA.QA~BAAAAAQA.QA~BAAAAAQA.QA"
)
GPP_ALL_DEFAULTS_IDS = (2, 5, 6, *range(7, 24))
GPP_USNAT_CHILD = "DBABLA~BAAAAAABEQA.QA"  # testDecode8: legacy layout, child flags [0, 1, 0]
GPP_USNAT_LEGACY_DEFAULTS = "DBABLA~BAAAAAAAAQA.QA"  # testDecode6: legacy 66-bit core, all 0

# --- US section bodies (section/Us*Test.java testDecode1 / backwards compatibility) ---------------
# "all opted out": Sale/Sharing/TargetedAdvertising = 1, known-child [2,1,…], Gpc true where present.
USNAT_OPTED_OUT = "BVVVkkkkkpFY.YA"  # UsNatTest.testDecode1 (MspaServiceProviderMode = 2)
USNAT_OPTED_OUT_NO_GPC = "BVVVkkkkkpFY"  # UsNatTest.testDecodeWithGpcSegmentExcluded
USNAT_LEGACY_NOT_OPTED_OUT = "BVQqAAAACg"  # UsNatTest.testDecodeBackwardsCompatibility: all opt-outs = 2
USCA_OPTED_OUT = "BVWSSSVY.YA"  # UsCaTest
USVA_OPTED_OUT = "BVWSSVY"  # UsVaTest (no GPC subsection in Virginia)
USCO_OPTED_OUT = "BVWSSVg.YA"  # UsCoTest
USUT_OPTED_OUT = "BVVkklWA"  # UsUtTest
USCT_OPTED_OUT = "BVWSSZFg.YA"  # UsCtTest
USTX_OPTED_OUT = "BVWSSVWA.YA"  # UsTxTest
USOR_OPTED_OUT = "BVWSSRpFYA.YA"  # UsOrTest
