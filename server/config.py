"""Settings: ``config/default.toml`` ← an optional ``--config`` file ← ``SEGMENT_SERVER_*`` env vars.

Each section is a frozen dataclass owned by the module that uses it; this module only merges the
layers and validates them once, before uvicorn forks its workers, reporting *every* bad key by
name (like prebid-server's ``config.validate()``) instead of failing on the first.

Environment variables name a section and a key with a double underscore, and their value is read
as a TOML value when it parses as one::

    SEGMENT_SERVER_STORE__DATA_DIR=/var/lib/segments
    SEGMENT_SERVER_PRIVACY__REQUIRED_PURPOSES='[1, 3, 4]'
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "SEGMENT_SERVER_"
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "default.toml"


class ConfigError(ValueError):
    """One or more settings are invalid; ``errors`` lists each as ``section.key: problem``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_body_bytes: int = 65536
    access_log_sample_rate: float = 0.0
    log_level: str = "info"
    gc_freeze: bool = True


@dataclass(frozen=True)
class StoreSettings:
    backend: str = "sqlite"
    data_dir: str = "data"
    check_interval_seconds: float = 1.0
    prewarm: bool = True


@dataclass(frozen=True)
class RtdSettings:
    max_segments: int = 500
    xandr_eid_sources: tuple[str, ...] = ("adnxs.com",)
    max_eids: int = 64
    max_keys: int = 256


@dataclass(frozen=True)
class CachedApiSettings:
    url_param: str = "url"
    bundle_param: str = "bundle"
    content_id_param: str = "content_id"
    content_url_param: str = "content_url"
    ip_param: str = "ip"
    device_id_param: str = "ifa"
    country_param: str = "country"
    zip_param: str = "zip"
    default_ttl_seconds: int = 86400
    negative_ttl_seconds: int = 3600
    max_age_cap_seconds: int = 86400
    miss_status: int = 200


CORE_SECTIONS: dict[str, type] = {
    "server": ServerSettings,
    "store": StoreSettings,
    "rtd": RtdSettings,
    "cached_api": CachedApiSettings,
}


def _sections() -> dict[str, type]:
    """Core sections plus those of optional subsystems that are installed."""
    sections = dict(CORE_SECTIONS)
    for name, (module, cls) in OPTIONAL_SECTIONS.items():
        try:
            sections[name] = getattr(__import__(module, fromlist=[cls]), cls)
        except ImportError:  # pragma: no cover - subsystem not present in this build
            continue
    return sections


OPTIONAL_SECTIONS: dict[str, tuple[str, str]] = {
    "privacy": ("server.privacy", "PrivacySettings"),
    "uid2": ("server.sections", "UID2Section"),
    "euid": ("server.sections", "EUIDSection"),
    "mirror": ("server.mirror", "MirrorSettings"),
    "identity": ("server.uid2.identity", "IdentitySettings"),
    "observability": ("server.observability.settings", "ObservabilitySettings"),
    "auth": ("server.auth", "AuthSettings"),
    "grpc": ("server.artf.settings", "GrpcSettings"),
}


@dataclass(frozen=True)
class Settings:
    sections: Mapping[str, Any] = field(default_factory=dict)
    source_files: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self.sections[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def data_dir(self) -> Path:
        return Path(self.sections["store"].data_dir)


def load_settings(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Merge the layers and validate; raises :class:`ConfigError` listing every problem."""
    env = os.environ if env is None else env
    layers: list[dict[str, Any]] = []
    files = [DEFAULT_FILE] if DEFAULT_FILE.exists() else []
    env_file = env.get(ENV_PREFIX + "CONFIG")
    for extra in (env_file, config_file):
        if extra:
            files.append(Path(extra))
    errors: list[str] = []
    for path in files:
        try:
            layers.append(tomllib.loads(Path(path).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            errors.append(f"{path}: {exc}")
    layers.append(_from_env(env, errors))
    if overrides:
        layers.append({k: dict(v) for k, v in overrides.items()})
    merged: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for section, values in layer.items():
            if not isinstance(values, dict):
                errors.append(f"{section}: expected a table of settings")
                continue
            merged.setdefault(section, {}).update(values)
    known = _sections()
    built: dict[str, Any] = {}
    for section in merged.keys() - known.keys():
        errors.append(f"{section}: unknown section (known: {', '.join(sorted(known))})")
    for name, cls in known.items():
        built[name] = _build(cls, name, merged.get(name, {}), errors)
    if errors:
        raise ConfigError(errors)
    return Settings(built, tuple(str(p) for p in files))


def _from_env(env: Mapping[str, str], errors: list[str]) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        out.setdefault(section, {})[key] = value
    return out


def _build(cls: type, section: str, values: Mapping[str, Any], errors: list[str]) -> Any:
    from_mapping = getattr(cls, "from_mapping", None)
    if callable(from_mapping):  # the section validates itself and names every bad key
        try:
            return from_mapping(dict(values))
        except ValueError as exc:
            errors.extend(getattr(exc, "errors", None) or [f"{section}: {exc}"])
            return None
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            errors.append(f"{section}.{key}: unknown setting (known: {', '.join(sorted(fields))})")
            continue
        try:
            kwargs[key] = coerce(value, hints[key])
        except (TypeError, ValueError) as exc:
            errors.append(f"{section}.{key}: {exc}")
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        errors.append(f"{section}: {exc}")
        return None
    validate = getattr(obj, "validate", None)
    if callable(validate):
        for problem in validate() or ():
            errors.append(f"{section}.{problem}")
    return obj


def coerce(value: Any, hint: Any) -> Any:
    """Check/convert one TOML value against a dataclass field's type hint."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        last: Exception | None = None
        for option in inner:
            try:
                return coerce(value, option)
            except (TypeError, ValueError) as exc:
                last = exc
        raise last or TypeError(f"expected {hint}")
    if origin is typing.Literal:
        if value not in args:
            raise ValueError(f"expected one of {list(args)}, got {value!r}")
        return value
    if origin in (tuple, list, frozenset, set):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        item = args[0] if args else Any
        items = [coerce(v, item) for v in value]
        return origin(items) if origin is not tuple else tuple(items)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise TypeError("expected a table")
        return dict(value)
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {value!r}")
        return value
    return value
