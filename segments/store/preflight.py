"""What ``segment-server serve`` checks once, in the parent, before uvicorn forks any worker.

Each worker checks its snapshot again when it opens it; this run exists so that a store no worker
could serve stops the command with a non-zero exit and the file's name, instead of workers dying
and being restarted in a loop while the parent stays up answering nothing. It imports no metrics
module (the parent sets up prometheus' multiprocess directory later).
"""

from __future__ import annotations

import os

from segments.store.snapshots import SnapshotDir


def preflight(data_dir: str | os.PathLike[str], *, fallback: bool, verify: bool) -> list[str]:
    """Lines for the operator (a new data dir, removed temp files, a fallback); raises
    :class:`~segments.store.base.StoreError` naming the file when nothing can serve."""
    snapdir = SnapshotDir(data_dir)
    notes = []
    if (created := snapdir.ensure()) is not None:
        notes.append(f"store: new data dir, published an empty snapshot {created}")
    notes += [f"store: removed {p}, left by a killed load" for p in snapdir.clean_stale_if_idle()]
    resolved = snapdir.resolve(fallback=fallback, full=verify)
    if resolved.problem is not None:
        notes.append(f"store: WARNING {resolved.problem}")
    else:
        notes.append(f"store: serving {resolved.path}")
    return notes
