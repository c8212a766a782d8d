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
# testDecode3
GPP_TCF_WITH_VENDORS = "DBABMA~CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAFpQAwAAgCtAWkAAAAAAA.QAAA.IAAA"
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

# --- usnat Version 2 and the Version 1 / 2 boundary ---------------------------------------------
# IABTechLab/iabgpp-es @fd0546e7 modules/cmpapi/test/encoder/section/UsNat.test.ts and
# IABTechLab/iabgpp-java branch 4.X @1fc490e9 iabgpp-encoder/src/test/.../section/UsNatTest.java.
USNAT_V2_OPTED_OUT = "CVVVkkkkkpFY.YA"  # UsNatTest.testDecode1 (4.X): Version 2, child [2, 1, 0], Gpc
USNAT_V2_DEFAULTS = "CAAAAAAAAABA.QA"  # UsNat.test.ts "should encode default to CAAAAAAAAABA.QA"
# UsNat.test.ts "should decode usnat v2 with v2 values": [1, 1, 1]
USNAT_V2_CHILD_V2_VALUES = "CAAAVVVVVVRA.QA"
USNAT_V2_CHILD_V1_VALUES = "CAAAVVVVAFBA.QA"  # UsNat.test.ts "usnat v2 with v1 values": child [1, 1, 0]
USNAT_V2_THIRD_CHILD = "CAAAAAAAAQRA.QA"  # GppModel.test.ts "should decode DBABLA~CAAAAAAAAQRA.QA": [0, 0, 1]
USNAT_V1_CHILD = "BAAAVVVVUQA.QA"  # UsNat.test.ts "should decode usnat v1": 66-bit core, child [1, 1]
# iabgpp-java 4.X GppModelTest (DBABLA~BVQqAAAAAgA.QA): legacy + zero fill
USNAT_V1_66_BITS = "BVQqAAAAAgA.QA"
USNAT_V1_60_BITS = "BVQqAAAACg"  # iabgpp-java 4.X UsNatTest.testDecodeBackwardsCompatibility: child [0, 0]
# A Version 2 core of 66 bits: iabgpp-es zero-fills it (GppModel.test.ts "should decode
# DBABLA~CAAAAAABEQA.QA", child [0, 1, 0]); iabgpp-java 4.X throws "Bit string access out of range".
USNAT_V2_SHORT_66 = "CAAAAAABEQA.QA"

# --- US states 24–27 (Maryland, Indiana, Kentucky, Rhode Island) ---------------------------------
# Core first: iabgpp-es @fd0546e7 test/encoder/section/Us{Md,In,Ky,Ri}.test.ts (also iabgpp-java
# @4ad8fef1 Us{Md,In}Test.java). All opt-outs = 1, MspaMode = 1 (opt-out option mode), child = 1.
USMD_OPTED_OUT = "BVVU.YA"  # UsMdTest.testDecode1: Gpc true
USMD_DEFAULTS = "BQAA.QA"  # UsMdTest.testEncode1
USIN_OPTED_OUT = "BVVV.kkk"  # UsIn.test.ts: sensitive [2, 1, 0, 2, 1, 0, 2, 1]
USKY_OPTED_OUT = "BVVV.kkk"  # UsKy.test.ts
USRI_OPTED_OUT = "BVVV.kkk"  # UsRi.test.ts
USIN_DEFAULTS = "BQAA.AAA"  # UsIn.test.ts "should encode default"
USIN_NO_SENSITIVE = "BQAA"  # UsIn.test.ts testEncodeWithSensitiveDataConsentSegmentExcluded
# With the spec's section header (SectionID, Version, SubSections): iabgpp-java @86578d01
# Us{In,Ri}Test.java testDecode1 / testEncode1.
USIN_HEADER_OPTED_OUT = "ZBABYA.BVVV.kkk"
USRI_HEADER_OPTED_OUT = "bBABYA.BVVV.kkk"
USIN_HEADER_DEFAULTS = "ZBAA.AQAA"
USRI_HEADER_DEFAULTS = "bBAA.AQAA"
# iabgpp-es GppModel.test.ts "should encode all sections": [2, 5, 6, 7 … 27], all at defaults.
GPP_ALL_SECTIONS_ES = (
    "DBACOcGA~CPSG_8APSG_8ANwAAAENAAFgAAAAAAAAAAAAAAAAAAAA.IAAA.YAAAAAAAAAAA"
    "~BPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAAAAAA.YAAAAAAAAAA~1---~BAAAAAAAAABA.QA~BAAAAABA.QA~BAAAABA"
    "~BAAAAEA.QA~BAAAAAQA~BAAAAAEA.QA~BAAAAABA~BAAAAABA.QA~BAAAAAABAA.QA~BAAAAAQA.QA~BAAAAAABAA.QA"
    "~BAAAAAQA.QA~BAAAAAQA.QA~BAAAAABA.QA~BAAAAAAAQA.QA~BAAAAAQA.QA~BAAAAAQA.QA~BQAA.QA~BQAA.AAA"
    "~BQAA.AAA~BQAA.AAA"
)
GPP_ALL_SECTIONS_ES_IDS = (2, 5, 6, *range(7, 28))

# --- Canada TCF (section 5) ---------------------------------------------------------------------
# iabgpp-java @a51d55f0 section/TcfCaV1Test.java (legacy int ranges) and iabgpp-es @fd0546e7
# test/encoder/section/TcfCaV1.test.ts (spec Fibonacci ranges). Purposes express {1–6, 13–18},
# implied {7–12, 19–24}; vendors express [12, 24, 48], implied [18, 30].
TCFCA_VENDORS_LEGACY = "BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBgABABAAABAB4AACACAAA.fHHHA4444ao"  # testDecode2
# "should decode …"
TCFCA_VENDORS_FIBONACCI = "BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBhADVqxGAD0AILVgAA.fHHHA4444ao"
TCFCA_DEFAULTS = "BPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAAAAAA.YAAAAAAAAAA"  # testDecode1: nothing consented
TCFCA_DISCLOSED = "BPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAAAAAA.YAAAAAAAAAA.IAGO5w"  # testDecode3
# One publisher restriction: purpose 1, type 1 (require express consent), vendors [1–3, 5–7, 9].
# testDecode4
TCFCA_RESTRICTION_LEGACY = "BPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAAAACCgBwABAAOAAoADgAJA.YAAAAAAAAAA"
TCFCA_RESTRICTION_FIBONACCI = "BPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAAAACCgAS7o.YAAAAAAAAAA"  # TcfCaV1.test.ts
# iabgpp-es GppModel.test.ts: [2, 5, 6] with the Fibonacci Canada section.
GPP_TCF_CA_FIBONACCI_USP = (
    "DBACOeA~CPSG_8APSG_8ANwAAAENAwCgAAAAAAAAAAAAAAAAAAAA.IAAA.YAAAAAAAAAAA"
    "~BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBhADVqxGAD0AILVgAA.fHHHA4444ao~1YNN"
)
# iabgpp-es GppModel.test.ts "should fail to decode missing sections" / "… blank sections".
GPP_MISSING_SECTION = (
    "DBACOeA~CPSG_8APSG_8ANwAAAENAwCAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA"
    "~BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBhADVqxGAD0AILVgAA.fHHHA4444ao"
)
GPP_BLANK_SECTION = "DBACOeA~~1YNN"
