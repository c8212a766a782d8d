"""rt-segment validation warnings → dead-letter reasons, matched on the seed's exact messages.

Xandr answers validation problems with ``status: "OK"`` and a ``warnings`` list of
``{"message", "entity"}``; the request is *not* an error, but the entity named was not applied.
Each row below says what the sender does with the entity: dead-letter it under ``reason``, resend
it (the 1000-user cut), or ignore the row (a summary that repeats per-entity warnings).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final


class Action(enum.Enum):
    DEAD_LETTER = "dead_letter"  # the entity will never be accepted as sent
    RESEND = "resend"  # cut for a limit, not invalid: leave it in the outbox
    SUMMARY = "summary"  # restates warnings already given per entity


@dataclass(frozen=True, slots=True)
class WarningRule:
    pattern: re.Pattern[str]
    action: Action
    reason: str
    example: str  # the message exactly as the seed prints it


def _exact(message: str) -> re.Pattern[str]:
    return re.compile(re.escape(message) + r"\Z")


WARNING_RULES: Final[tuple[WarningRule, ...]] = (
    WarningRule(_exact("Too many user_ids in request."), Action.RESEND, "too_many_users",
                "Too many user_ids in request."),
    WarningRule(_exact("'seg_id' or 'seg_code' and 'member_id' are required"), Action.DEAD_LETTER,
                "missing_segment_id", "'seg_id' or 'seg_code' and 'member_id' are required"),
    WarningRule(re.compile(r"No valid segments for user_id: .*\.\Z", re.DOTALL), Action.DEAD_LETTER,
                "no_valid_segments", "No valid segments for user_id: 1."),
    WarningRule(_exact("'seg_block' is required"), Action.DEAD_LETTER, "missing_seg_block",
                "'seg_block' is required"),
    WarningRule(_exact("'user_id' is required and cannot be empty"), Action.DEAD_LETTER, "empty_user_id",
                "'user_id' is required and cannot be empty"),
    WarningRule(_exact("No valid rt_segment in request."), Action.SUMMARY, "no_valid_rt_segment",
                "No valid rt_segment in request."),
)

#: a message we have never seen: keep the entity out of the retry loop, but say so loudly.
UNKNOWN_RULE: Final = WarningRule(re.compile(""), Action.DEAD_LETTER, "unknown_warning", "")


def classify(message: str) -> WarningRule:
    for rule in WARNING_RULES:
        if rule.pattern.match(message):
            return rule
    return UNKNOWN_RULE
