from __future__ import annotations

import pytest

import server.errors
from server.auth.errors import SettingsError
from server.auth.settings import AuthSettings


def test_defaults() -> None:
    s = AuthSettings.from_mapping({})
    assert s.default_lifetime_s == 86400
    assert s.enabled_scopes == {"rtd", "segments", "admin"}


def test_switch_off_one_endpoint() -> None:
    s = AuthSettings.from_mapping({"rtd_enabled": False})
    assert s.enabled_scopes == {"segments", "admin"}


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        pytest.param({"nope": 1}, "auth.nope", id="unknown-key"),
        pytest.param({"rtd_enabled": "yes"}, "auth.rtd_enabled", id="bool-type"),
        pytest.param({"default_lifetime_s": 3599}, "auth.default_lifetime_s", id="lifetime-low"),
        pytest.param({"default_lifetime_s": 86401}, "auth.default_lifetime_s", id="lifetime-high"),
        pytest.param({"default_lifetime_s": True}, "auth.default_lifetime_s", id="bool-is-not-int"),
        pytest.param({"revocation_refresh_s": 2}, "auth.revocation_refresh_s", id="refresh-too-slow"),
        pytest.param({"scrypt_n": 1000}, "auth.scrypt_n", id="scrypt-not-power-of-two"),
        pytest.param({"realm": 'a"b'}, "auth.realm", id="realm-quote"),
        pytest.param({"failed_auth_max_per_client": 0}, "auth.failed_auth_max_per_client", id="limit-zero"),
        pytest.param({"secret_check_threads": 0}, "auth.secret_check_threads", id="no-check-threads"),
        pytest.param({"secret_checks_queued_per_address": 0}, "auth.secret_checks_queued_per_address",
                     id="no-queue"),
    ],
)
def test_bad_settings_name_their_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(SettingsError) as info:
        AuthSettings.from_mapping(raw)
    assert any(e.startswith(key + ":") for e in info.value.errors)


def test_every_bad_key_is_reported() -> None:
    with pytest.raises(SettingsError) as info:
        AuthSettings.from_mapping({"nope": 1, "realm": "", "key_rotation_s": 5})
    assert len(info.value.errors) == 3


def test_settings_error_is_the_one_settings_error() -> None:
    # One class for every section (server.errors), still a ValueError, with `.errors` naming each key.
    with pytest.raises(ValueError) as info:
        AuthSettings.from_mapping({"nope": 1})
    assert isinstance(info.value, SettingsError) and SettingsError is server.errors.SettingsError
    assert [e.partition(" (known:")[0] for e in info.value.errors] == ["auth.nope: unknown setting"]
