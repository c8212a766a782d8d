from __future__ import annotations

from pathlib import Path

import pytest

from server.config import load_settings
from server.mirror.settings import InvalidMirrorSettings, MirrorSettings


def test_password_never_in_repr(tmp_path: Path) -> None:
    s = MirrorSettings(username="u", password="hunter2")
    assert "hunter2" not in repr(s)
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    s2 = MirrorSettings(username="u", password_file=secret)
    assert s2.read_password() == "from-file"
    assert "from-file" not in repr(s2)


def test_defaults_are_the_documented_endpoints_and_limits() -> None:
    s = MirrorSettings()
    assert (s.api_url, s.streaming_url) == ("https://api.appnexus.com", "https://streaming-data.appnexus.com")
    assert (s.posts_per_second, s.users_per_second, s.auths_per_window) == (100, 1000, 10)
    assert s.flush_interval <= 0.1


@pytest.mark.parametrize(("raw", "bad_keys"), [
    pytest.param({"dedup_fraction": 2}, ["dedup_fraction"], id="fraction"),
    pytest.param({"posts_per_second": 500}, ["posts_per_second"], id="over xandr post limit"),
    pytest.param({"flush_interval": 1.0}, ["flush_interval"], id="loss window"),
    pytest.param({"enabled": True}, ["username", "password"], id="enabled needs credentials"),
    pytest.param({"nope": 1, "auths_per_window": 11}, ["nope", "auths_per_window"], id="unknown and over"),
    pytest.param({"read_timeout": "x"}, ["read_timeout"], id="wrong type"),
])
def test_every_bad_key_is_named(raw: dict[str, object], bad_keys: list[str]) -> None:
    with pytest.raises(InvalidMirrorSettings) as info:
        MirrorSettings.from_mapping(raw)
    for key in bad_keys:
        assert any(f"mirror.{key}" in e for e in info.value.errors), info.value.errors


def test_layers_file_env_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[mirror]\nusername = "file"\nmember_id = 7\nxandr_eid_sources = ["a.com", "b.com"]\n')
    s = load_settings(cfg, env={"SEGMENT_SERVER_MIRROR__MEMBER_ID": "9"},
                      overrides={"mirror": {"data_dir": str(tmp_path)}}).mirror
    assert (s.username, s.member_id, s.data_dir, s.xandr_eid_sources) == \
        ("file", 9, tmp_path, ("a.com", "b.com"))


@pytest.mark.parametrize(("table", "env", "expected"), [
    pytest.param("", {}, "data", id="default: the store's default"),
    pytest.param('[store]\ndata_dir = "/srv/seg"\n', {}, "/srv/seg", id="follows [store] data_dir"),
    pytest.param("", {"SEGMENT_SERVER_STORE__DATA_DIR": "/env/seg"}, "/env/seg",
                 id="follows the store env var"),
    pytest.param('[store]\ndata_dir = "/srv/seg"\n[mirror]\ndata_dir = "/srv/outbox"\n', {}, "/srv/outbox",
                 id="explicit [mirror] data_dir wins"),
])
def test_outbox_dir_is_the_store_data_dir_unless_set(tmp_path: Path, table: str, env: dict[str, str],
                                                     expected: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(table)
    assert load_settings(cfg, env=env).mirror.data_dir == Path(expected)


def test_strings_from_the_environment_are_taken_as_written() -> None:
    s = load_settings(env={"SEGMENT_SERVER_MIRROR__USERNAME": "12345",
                           "SEGMENT_SERVER_MIRROR__PASSWORD": "true",
                           "SEGMENT_SERVER_MIRROR__ENABLED": "false"})
    assert (s.mirror.username, s.mirror.password, s.mirror.enabled) == ("12345", "true", False)


def test_yes_is_not_a_boolean() -> None:
    with pytest.raises(InvalidMirrorSettings) as info:
        load_settings(env={"SEGMENT_SERVER_MIRROR__ENABLED": "yes"})
    assert [e.split(":")[0] for e in info.value.errors] == ["mirror.enabled"]
