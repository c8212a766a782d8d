"""``segment-server cluster publish|status``: hand this node's snapshot to every node; what is shared.

Imports redis-py only inside the commands: mounting them costs a single node nothing.

``publish`` needs ``[cluster] enabled`` and ``publish_dir``. It applies the live edits this data
dir has not applied yet, copies the verified snapshot into ``publish_dir`` and then moves the
engine's version key (see :mod:`server.cluster.publish`); every node installs it within a few
sync intervals. Output is one JSON object; exit 1 naming the problem, 2 when not configured.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from server.cli_settings import exit_unconfigured, load_or_exit
from server.cluster.settings import ClusterSettings
from server.sections import hint

app = typer.Typer(help="Scale-out: publish this node's snapshot to every node; shared state.",
                  no_args_is_help=True, add_completion=False)
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c",
                                                help="TOML layered over config/default.toml")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="override store.data_dir")]

def _cluster(config: Path | None, data_dir: Path | None) -> tuple[ClusterSettings, Path]:
    settings = load_or_exit(config, store={"data_dir": str(data_dir)} if data_dir else {})
    cluster = settings.cluster
    problems = []
    if not cluster.enabled:
        problems.append("cluster.enabled: publishing needs the cluster: "
                        f"{hint('cluster', 'enabled', 'true')}")
    if not cluster.publish_dir:
        problems.append(f"cluster.publish_dir: where every node reads published snapshots: "
                        f"{hint('cluster', 'publish_dir', '/shared/snapshots')}")
    if problems:
        exit_unconfigured(problems)
    return cluster, settings.data_dir


def _emit(obj: dict[str, Any]) -> None:
    typer.echo(orjson.dumps(obj).decode())


@app.command()
def publish(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Publish this data dir's snapshot (live edits applied first) for every node to install."""
    from segments.store import StoreError
    from server.cluster.engine import EngineError
    from server.cluster.publish import PublishProblem
    from server.cluster.publisher import publish_now

    cluster, root = _cluster(config, data_dir)
    started = time.perf_counter()
    try:
        pub, caught_up = publish_now(cluster, root)
    except (StoreError, PublishProblem, OSError) as exc:
        typer.echo(f"error: {exc}; nothing was published", err=True)
        raise typer.Exit(1) from None
    except EngineError as exc:
        typer.echo(f"error: cluster engine unreachable ({exc or type(exc).__name__}); nothing was announced",
                   err=True)
        raise typer.Exit(1) from None
    _emit({**orjson.loads(pub.to_json()), "edits_applied_first": caught_up,
           "path": str(cluster.publish_path / pub.name) if cluster.publish_path else None,
           "seconds": round(time.perf_counter() - started, 3)})


@app.command()
def status(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """The published version, this data dir's edit offset, stream length and the identity job."""
    from server.cluster.edits import START, after, current_offset
    from server.cluster.engine import EngineError, Keys
    from server.cluster.publisher import sync_client

    settings = load_or_exit(config, store={"data_dir": str(data_dir)} if data_dir else {})
    cluster = settings.cluster
    if not cluster.enabled:
        exit_unconfigured([f"cluster.enabled: {hint('cluster', 'enabled', 'true')}"])
    client, keys = sync_client(cluster), Keys(cluster.key_prefix)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.get(keys.published)
        pipe.xlen(keys.edits)
        pipe.xrevrange(keys.edits, "+", "-", count=1)
        pipe.hgetall(keys.identity_progress)
        published, length, last, progress = pipe.execute()
    except EngineError as exc:
        typer.echo(f"error: cluster engine unreachable ({exc or type(exc).__name__})", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
    offset = current_offset(settings.data_dir)
    last_id = str(last[0][0]) if last else START
    _emit({"published": orjson.loads(published) if published else None, "edits": {
        "stream_length": length, "last": last_id, "applied_here": offset,
        "behind": after(last_id, offset)}, "identity_job": progress or None})
