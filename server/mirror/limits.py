"""Xandr Instant Audience Service limits, as data that reads like the documentation's table.

Source: the seed (Instant Audience Service, サービスの制限) and reference §B2/§B4. Every number the
mirror obeys is here, so a change at Xandr ("limits may change during alpha/beta") is one edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Limit:
    value: float
    unit: str
    source: str


#: name → (value, unit, where the documentation says it)
LIMITS: Final[dict[str, Limit]] = {
    "users_per_request": Limit(1000, "users",
                               "error example: users past 1000 get 'Too many user_ids in request.'"),
    "seg_blocks_per_user_per_call": Limit(100, "segments", "呼び出しごとにユーザーごとに最大 100 セグメント"),
    "payload_bytes": Limit(1_000_000, "bytes", "JSON ペイロードは 1 MB を超えないように"),
    "posts_per_second": Limit(100, "POST/s per member", "1 秒あたり最大 100 POST 呼び出し (メンバーあたり)"),
    "users_per_second": Limit(1000, "users/s", "1 秒あたり最大 1,000 ユーザー"),
    "processed_gets_per_second": Limit(1000, "GET/s per member",
                                       "1000 reads per 1 seconds to rt-segment-processed"),
    "auths_per_window": Limit(10, "successful auths", "authentication-service: 10 per 5-minute period"),
    "auth_window_seconds": Limit(300, "seconds", "authentication-service: 5-minute period"),
    "token_idle_seconds": Limit(2 * 3600, "seconds", "token valid 2 hours from the most recent call"),
    "token_hard_seconds": Limit(24 * 3600, "seconds", "token 24-hour hard expiry"),
}

USERS_PER_REQUEST: Final = int(LIMITS["users_per_request"].value)
SEG_BLOCKS_PER_USER: Final = int(LIMITS["seg_blocks_per_user_per_call"].value)
# "1 MB" is not defined further; 1,000,000 bytes is the conservative reading of MB vs MiB.
PAYLOAD_BYTES: Final = int(LIMITS["payload_bytes"].value)
POSTS_PER_SECOND: Final = LIMITS["posts_per_second"].value
USERS_PER_SECOND: Final = LIMITS["users_per_second"].value
AUTHS_PER_WINDOW: Final = int(LIMITS["auths_per_window"].value)
AUTH_WINDOW_SECONDS: Final = LIMITS["auth_window_seconds"].value
TOKEN_IDLE_SECONDS: Final = LIMITS["token_idle_seconds"].value
TOKEN_HARD_SECONDS: Final = LIMITS["token_hard_seconds"].value

#: rt_segment ``domain`` values Xandr accepts (None = Xandr user id). No UID2/EUID domain exists.
DOMAINS: Final = frozenset({None, "idfa", "sha1udid", "md5udid", "openudid", "aaid"})

EXPIRE_NEVER: Final = 0
EXPIRE_REMOVE: Final = -1
