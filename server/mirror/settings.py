"""`MirrorSettings`: every knob of the Xandr mirror, validated once, with secrets kept out of reprs.

Loaded by the one settings loader (:mod:`server.sections`) like every section, so ``mirror run``
and ``mirror status`` read exactly what the server reads. Defaults are the documented endpoints
and limits (:mod:`server.mirror.limits`); the outbox lives in ``[store] data_dir`` unless
``[mirror] data_dir`` is set explicitly (:data:`server.config.DERIVED`). The password is
read from ``password`` or, preferably, ``password_file`` (a mounted secret) at the moment of
authentication, and neither appears in ``repr()``, logs or ``mirror status``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from server.errors import SettingsError
from server.mirror import limits
from server.sections import ENV_PREFIX, Section, hint

DEFAULT_API_URL = "https://api.appnexus.com"
DEFAULT_STREAMING_URL = "https://streaming-data.appnexus.com"


#: The name :mod:`server.mirror` exports; the same class as every other settings error.
InvalidMirrorSettings = SettingsError


@dataclass(frozen=True, slots=True)
class MirrorSettings(Section):
    section: ClassVar[str] = "mirror"

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
    # [cluster] on: intents the engine's stream may hold; beyond it they wait in each node's outbox
    stream_max_len: int = 1_000_000

    def validate(self, section: str) -> list[str]:
        errors: list[str] = []
        if not 0.0 <= self.dedup_fraction <= 1.0:
            errors.append("dedup_fraction: must be within 0..1")
        for name in ("flush_interval", "connect_timeout", "read_timeout", "posts_per_second",
                     "users_per_second", "backoff_initial", "backoff_max", "lease_seconds", "idle_poll",
                     "reconcile_interval", "dedup_never_expiring_seconds"):
            if not getattr(self, name) > 0:
                errors.append(f"{name}: must be > 0")
        if self.flush_interval > 0.1:
            errors.append("flush_interval: the documented loss window is ≤ 100 ms (≤ 0.1)")
        if self.posts_per_second > limits.POSTS_PER_SECOND:
            errors.append(f"posts_per_second: Xandr allows at most {limits.POSTS_PER_SECOND:g}")
        if self.users_per_second > limits.USERS_PER_SECOND:
            errors.append(f"users_per_second: Xandr allows at most {limits.USERS_PER_SECOND:g}")
        if not 1 <= self.auths_per_window <= limits.AUTHS_PER_WINDOW:
            errors.append(f"auths_per_window: 1..{limits.AUTHS_PER_WINDOW}")
        for name in ("dedup_max_entries", "max_buffer", "fetch_size", "stream_max_len"):
            if getattr(self, name) < 1:
                errors.append(f"{name}: must be ≥ 1")
        for name in ("api_url", "streaming_url"):
            if not str(getattr(self, name)).startswith(("https://", "http://")):
                errors.append(f"{name}: must be an http(s) URL")
        if self.enabled and self.embedded_sender:  # else `mirror run` needs them, and checks them
            errors.extend(self.missing_credentials(f"required when [{section}] enabled = true"))
        return errors

    def missing_credentials(self, why: str) -> list[str]:
        """What the sender still needs, each as ``key: why: how to set it``."""
        missing = [] if self.username else [f"username: {why}: {hint('mirror', 'username')}"]
        if not self.password and self.password_file is None:
            missing.append(f"password_file: {why}: {hint('mirror', 'password_file')} "
                           f"(or password / {ENV_PREFIX}MIRROR__PASSWORD)")
        return missing

    def read_password(self) -> str:
        """The secret, read late so a rotated secret file is picked up at the next auth."""
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return self.password
