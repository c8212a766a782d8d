import pytest

from segments import keys as K


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("https://example.com/section/", "example.com/section", id="trailing-slash"),
        pytest.param("https://WWW.Example.COM:443/a//b/?q=1#frag", "example.com/a/b",
                     id="www-port-query-fragment"),
        pytest.param("apple.com/developer/news/iphone", "apple.com/developer/news/iphone",
                     id="seed-no-scheme"),
        pytest.param("http://example.com:8080/x", "example.com:8080/x", id="non-default-port-kept"),
        pytest.param("https://example.com/Path/Case", "example.com/Path/Case", id="path-case-kept"),
        pytest.param("https://example.com/caf%C3%A9", "example.com/café", id="percent-decoded"),
        pytest.param("//cdn.example.com/x", "cdn.example.com/x", id="scheme-relative"),
        pytest.param("", None, id="empty"),
        pytest.param("http://", None, id="no-host"),
        pytest.param("http://exa mple.com/", None, id="space-in-host"),
        pytest.param("http://[::1/", None, id="broken-ipv6"),
        pytest.param("x" * 3000, None, id="too-long"),
    ],
)
def test_normalise_url(raw: str, expected: str | None) -> None:
    assert K.normalise_url(raw) == expected


def test_url_prefixes_cover_every_parent_path() -> None:
    assert list(K.url_prefixes("example.com/a/b/c")) == ["example.com", "example.com/a", "example.com/a/b",
                                                         "example.com/a/b/c"]
    assert list(K.url_prefixes("example.com")) == ["example.com"]


def test_url_prefixes_are_bounded() -> None:
    deep = "example.com/" + "/".join(str(i) for i in range(50))
    assert len(list(K.url_prefixes(deep))) == K.MAX_URL_DEPTH + 1


@pytest.mark.parametrize(
    ("raw", "lengths", "expected"),
    [
        pytest.param("10.1.2.3", {32, 24}, ["10.1.2.3/32", "10.1.2.0/24"], id="v4-two-lengths"),
        pytest.param("10.1.2.3", {16}, ["10.1.0.0/16"], id="v4-only-stored-length"),
        pytest.param("2001:db8::1", {128, 48, 24}, ["2001:db8::1/128", "2001:db8::/48", "2001:d00::/24"],
                     id="v6"),
        pytest.param("100.00.000.000", {24}, [], id="seed-placeholder-invalid"),
        pytest.param("not-an-ip", {24}, [], id="garbage"),
    ],
)
def test_ip_candidates(raw: str, lengths: set[int], expected: list[str]) -> None:
    assert list(K.ip_candidates(raw, frozenset(lengths))) == expected


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        pytest.param("ip", "10.0.0.7/24", "10.0.0.0/24", id="cidr-canonical"),
        pytest.param("ip", "10.0.0.7", "10.0.0.7/32", id="single-address"),
        pytest.param("geo", "usa:10001", "USA:10001", id="geo-upper"),
        pytest.param("geo", "GBR:SW1A 1AA", "GBR:SW1A1AA", id="geo-postcode-space"),
        pytest.param("eid", "LiveRamp.com:XY1", "liveramp.com:XY1", id="eid-source-lower"),
        pytest.param("ifa", "AEBE52E7-03EE-455A-B3C4-E57283966239", "aebe52e7-03ee-455a-b3c4-e57283966239",
                     id="ifa"),
        pytest.param("domain", "WWW.Example.com.", "example.com", id="domain"),
        pytest.param("uid2", " abc= ", "abc=", id="uid2-stripped"),
    ],
)
def test_normalise_accepts(kind: str, value: str, expected: str) -> None:
    assert K.normalise(kind, value) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        pytest.param("ifa", K.ZERO_IFA, id="zero-ifa"),
        pytest.param("ip", "300.1.1.1", id="bad-ip"),
        pytest.param("geo", "USA", id="geo-without-zip"),
        pytest.param("eid", "nosource", id="eid-without-id"),
        pytest.param("domain", "exa/mple.com", id="domain-with-slash"),
        pytest.param("planet", "mars", id="unknown-kind"),
        pytest.param("uid2", "   ", id="blank"),
    ],
)
def test_normalise_rejects(kind: str, value: str) -> None:
    with pytest.raises(K.InvalidKey):
        K.normalise(kind, value)


def test_kind_sets_partition_all_kinds() -> None:
    assert K.USER_LEVEL_KINDS.isdisjoint(K.CONTEXTUAL_KINDS)
    assert K.USER_LEVEL_KINDS | K.CONTEXTUAL_KINDS == K.ALL_KINDS == set(K.KIND_PRIORITY)
