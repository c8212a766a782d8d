import dataclasses
import re
import typing
from pathlib import Path

import pytest

from server.auth.errors import AuthError
from server.config import ConfigError, Settings, load_settings, section_types
from server.errors import SegmentServerError, SettingsError
from server.mirror import InvalidMirrorSettings
from server.privacy import PrivacyConfigError
from server.uid2 import ClientType, IdentityScope


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
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_settings(bad, env={})


def _leaves(annotation: object) -> list[object]:
    args = typing.get_args(annotation)
    return [leaf for arg in args for leaf in _leaves(arg)] if args else [annotation]


def _setting_classes(cls: type, seen: set[type]) -> set[type]:
    """``cls`` and every dataclass reachable through its annotations (nested tables included)."""
    if cls in seen or not dataclasses.is_dataclass(cls):
        return seen
    seen.add(cls)
    for annotation in typing.get_type_hints(cls).values():
        for leaf in _leaves(annotation):
            if isinstance(leaf, type):
                _setting_classes(leaf, seen)
    return seen


def test_no_setting_is_typed_any() -> None:
    classes = _setting_classes(Settings, set())
    assert set(section_types().values()) <= classes
    for cls in classes:
        assert cls.__dataclass_params__.frozen, f"{cls.__name__} is not frozen"
        assert not hasattr(cls, "__getattr__"), f"{cls.__name__} answers any attribute name"
        for name, annotation in typing.get_type_hints(cls).items():
            where = f"{cls.__name__}.{name}"
            assert typing.Any not in _leaves(annotation) and annotation is not object, where
    assert set(section_types()) == {"server", "store", "rtd", "cached_api", "privacy", "uid2", "euid",
                                    "mirror", "identity", "observability", "auth", "grpc", "cluster"}


def test_one_loader() -> None:
    """``grep -rn "def from_mapping\\|def _coerce" server segments`` finds the one loader."""
    root = Path(__file__).resolve().parents[2]
    paths = [path for top in ("server", "segments") for path in (root / top).rglob("*.py")]
    hits = [f"{path.relative_to(root)}" for path in paths
            if re.search(r"def (from_mapping|_coerce)\b", path.read_text(encoding="utf-8"))]
    assert hits == ["server/sections.py"]


@pytest.mark.parametrize(("env", "key"), [
    pytest.param({"SEGMENT_SERVER_SERVER__GC_FREEZE": "yes"}, "server.gc_freeze", id="yes-is-not-a-bool"),
    pytest.param({"SEGMENT_SERVER_MIRROR__ENABLED": "1"}, "mirror.enabled", id="1-is-not-a-bool"),
    pytest.param({"SEGMENT_SERVER_UID2__REFRESH_INTERVAL_SECONDS": '"60"'}, "uid2.refresh_interval_seconds",
                 id="quoted-number-is-not-a-float"),
    pytest.param({"SEGMENT_SERVER_AUTH__SCRYPT_N": "1024.0"}, "auth.scrypt_n", id="float-is-not-an-int"),
    pytest.param({"SEGMENT_SERVER_IDENTITY__API": "v4"}, "identity.api", id="literal"),
    pytest.param({"SEGMENT_SERVER_UID2__CLIENT_TYPE": "legacy"}, "uid2.client_type", id="enum"),
    pytest.param({"SEGMENT_SERVER_RTD__XANDR_EID_SOURCES": "adnxs.com"}, "rtd.xandr_eid_sources", id="list"),
])
def test_one_strict_rule_per_type_in_every_section(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    assert [e.split(":")[0] for e in info.value.errors] == [key]


def test_conversions() -> None:
    s = load_settings(env={"SEGMENT_SERVER_UID2__CLIENT_TYPE": "SHARING",
                           "SEGMENT_SERVER_EUID__IDENTITY_SCOPE": "euid",
                           "SEGMENT_SERVER_UID2__REFRESH_INTERVAL_SECONDS": "60", "EUID_API_KEY": "k",
                           "SEGMENT_SERVER_MIRROR__PASSWORD_FILE": "/run/pw",
                           "SEGMENT_SERVER_MIRROR__MEMBER_ID": ""})
    assert (s.uid2.client_type, s.euid.identity_scope) == (ClientType.SHARING, IdentityScope.EUID)
    assert (s.uid2.refresh_interval_seconds, s.euid.api_key, s.uid2.api_key) == (60.0, "k", "")
    assert (s.mirror.password_file, s.mirror.member_id) == (Path("/run/pw"), None)


def test_settings_errors_are_one_class_under_the_root() -> None:
    assert ConfigError is SettingsError is PrivacyConfigError is InvalidMirrorSettings
    assert issubclass(SettingsError, SegmentServerError) and issubclass(AuthError, SegmentServerError)
    assert str(SettingsError(["a.b: c", "d.e: f"])) == "invalid configuration:\n  a.b: c\n  d.e: f"


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param("12345", "12345", id="digits-as-written"),
    pytest.param('"quoted"', "quoted", id="toml-string"),
    pytest.param("true", "true", id="bool-word-as-written"),
    pytest.param("plain text", "plain text", id="not-toml"),
])
def test_a_string_setting_from_the_environment(raw: str, expected: str) -> None:
    assert load_settings(env={"SEGMENT_SERVER_MIRROR__USERNAME": raw}).mirror.username == expected
