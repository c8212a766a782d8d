from pathlib import Path

from segments.store import SQLiteStore, StoreWriter
from server.config import load_settings
from server.mirror.outbox import Outbox
from server.optout_removals import xandr_removal_hook
from tests.helpers import build_data_dir


def mirror_settings(enabled: bool):  # type: ignore[no-untyped-def]
    mirror = {"enabled": enabled, "username": "u", "password": "p"}
    return load_settings(env={}, overrides={"mirror": mirror}).mirror


def test_opted_out_users_linked_ids_are_removed_from_every_mapped_segment(tmp_path: Path) -> None:
    data = build_data_dir(tmp_path, [
        {"kind": "uid2", "key": "gone", "segments": ["cars"], "xandr_id": "4242"},
        {"kind": "uid2", "key": "stays", "segments": ["cars"], "xandr_id": "7777"},
    ])
    hook = xandr_removal_hook(data, mirror_settings(True))
    assert hook is not None
    StoreWriter(data).delete_memberships("uid2:gone")  # the identity job removes memberships first
    hook(["gone", "never-linked"])
    outbox = Outbox(data)
    try:
        intents = outbox.fetch(100)
    finally:
        outbox.close()
    mapped = {s.id: s.xandr for s in SQLiteStore(data).taxonomy.segments.values() if s.xandr is not None}
    assert {i.user_id for i in intents} == {"4242"}
    assert len(intents) == len(mapped) and all(i.block.expiration == -1 for i in intents)
    assert StoreWriter(data).get_links(["uid2:gone", "uid2:stays"]) == {"uid2:stays": [("7777", None)]}


def test_no_hook_when_mirror_is_off(tmp_path: Path) -> None:
    assert xandr_removal_hook(tmp_path, mirror_settings(False)) is None
    assert xandr_removal_hook(tmp_path, None) is None
