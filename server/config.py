"""Settings: ``config/default.toml`` ← ``SEGMENT_SERVER_CONFIG`` ← ``--config FILE`` ← env vars.

:class:`Settings` is the whole tree: one typed attribute per config section, each section a
frozen dataclass declared next to the subsystem that owns it (the four core ones below). This
module only layers the sources and hands each section's table to the one loader in
:mod:`server.sections`, once, before uvicorn forks its workers; every bad key of every section
is reported together, by name (like prebid-server's ``config.validate()``), in one
:class:`~server.errors.SettingsError`.

Environment variables name a section and a key with a double underscore; their value is read as
a TOML value unless the setting is a string::

    SEGMENT_SERVER_STORE__DATA_DIR=/var/lib/segments
    SEGMENT_SERVER_PRIVACY__REQUIRED_PURPOSES='[1, 3, 4]'

One data dir: every file the product writes lives under ``[store] data_dir`` (snapshots in
``store/``, ``auth.sqlite3``, ``identity.sqlite3``, ``mirror-outbox.sqlite3``, ``metrics/``)
unless a setting names another place explicitly; :data:`DERIVED` lists those settings.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from server.artf.settings import GrpcSettings
from server.auth.settings import AuthSettings
from server.cluster.settings import ClusterSettings
from server.errors import SettingsError
from server.mirror.settings import MirrorSettings
from server.observability.settings import ObservabilitySettings
from server.privacy.settings import PrivacySettings
from server.sections import ENV_PREFIX, Section, build, env_value, field_types
from server.uid2.identity.settings import IdentitySettings
from server.uid2.settings import UID2Settings

__all__ = ["DEFAULT_FILE", "ENV_PREFIX", "ConfigError", "Settings", "SettingsError", "load_settings"]

DEFAULT_FILE: Final = Path(__file__).resolve().parent.parent / "config" / "default.toml"

Table = dict[str, object]

#: The name commands and tests have always caught; the same class as every other settings error.
ConfigError = SettingsError

#: Defaults that differ between two sections of one class (the lowest layer, under default.toml).
BUILTIN: Final[dict[str, Table]] = {"euid": {"base_url": "https://prod.euid.eu", "identity_scope": "EUID"}}

#: Settings whose default is another setting's value: ``(section, key) ← (section, key)``.
DERIVED: Final = {("mirror", "data_dir"): ("store", "data_dir")}


@dataclass(frozen=True)
class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_body_bytes: int = 65536
    access_log_sample_rate: float = 0.0
    log_level: str = "info"
    gc_freeze: bool = True
    max_connections: int = 4096
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 10.0
    keep_alive_timeout_seconds: float = 15.0
    engine: Literal["uvicorn", "granian"] = "uvicorn"  # the HTTP front end (server/serving/)

    def validate(self, section: str) -> list[str]:
        problems = []
        if not 0 <= self.port <= 65535:
            problems.append(f"port: {self.port} is not a TCP port")
        if self.workers < 1:
            problems.append(f"workers: expected at least 1, got {self.workers}")
        if self.max_body_bytes < 1:
            problems.append(f"max_body_bytes: expected at least 1, got {self.max_body_bytes}")
        if not 0.0 <= self.access_log_sample_rate <= 1.0:
            problems.append("access_log_sample_rate: expected a share 0.0–1.0, "
                            f"got {self.access_log_sample_rate}")
        if self.log_level not in ("critical", "error", "warning", "info", "debug", "trace"):
            problems.append("log_level: expected critical, error, warning, info or debug, "
                            f"got {self.log_level!r}")
        if self.max_connections < 1:
            problems.append(f"max_connections: expected at least 1, got {self.max_connections}")
        for name in ("header_timeout_seconds", "body_timeout_seconds", "keep_alive_timeout_seconds"):
            if not getattr(self, name) > 0:
                problems.append(f"{name}: expected more than 0 seconds, got {getattr(self, name)}")
        return problems


@dataclass(frozen=True)
class StoreSettings(Section):
    backend: str = "sqlite"
    data_dir: str = "data"
    check_interval_seconds: float = 1.0
    prewarm: bool = True
    mmap: bool = False  # read the snapshot through mmap (faster, but a truncated file is a SIGBUS)
    verify_on_open: bool = True  # PRAGMA quick_check before a snapshot serves
    fallback: bool = True  # CURRENT's snapshot missing/damaged: serve the newest good one (else refuse)


@dataclass(frozen=True)
class RtdSettings(Section):
    max_segments: int = 500
    xandr_eid_sources: tuple[str, ...] = ("adnxs.com",)
    max_eids: int = 64
    max_keys: int = 256


@dataclass(frozen=True)
class CachedApiSettings(Section):
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


@dataclass(frozen=True)
class Settings:
    """Every section, typed; built by :func:`load_settings` (defaults alone: ``Settings()``)."""

    server: ServerSettings = field(default_factory=ServerSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    rtd: RtdSettings = field(default_factory=RtdSettings)
    cached_api: CachedApiSettings = field(default_factory=CachedApiSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    uid2: UID2Settings = field(default_factory=UID2Settings)
    euid: UID2Settings = field(
        default_factory=lambda: UID2Settings.from_mapping(BUILTIN["euid"], section="euid"))
    mirror: MirrorSettings = field(default_factory=MirrorSettings)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    grpc: GrpcSettings = field(default_factory=GrpcSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    #: The TOML files layered in, in order (for ``status`` pages and error messages).
    source_files: tuple[str, ...] = ()

    @property
    def data_dir(self) -> Path:
        """``[store] data_dir``: the root of every file the product writes."""
        return Path(self.store.data_dir)

    @property
    def sections(self) -> Mapping[str, Section]:
        """The sections by TOML name, for code that picks one by name."""
        return {name: section for name, section in vars(self).items() if isinstance(section, Section)}


def section_types() -> dict[str, type[Section]]:
    """TOML section name → its class, read off :class:`Settings`' annotations."""
    return {name: kind for name, kind in field_types(Settings).items()
            if isinstance(kind, type) and issubclass(kind, Section)}


def load_settings(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> Settings:
    """Merge the layers and validate; raises :class:`SettingsError` listing every problem."""
    env = os.environ if env is None else env
    known = section_types()
    files = [DEFAULT_FILE] if DEFAULT_FILE.exists() else []
    files += [Path(extra) for extra in (env.get(ENV_PREFIX + "CONFIG"), config_file) if extra]
    errors: list[str] = []
    layers: list[Mapping[str, object]] = [BUILTIN]
    for path in files:
        try:
            layers.append(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            errors.append(f"{path}: {exc}")
    layers.append(_from_env(env, known))
    layers.extend([dict(overrides)] if overrides else [])
    merged: dict[str, Table] = {}
    for layer in layers:
        for name, values in layer.items():
            if isinstance(values, Mapping):
                merged.setdefault(name, {}).update(values)
            else:
                errors.append(f"{name}: expected a table of settings")
    for name in sorted(merged.keys() - known.keys()):
        errors.append(f"{name}: unknown section (known: {', '.join(sorted(known))})")
    for (section, key), (source, source_key) in DERIVED.items():
        if key not in merged.get(section, {}) and source_key in merged.get(source, {}):
            merged.setdefault(section, {})[key] = merged[source][source_key]
    built = {name: build(kind, name, merged.get(name, {}), env, errors) for name, kind in known.items()}
    if errors:
        raise SettingsError(errors)
    return Settings(**built, source_files=tuple(str(p) for p in files))  # type: ignore[arg-type]


def _from_env(env: Mapping[str, str], known: Mapping[str, type[Section]]) -> dict[str, Table]:
    out: dict[str, Table] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        annotation = field_types(known[section]).get(key, str) if section in known else str
        out.setdefault(section, {})[key] = env_value(raw, annotation)
    return out
