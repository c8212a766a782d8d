from __future__ import annotations

from typing import Any

import pytest

from server.uid2.identity import IdentitySettings
from server.uid2.settings import SettingsError, UID2Settings


def test_defaults_are_v3_full_batches_and_a_90_day_alias() -> None:
    s = IdentitySettings.from_mapping({})
    got = (s.api, s.map_batch_size, s.optout_batch_size, s.alias_days, s.enabled)
    assert got == ("v3", 5000, 5000, 90, False)


@pytest.mark.parametrize(("data", "errors"), [
    pytest.param({"api": "v4"}, ["identity.api"], id="api"),
    pytest.param({"map_batch_size": 5001, "optout_batch_size": 0},
                 ["identity.map_batch_size", "identity.optout_batch_size"], id="batches"),
    pytest.param({"max_request_bytes": 2_000_000}, ["identity.max_request_bytes"], id="one-megabyte"),
    pytest.param({"nope": 1, "alias_days": "ninety"}, ["identity.nope", "identity.alias_days"],
                 id="every-key"),
    pytest.param({"base_url": "ftp://x"}, ["identity.base_url"], id="url"),
])
def test_every_bad_key_is_named(data: dict[str, Any], errors: list[str]) -> None:
    with pytest.raises(SettingsError) as caught:
        IdentitySettings.from_mapping(data)
    assert sorted(e.split(":")[0] for e in caught.value.errors) == sorted(errors)


def test_credentials_default_to_uid2_and_can_be_overridden_by_env() -> None:
    uid2 = UID2Settings(enabled=True, base_url="https://prod.uidapi.com", api_key="reader", secret="c2VjcmV0")
    assert IdentitySettings().operator_settings(uid2) == uid2
    mapper = IdentitySettings.from_mapping({}, env={"UID2_IDENTITY_API_KEY": "k-mapper-1",
                                                    "UID2_IDENTITY_SECRET_FILE": "/run/mapper"})
    merged = mapper.operator_settings(uid2)
    assert (merged.api_key, merged.secret, merged.secret_file) == ("k-mapper-1", "", "/run/mapper")
    assert "k-mapper-1" not in repr(mapper)
