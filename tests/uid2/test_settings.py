from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET

from server.uid2 import ClientType, SettingsError, UID2Settings

SECRET_B64 = base64.b64encode(SECRET).decode()


def test_defaults() -> None:
    s = UID2Settings()
    assert (s.enabled, s.client_type, s.refresh_interval_seconds) == (False, ClientType.BIDSTREAM, 3600.0)


def test_env_overrides_and_secrets_stay_out_of_repr() -> None:
    s = UID2Settings.from_mapping(
        {"enabled": True, "api_key": "file-key", "client_type": "sharing"},
        env={"UID2_API_KEY": "env-key", "UID2_SECRET": SECRET_B64},
    )
    assert (s.api_key, s.client_type, s.load_secret()) == ("env-key", ClientType.SHARING, SECRET)
    assert "env-key" not in repr(s) and SECRET_B64 not in repr(s)


def test_secret_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET_B64 + "\n")
    assert UID2Settings(secret_file=str(path)).load_secret() == SECRET


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param(UID2Settings(secret="not base64!"), "not base64", id="bad-base64"),
        pytest.param(UID2Settings(secret="AAAA"), "32 bytes", id="short"),
        pytest.param(UID2Settings(secret_file="/nonexistent/uid2"), "cannot read", id="missing-file"),
    ],
)
def test_bad_secrets(settings: UID2Settings, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings.load_secret()


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        pytest.param(
            {"bogus": 1, "enabled": "yes"},
            ["uid2.bogus: unknown setting", "uid2.enabled: expected true or false, got 'yes'"],
            id="every-error",
        ),
        pytest.param(
            {"client_type": "legacy"},
            ["uid2.client_type: 'legacy' is not a valid ClientType"],
            id="client-type",
        ),
        pytest.param(
            {"enabled": True},
            [  # each says what to set and how (issue 26 item 9)
                ("uid2.api_key: required when [uid2] enabled = true: "
                "set [uid2] api_key or SEGMENT_SERVER_UID2__API_KEY / UID2_API_KEY"),
                ("uid2.secret: required when [uid2] enabled = true: "
                "set [uid2] secret or SEGMENT_SERVER_UID2__SECRET / UID2_SECRET (base64, 32 bytes), "
                "or set [uid2] secret_file or SEGMENT_SERVER_UID2__SECRET_FILE / UID2_SECRET_FILE"),
            ],
            id="enabled-without-credentials",
        ),
        pytest.param(
            {"refresh_interval_seconds": 0, "base_url": "ftp://x"},
            ["uid2.refresh_interval_seconds: must be > 0", "uid2.base_url: must be an http(s) URL"],
            id="ranges",
        ),
    ],
)
def test_validation_names_every_bad_key(data: dict[str, Any], errors: list[str]) -> None:
    with pytest.raises(SettingsError) as caught:
        UID2Settings.from_mapping(data)
    assert [e.partition(" (known:")[0] for e in caught.value.errors] == errors
