"""Mirror matched users to Xandr's Instant Audience Service (``rt-segment``), durably.

    /rtd ──offer()──▶ in-memory buffer ──≤100 ms──▶ SQLite outbox ──lease──▶ sender ──▶ Xandr
                       (queue.py, dedup.py)          (outbox.py)             (sender.py, batcher.py,
                                                                              client.py, warnings.py)

The app lifespan owns one :class:`Mirror` per worker (``start()`` / ``stop()``); the sender runs
embedded (one worker wins the lease) or as ``segment-server mirror run``.

With ``[cluster] enabled`` the hot path and the SQLite outbox are the same; a forwarder moves the
outbox into the engine's stream and one sender across all nodes drains it
(:mod:`server.cluster.stream_forward`, through the :class:`~server.mirror.source.IntentSource` seam).
"""

from server.mirror.ids import mirrorable_users
from server.mirror.outbox import Outbox, OutboxStats
from server.mirror.queue import Mirror, intent_rows, make_sender
from server.mirror.settings import InvalidMirrorSettings, MirrorSettings
from server.mirror.types import Intent, SegBlock

__all__ = [
    "Intent",
    "InvalidMirrorSettings",
    "Mirror",
    "MirrorSettings",
    "Outbox",
    "OutboxStats",
    "SegBlock",
    "intent_rows",
    "make_sender",
    "mirrorable_users",
]
