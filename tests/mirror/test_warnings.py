"""Every warning message printed in the seed maps to a reason and an action."""

from __future__ import annotations

import pytest

from server.mirror.warnings import WARNING_RULES, Action, classify


@pytest.mark.parametrize(("message", "reason", "action"), [
    pytest.param("Too many user_ids in request.", "too_many_users", Action.RESEND, id="1000-user cut"),
    pytest.param("'seg_id' or 'seg_code' and 'member_id' are required", "missing_segment_id",
                 Action.DEAD_LETTER, id="missing seg id"),
    pytest.param("No valid segments for user_id: 1.", "no_valid_segments", Action.DEAD_LETTER,
                 id="no segments"),
    pytest.param("No valid segments for user_id: 1ba98a6c-d1a5-49ef.", "no_valid_segments",
                 Action.DEAD_LETTER, id="no segments, device id"),
    pytest.param("'seg_block' is required", "missing_seg_block", Action.DEAD_LETTER, id="no seg_block"),
    pytest.param("'user_id' is required and cannot be empty", "empty_user_id", Action.DEAD_LETTER,
                 id="empty user_id"),
    pytest.param("No valid rt_segment in request.", "no_valid_rt_segment", Action.SUMMARY, id="summary"),
    pytest.param("Something new from Xandr", "unknown_warning", Action.DEAD_LETTER, id="unknown"),
    pytest.param("Too many user_ids in request. extra", "unknown_warning", Action.DEAD_LETTER,
                 id="exact match only"),
])
def test_classify(message: str, reason: str, action: Action) -> None:
    rule = classify(message)
    assert (rule.reason, rule.action) == (reason, action)


def test_every_rule_matches_its_own_seed_example() -> None:
    for rule in WARNING_RULES:
        assert classify(rule.example) is rule
