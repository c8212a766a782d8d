"""`MirrorSettings`: every knob of the Xandr mirror, validated once, with secrets kept out of reprs.

Defaults are the documented endpoints and limits (:mod:`server.mirror.limits`). The password is
read from ``password`` or, preferably, ``password_file`` (a mounted secret) at the moment of
authentication, and neither appears in ``repr()``, logs or ``mirror status``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from server.mirror import limits

DEFAULT_API_URL = "https://api.appnexus.com"
DEFAULT_STREAMING_URL = "https://streaming-data.appnexus.com"


class InvalidMirrorSettings(ValueError):
    """Raised with *every* bad key named, so one config run shows all mistakes.

    ``errors`` is the list the app's config loader (:mod:`server.config`) merges into its report.
    """

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class MirrorSettings:
    enabled: bool = False
    data_dir: Path = Path("data")  # the outbox file is <data_dir>/mirror-outbox.sqlite3
    api_url: str = DEFAULT_API_URL
    streaming_url: str = DEFAULT_STREAMING_URL
    username: str = ""
    password: str = field(default="", repr=False)
    password_file: Path | None = None
    member_id: int | None = None  # our member: rt-segment-processed is asked for it
    xandr_eid_sources: tuple[str, ...] = ("adnxs.com",)  # eids whose uids are Xandr user ids
    mirror_device_ids: bool = True  # idfa/aaid from device.ifa + device.os
    embedded_sender: bool = True  # run the sender in the app (lease picks one worker) vs `mirror run`
    # dedup: skip a re-add while the previous one has used less than this fraction of its expiration
    dedup_fraction: float = 0.5
    dedup_max_entries: int = 1_000_000
    dedup_never_expiring_seconds: float = 86_400.0  # expiration 0 / member default: re-add daily
    flush_interval: float = 0.1  # hot-path buffer → outbox; bounds the loss window on kill -9
    max_buffer: int = 100_000  # intents held in memory before new ones are dropped (counted)
    connect_timeout: float = 2.0
    read_timeout: float = 10.0
    posts_per_second: float = limits.POSTS_PER_SECOND
    users_per_second: float = limits.USERS_PER_SECOND
    auths_per_window: int = limits.AUTHS_PER_WINDOW
    token_refresh_margin: float = 600.0  # re-auth this long before the 2 h idle / 24 h hard expiry
    backoff_initial: float = 0.5
    backoff_max: float = 60.0
    lease_seconds: float = 15.0
    fetch_size: int = 5000  # intents read from the outbox per drain step
    idle_poll: float = 0.2  # sender sleep when the outbox is empty
    reconcile_interval: float = 3600.0

    def __post_init__(self) -> None:
        errors: list[str] = []
        if not 0.0 <= self.dedup_fraction <= 1.0:
            errors.append("mirror.dedup_fraction: must be within 0..1")
        for name in ("flush_interval", "connect_timeout", "read_timeout", "posts_per_second",
                     "users_per_second", "backoff_initial", "backoff_max", "lease_seconds", "idle_poll",
                     "reconcile_interval", "dedup_never_expiring_seconds"):
            if not getattr(self, name) > 0:
                errors.append(f"mirror.{name}: must be > 0")
        if self.flush_interval > 0.1:
            errors.append("mirror.flush_interval: the documented loss window is ≤ 100 ms (≤ 0.1)")
        if self.posts_per_second > limits.POSTS_PER_SECOND:
            errors.append(f"mirror.posts_per_second: Xandr allows at most {limits.POSTS_PER_SECOND:g}")
        if self.users_per_second > limits.USERS_PER_SECOND:
            errors.append(f"mirror.users_per_second: Xandr allows at most {limits.USERS_PER_SECOND:g}")
        if not 1 <= self.auths_per_window <= limits.AUTHS_PER_WINDOW:
            errors.append(f"mirror.auths_per_window: 1..{limits.AUTHS_PER_WINDOW}")
        for name in ("dedup_max_entries", "max_buffer", "fetch_size"):
            if getattr(self, name) < 1:
                errors.append(f"mirror.{name}: must be ≥ 1")
        for name in ("api_url", "streaming_url"):
            if not str(getattr(self, name)).startswith(("https://", "http://")):
                errors.append(f"mirror.{name}: must be an http(s) URL")
        if self.enabled and not self.username:
            errors.append("mirror.username: required when mirror.enabled")
        if self.enabled and not self.password and self.password_file is None:
            errors.append("mirror.password / mirror.password_file: one is required when mirror.enabled")
        if errors:
            raise InvalidMirrorSettings(errors)

    def read_password(self) -> str:
        """The secret, read late so a rotated secret file is picked up at the next auth."""
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return self.password

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> MirrorSettings:
        """Build from a ``[mirror]`` table (the hook :func:`server.config.load_settings` calls).

        Unknown keys are reported (a typo must not silently disable a limit).
        """
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        errors = [f"mirror.{k}: unknown setting" for k in raw if k not in known]
        merged = {k: v for k, v in raw.items() if k in known}
        for name, value in merged.items():
            default = known[name].default
            try:
                values[name] = _coerce(name, value, default)
            except (TypeError, ValueError) as exc:
                errors.append(f"mirror.{name}: {exc}")
        try:
            built = cls(**values)
        except InvalidMirrorSettings as exc:  # report range errors alongside type/unknown-key errors
            errors.extend(exc.errors)
        if errors:
            raise InvalidMirrorSettings(errors)
        return built


ENV_PREFIX = "SEGMENT_SERVER_MIRROR__"  # the app's convention: SEGMENT_SERVER_<SECTION>__<KEY>


def load_mirror_settings(config_files: Sequence[Path] = (), env: Mapping[str, str] | None = None,
                         overrides: Mapping[str, Any] | None = None) -> MirrorSettings:
    """``[mirror]`` from TOML files ← ``SEGMENT_SERVER_MIRROR__KEY`` env ← explicit overrides.

    For ``mirror run`` and the ops commands, which must not need the whole app's config to run.
    """
    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    for path in config_files:
        if path.exists():
            merged.update(tomllib.loads(path.read_text(encoding="utf-8")).get("mirror", {}))
    for name, raw in env.items():
        if name.startswith(ENV_PREFIX):
            try:
                merged[name[len(ENV_PREFIX):].lower()] = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                merged[name[len(ENV_PREFIX):].lower()] = raw
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return MirrorSettings.from_mapping(merged)


def _coerce(name: str, value: Any, default: Any) -> Any:
    if name in ("data_dir", "password_file"):
        return None if value in (None, "") else Path(value)
    if name == "member_id":
        return None if value in (None, "") else int(value)
    if name == "xandr_eid_sources":
        if isinstance(value, str):
            return tuple(s.strip() for s in value.split(",") if s.strip())
        return tuple(str(s) for s in value)
    if isinstance(default, bool):
        if isinstance(value, str):
            if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError("must be a boolean")
            return value.lower() in ("1", "true", "yes")
        return bool(value)
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return str(value)
