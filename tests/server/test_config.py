from pathlib import Path

import pytest

from server.config import ConfigError, load_settings


def test_defaults_load() -> None:
    s = load_settings(env={})
    assert s.server.port == 8080 and s.rtd.max_segments == 500 and s.privacy.required_purposes == (1, 3, 4)


def test_layers_file_then_env(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text('[server]\nport = 9000\nworkers = 3\n[store]\ndata_dir = "/srv/data"\n')
    env = {"SEGMENT_SERVER_SERVER__PORT": "9100", "SEGMENT_SERVER_PRIVACY__REQUIRED_PURPOSES": "[1, 2]",
           "SEGMENT_SERVER_STORE__DATA_DIR": "/from/env", "OTHER": "x"}
    s = load_settings(extra, env=env)
    assert (s.server.port, s.server.workers, s.store.data_dir) == (9100, 3, "/from/env")
    assert s.privacy.required_purposes == (1, 2)


def test_config_file_from_env(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text("[rtd]\nmax_segments = 100\n")
    assert load_settings(env={"SEGMENT_SERVER_CONFIG": str(extra)}).rtd.max_segments == 100


def test_every_bad_key_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nport = "eighty"\nworkrs = 2\n[nope]\nx = 1\n[privacy]\ngvl_vendor_id = -1\n'
                   '[rtd]\nxandr_eid_sources = "adnxs.com"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(bad, env={"SEGMENT_SERVER_CACHED_API__MISS_STATUS": "true"})
    text = "\n".join(info.value.errors)
    for fragment in ("server.port", "server.workrs: unknown setting", "nope: unknown section",
                     "privacy.gvl_vendor_id", "rtd.xandr_eid_sources", "cached_api.miss_status"):
        assert fragment in text
    assert len(info.value.errors) == 6


def test_unreadable_toml_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_settings(bad, env={})
