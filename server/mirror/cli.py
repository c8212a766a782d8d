"""``segment-server mirror …``: run the sender, inspect the outbox, requeue, remove.

Mounted by the main CLI with ``app.add_typer(mirror_app, name="mirror")``; also runnable alone
as ``python -m server.mirror.cli run``. Settings are read as every command reads them
(:mod:`server.cli_settings`: config/default.toml ← ``SEGMENT_SERVER_CONFIG`` ← ``--config`` ←
``SEGMENT_SERVER_*``), then the options below; the outbox is the one the server writes, in
``[store] data_dir`` unless ``[mirror] data_dir`` says otherwise. The password is never printed:
``status`` shows only the username and when the last auth happened.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import orjson
import typer
from rich.console import Console
from rich.table import Table

from server.cli_settings import exit_unconfigured, load_or_exit
from server.cluster.settings import ClusterSettings
from server.config import Settings
from server.mirror.outbox import Outbox
from server.mirror.queue import make_sender
from server.mirror.settings import MirrorSettings
from server.mirror.types import SegBlock

if TYPE_CHECKING:  # redis-py is imported only with [cluster] on
    from server.cluster.stream import StreamOutbox

T = TypeVar("T")

app = typer.Typer(help="Mirror matched users to Xandr's Instant Audience Service.", no_args_is_help=True)
console = Console()

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Directory holding the outbox.")]
Config = Annotated[Path | None, typer.Option("--config", help="TOML layered over config/default.toml.")]


def _settings(config: Path | None, **options: object) -> MirrorSettings:
    """``[mirror]`` as the server reads it, with the options given on the command line."""
    return _all_settings(config, **options).mirror


def _all_settings(config: Path | None, **options: object) -> Settings:
    table = {k: str(v) if isinstance(v, Path) else v for k, v in options.items() if v is not None}
    return load_or_exit(config, mirror=table)


@app.command()
def run(data_dir: DataDir = None, config: Config = None,
        api_url: Annotated[str | None, typer.Option(help="Xandr API base URL (auth).")] = None,
        streaming_url: Annotated[str | None, typer.Option(help="Xandr streaming base URL.")] = None,
        username: Annotated[str | None, typer.Option(help="Xandr API user.")] = None,
        password_file: Annotated[Path | None, typer.Option(help="File holding the password.")] = None,
        member_id: Annotated[int | None, typer.Option(help="Our Xandr member id.")] = None,
        users_per_second: Annotated[float | None, typer.Option(help="≤ 1000 users/s.")] = None,
        posts_per_second: Annotated[float | None, typer.Option(help="≤ 100 POST/s.")] = None) -> None:
    """Run the sender in the foreground until SIGTERM/SIGINT (one active sender: a lease)."""
    everything = _all_settings(config, data_dir=data_dir, api_url=api_url, streaming_url=streaming_url,
                               username=username, password_file=password_file, member_id=member_id,
                               users_per_second=users_per_second, posts_per_second=posts_per_second)
    settings = everything.mirror
    missing = settings.missing_credentials("required by `segment-server mirror run`")
    if missing:
        exit_unconfigured([f"mirror.{problem}" for problem in missing])
    asyncio.run(_run(settings, everything.cluster if everything.cluster.enabled else None))


async def _run(settings: MirrorSettings, cluster: ClusterSettings | None) -> None:
    outbox = Outbox(settings.data_dir)
    engine = None
    if cluster is None:
        sender = make_sender(settings, outbox)
    else:  # the member's stream in the engine, shared by every node (the lease keeps one sender)
        from server.cluster.engine import connect
        from server.cluster.stream import StreamKeys, StreamOutbox
        from server.cluster.stream_forward import make_stream_sender

        engine = connect(cluster)
        sender = make_stream_sender(settings, StreamOutbox(engine, StreamKeys.of(cluster.key_prefix,
                                                                                 settings.member_id)), outbox)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, sender.stop)
    console.print(f"mirror sender {sender.holder} draining {outbox.path if engine is None else cluster}")
    try:
        await sender.run()
    finally:
        await sender.aclose()
        outbox.close()
        if engine is not None:
            await engine.aclose()


@app.command()
def status(data_dir: DataDir = None, config: Config = None,
           as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Outbox depth, oldest intent age, sent/s, dead letters by reason, last auth, reconciliation.

    With ``[cluster]`` on, also the shared stream as every node sees it (``cluster``): its length,
    entries pending per consumer, the lease holder, dead letters and duplicates; ``depth`` is then
    this node's intents not yet forwarded into the stream.
    """
    everything = _all_settings(config, data_dir=data_dir)
    settings = everything.mirror
    outbox = Outbox(settings.data_dir)
    stats = outbox.stats()
    outbox.close()
    last_auth = None if stats.last_auth is None else {
        "age_seconds": round(time.time() - stats.last_auth[0], 1), "result": stats.last_auth[1]}
    doc = {"outbox": str(settings.data_dir), "depth": stats.depth,
           "oldest_age_seconds": None if stats.oldest_age is None else round(stats.oldest_age, 1),
           "sent_per_second_5min": round(stats.sent_per_second, 2), "dead_letters": stats.dead_letters,
           "last_auth": last_auth, "username": settings.username or None, "sender": stats.lease_holder,
           "reconcile": orjson.loads(stats.last_reconcile) if stats.last_reconcile else None}
    if everything.cluster.enabled:
        doc["cluster"] = asyncio.run(_cluster_status(everything.cluster, settings))
    if as_json:
        typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table(title="Xandr mirror", show_header=False)
    for key, value in doc.items():
        table.add_row(key, orjson.dumps(value).decode() if isinstance(value, (dict, list)) else str(value))
    console.print(table)


@app.command("retry-dead-letters")
def retry_dead_letters(data_dir: DataDir = None, config: Config = None,
                       reason: Annotated[str | None, typer.Option(help="Only this reason.")] = None) -> None:
    """Move dead letters (all, or one reason) back into the outbox, after the cause is fixed.

    With ``[cluster]`` on, the dead letters are the engine's (any node's): back into the stream."""
    everything = _all_settings(config, data_dir=data_dir)
    settings = everything.mirror
    if everything.cluster.enabled:
        moved = asyncio.run(_on_stream(everything.cluster, settings, lambda s: s.retry_dead_letters(reason)))
        typer.echo(f"requeued {moved} intents")
        return
    outbox = Outbox(settings.data_dir)
    moved = outbox.retry_dead_letters(reason)
    outbox.close()
    typer.echo(f"requeued {moved} intents")


async def _cluster_status(cluster: ClusterSettings, settings: MirrorSettings) -> dict[str, object]:
    from server.cluster.engine import EngineError

    try:
        status = await _on_stream(cluster, settings, lambda s: s.status())
    except EngineError as exc:
        return {"error": f"engine unreachable: {exc or type(exc).__name__}"}
    return dataclasses.asdict(status)


async def _on_stream(cluster: ClusterSettings, settings: MirrorSettings,
                     call: Callable[[StreamOutbox], Awaitable[T]]) -> T:
    """One call on the member's stream, on a connection of its own."""
    from server.cluster.engine import connect
    from server.cluster.stream import StreamKeys, StreamOutbox

    engine = connect(cluster)
    try:
        return await call(StreamOutbox(engine, StreamKeys.of(cluster.key_prefix, settings.member_id)))
    finally:
        await engine.aclose()


@app.command()
def remove(user: Annotated[str, typer.Option("--user", help="User id.")],
           segment: Annotated[list[str], typer.Option("--segment", help="Our segment id (repeatable).")],
           domain: Annotated[str | None, typer.Option(
               "--domain", help="idfa/aaid/…; omit = Xandr id.")] = None,
           store_dir: Annotated[Path | None, typer.Option(
               help="Store data dir to map our segment ids to Xandr; without it --segment is a "
                    "Xandr seg_id.")] = None,
           data_dir: DataDir = None, config: Config = None) -> None:
    """Queue removal of a user from Xandr segments (``expiration: -1``)."""
    from server.mirror.limits import DOMAINS, EXPIRE_REMOVE
    from server.mirror.queue import block_for

    if domain not in DOMAINS or not user:
        console.print(f"[red]--domain must be one of {sorted(d for d in DOMAINS if d)} or omitted[/red]")
        raise typer.Exit(2)
    blocks: list[SegBlock] = []
    if store_dir is not None:
        from segments.store.sqlite import SQLiteStore

        taxonomy = SQLiteStore(store_dir).taxonomy
        for sid in segment:
            seg = taxonomy.get(sid)
            if seg is None or seg.xandr is None:
                console.print(f"[red]segment {sid!r}: not in the taxonomy or has no xandr mapping[/red]")
                raise typer.Exit(2)
            blocks.append(block_for(seg.xandr, remove=True))
    else:
        try:
            blocks = [SegBlock(seg_id=int(s), expiration=EXPIRE_REMOVE) for s in segment]
        except ValueError:
            console.print("[red]without --store-dir, --segment must be a numeric Xandr seg_id[/red]")
            raise typer.Exit(2) from None
    everything = _all_settings(config, data_dir=data_dir)
    outbox = Outbox(everything.mirror.data_dir)
    n = outbox.add_many([(user, domain, b) for b in blocks])
    where = "in the outbox"
    if everything.cluster.enabled:  # into the shared stream now; else a server on this data dir does it
        where = asyncio.run(_forward_now(everything.cluster, everything.mirror, outbox))
    outbox.close()
    typer.echo(f"queued {n} removals {where}")


async def _forward_now(cluster: ClusterSettings, settings: MirrorSettings, outbox: Outbox) -> str:
    from server.cluster.engine import EngineError
    from server.cluster.stream_forward import Forwarder

    async def forward(stream: StreamOutbox) -> int:
        return await Forwarder(outbox, stream, outbox.node_id(), settings.stream_max_len).forward_once()

    try:
        moved = await _on_stream(cluster, settings, forward)
    except EngineError as exc:
        return f"in this node's outbox (engine unreachable: {exc or type(exc).__name__}; forwarded later)"
    return f"({moved} outbox rows forwarded into the cluster's stream)"


if __name__ == "__main__":
    app()
