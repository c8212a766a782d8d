"""When a UID2 user opts out, remove their linked Xandr ids from every segment we mirror.

The identity job (``segment-server worker``) calls the hook with the raw UID2s that just opted out,
after their memberships left the store. Their Xandr id links (loaded with the memberships) are
still there: we queue ``expiration: -1`` for each linked id × every Xandr-mapped segment of the
taxonomy — removing a user from a segment they were not in is harmless, and it does not depend on
memberships that are already gone — then delete the links. Queueing writes to the durable outbox
the sender drains; it is at-least-once like the job that calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from segments import keys as K
from segments.store import SQLiteStore, StoreWriter
from server.mirror import MirrorSettings
from server.mirror.outbox import Outbox
from server.mirror.queue import intent_rows


def xandr_removal_hook(data_dir: Path, mirror: MirrorSettings | None) -> Callable[[list[str]], None] | None:
    """The ``on_optout`` callback for the identity jobs, or None when the mirror is off."""
    if mirror is None or not mirror.enabled:
        return None

    def queue_removals(raw_uids: list[str]) -> None:
        writer = StoreWriter(data_dir)
        keys = [K.make(K.UID2, uid) for uid in raw_uids]
        links = writer.get_links(keys)
        if not links:
            return
        store = SQLiteStore(data_dir)
        try:
            mapped = [s for s in store.taxonomy.segments.values() if s.xandr is not None]
        finally:
            store.close()
        users = sorted({link for key_links in links.values() for link in key_links}, key=lambda u: u[0])
        outbox = Outbox(data_dir)
        try:
            outbox.add_many(intent_rows(users, mapped, remove=True))
        finally:
            outbox.close()
        writer.delete_links(links)

    return queue_removals
