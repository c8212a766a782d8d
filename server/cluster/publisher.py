"""Blocking engine calls for commands and jobs: catch up with the edit stream, publish a snapshot.

The server's workers use the asyncio client (:mod:`server.cluster.datasync`); a one-shot command
or the identity worker's store writes use these.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Final

import redis

from segments.store import StoreWriter
from server.cluster.edits import BATCH, apply_to_store, current_offset, parse_entries
from server.cluster.engine import Keys
from server.cluster.publish import VERSION_META, Published, export_snapshot, prune_published
from server.cluster.settings import ClusterSettings

#: KEYS: the version key. ARGV: the new version's JSON, its version. Never moves the key backwards.
SET_IF_NEWER: Final = """
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cjson.decode(cur).version) >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


def sync_client(settings: ClusterSettings) -> redis.Redis:
    """A blocking client for commands and jobs (the server's workers use the asyncio one)."""
    return redis.Redis.from_url(settings.url, socket_connect_timeout=settings.connect_timeout_s,
                                socket_timeout=max(settings.command_timeout_s, 5.0), decode_responses=True)


def catch_up(client: redis.Redis, keys: Keys, data_dir: Path) -> int:
    """Apply every stream entry after the serving snapshot's offset; how many were applied."""
    applied = 0
    while True:
        offset = current_offset(data_dir)
        edits = parse_entries(client.xrange(keys.edits, f"({offset}", "+", count=BATCH))
        if not edits:
            return applied
        _, n, _ = apply_to_store(data_dir, edits)
        applied += n
        if len(edits) < BATCH:
            return applied


def publish_now(settings: ClusterSettings, data_dir: Path) -> tuple[Published, int]:
    """Catch up, export, announce; (what was announced, edits applied first)."""
    dest = settings.publish_path
    assert dest is not None
    client = sync_client(settings)
    keys = Keys(settings.key_prefix)
    try:
        caught_up = catch_up(client, keys, data_dir)
        version = int(client.incr(keys.publish_seq))
        on_disk = max((int(p.name[5:13]) for p in dest.glob("snap-*.sqlite") if p.name[5:13].isdigit()),
                      default=0)
        if version <= on_disk:  # the engine lost its counter (flushed, no AOF): never reuse a version
            version = on_disk + 1
            client.set(keys.publish_seq, version)
        by = f"{socket.gethostname()}:{os.getpid()}"
        pub = export_snapshot(data_dir, dest, version, by)
        stamp_installed(data_dir, version)  # this node has it already: no copy back to itself
        client.eval(SET_IF_NEWER, 1, keys.published, pub.to_json(), str(version))
        prune_published(dest, pub.name)
        return pub, caught_up
    finally:
        client.close()


def stamp_installed(data_dir: Path, version: int) -> None:
    """Record in the serving snapshot that it holds published ``version`` (edits since stay on top)."""
    with StoreWriter(data_dir).transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", (VERSION_META, str(version)))
