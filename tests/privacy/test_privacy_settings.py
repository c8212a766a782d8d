import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from server.privacy import PrivacyConfigError, PrivacySettings


def test_defaults() -> None:
    s = PrivacySettings()
    assert (s.gvl_vendor_id, s.required_purposes, s.gdpr_default) == (0, (1, 3, 4), False)
    assert s.usp_malformed_opt_out and s.gpp_malformed_opt_out
    assert s.gpp_unknown_section_opt_out and s.gpc_opt_out


def test_from_mapping_full() -> None:
    s = PrivacySettings.from_mapping({
        "gvl_vendor_id": 123, "required_purposes": [4, 1, 3, 1], "gdpr_default": True,
        "usp_malformed_opt_out": False, "gpp_malformed_opt_out": False, "gpp_unknown_section_opt_out": False,
        "gpc_opt_out": False, "cache_size": 10, "max_consent_length": 4096,
    })
    assert s == PrivacySettings(123, (1, 3, 4), True, False, False, False, False, 10, 4096)


def test_canada_settings() -> None:
    assert (PrivacySettings().tcfca_vendor_id, PrivacySettings().tcfca_required_purposes) == (0, (3, 4))
    assert PrivacySettings().tcfca_implied_consent
    s = PrivacySettings.from_mapping({"tcfca_vendor_id": 12, "tcfca_required_purposes": [4, 2, 4],
                                      "tcfca_implied_consent": False})
    assert (s.tcfca_vendor_id, s.tcfca_required_purposes, s.tcfca_implied_consent) == (12, (2, 4), False)


def test_default_toml_documents_every_setting() -> None:
    """Every field has a key (set or commented) in config/default.toml [privacy]."""
    text = (Path(__file__).resolve().parents[2] / "config" / "default.toml").read_text()
    section = text.split("[privacy]", 1)[1].split("\n[", 1)[0]
    for field in fields(PrivacySettings):
        assert f"{field.name} = " in section, field.name
    PrivacySettings.from_mapping(tomllib.loads("[privacy]" + section)["privacy"])


def test_empty_mapping_is_defaults() -> None:
    assert PrivacySettings.from_mapping({}) == PrivacySettings()


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        pytest.param({"gvl_vendor_id": -1}, "gvl_vendor_id", id="negative vendor"),
        pytest.param({"gvl_vendor_id": 70000}, "gvl_vendor_id", id="vendor above 16 bits"),
        pytest.param({"gvl_vendor_id": "123"}, "gvl_vendor_id", id="vendor as string"),
        pytest.param({"gvl_vendor_id": True}, "gvl_vendor_id", id="vendor as bool"),
        pytest.param({"required_purposes": [0]}, "required_purposes", id="purpose 0"),
        pytest.param({"required_purposes": [25]}, "required_purposes", id="purpose 25"),
        pytest.param({"required_purposes": "1,3,4"}, "required_purposes", id="purposes as string"),
        pytest.param({"gdpr_default": 1}, "gdpr_default", id="bool as int"),
        pytest.param({"gpc_opt_out": "yes"}, "gpc_opt_out", id="bool as string"),
        pytest.param({"cache_size": 0}, "cache_size", id="zero cache"),
        pytest.param({"max_consent_length": 10}, "max_consent_length", id="tiny max length"),
        pytest.param({"gvl_vendorid": 1}, "gvl_vendorid", id="typo is an error"),
        pytest.param({"tcfca_vendor_id": 70000}, "tcfca_vendor_id", id="canada vendor above 16 bits"),
        pytest.param({"tcfca_required_purposes": [0]}, "tcfca_required_purposes", id="canada purpose 0"),
        pytest.param({"tcfca_implied_consent": "yes"}, "tcfca_implied_consent",
                     id="canada implied as string"),
    ],
)
def test_each_bad_key_is_named(raw: dict[str, object], key: str) -> None:
    with pytest.raises(PrivacyConfigError) as info:
        PrivacySettings.from_mapping(raw)
    assert any(f"privacy.{key}" in e for e in info.value.errors)


def test_all_errors_reported_at_once() -> None:
    with pytest.raises(PrivacyConfigError) as info:
        PrivacySettings.from_mapping({"gvl_vendor_id": -1, "gdpr_default": "no", "bogus": 1})
    assert len(info.value.errors) == 3
