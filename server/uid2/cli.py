"""``segment-server uid2 ...``: decrypt and encrypt tokens offline, and fetch keys from the operator.

Mounted by the main CLI with ``app.add_typer(server.uid2.cli.app, name="uid2")``. Output is one
JSON object per line so it pipes into ``jq``. The client secret is read from the environment or a
file, never from the command line (it would land in shell history), and is never printed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from server.cli_settings import exit_unconfigured, load_or_exit
from server.errors import SettingsError
from server.sections import hint

from .decrypt import DecryptionResult, decrypt_token
from .encrypt import encrypt_raw_uid
from .keys import KeyParseError, KeySet, parse_key_response
from .operator import OperatorClient, OperatorError
from .settings import UID2Settings, secret_hint
from .status import DecryptionStatus, EncryptionStatus
from .types import ClientType

__all__ = ["app"]

app = typer.Typer(help="UID2 tokens and keys.", no_args_is_help=True, add_completion=False)

KeysOption = Annotated[
    Path,
    typer.Option("--keys", help="Decrypted key response JSON, or its body.", exists=True, dir_okay=False),
]
NowOption = Annotated[str | None, typer.Option("--now", help="ISO 8601 instant; default: the wall clock.")]


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return (
        dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _now(text: str | None) -> float:
    if text is None:
        return time.time()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 instant: {text!r}", param_hint="--now") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def _load_keys(path: Path) -> KeySet:
    try:
        return parse_key_response(orjson.loads(path.read_bytes()))
    except (orjson.JSONDecodeError, KeyParseError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--keys") from None


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(obj).decode() + "\n")


def result_json(result: DecryptionResult) -> dict[str, Any]:
    return {
        "status": result.status.name,
        "uid": result.uid,
        "version": result.version,
        "site_id": result.site_id,
        "established": _iso(result.established),
        "expires": _iso(result.expires),
        "identity_scope": None if result.identity_scope is None else result.identity_scope.name,
    }


@app.command()
def decrypt(
    tokens: Annotated[list[str], typer.Argument(help="Advertising tokens (v2, v3, v4).")],
    keys: KeysOption,
    now: NowOption = None,
    domain: Annotated[str | None, typer.Option("--domain", help="Registrable domain or app name.")] = None,
    client_type: Annotated[ClientType, typer.Option("--client-type")] = ClientType.BIDSTREAM,
) -> None:
    """Decrypt tokens; one JSON object per token. Exit status 1 if any token is not SUCCESS."""
    key_set, instant = _load_keys(keys), _now(now)
    failed = False
    for token in tokens:
        result = decrypt_token(
            token, key_set, now=instant, client_type=client_type, domain_or_app_name=domain
        )
        failed |= result.status is not DecryptionStatus.SUCCESS
        _emit(result_json(result))
    raise typer.Exit(1 if failed else 0)


@app.command()
def encrypt(
    raw_uid: Annotated[str, typer.Argument(help="Raw UID2 (base64).")],
    keys: KeysOption,
    now: NowOption = None,
    keyset_id: Annotated[int | None, typer.Option("--keyset-id", help="Default: default_keyset_id.")] = None,
) -> None:
    """Encrypt a raw UID2 into a v4 sharing token with a /v2/key/sharing key set."""
    result = encrypt_raw_uid(raw_uid, _load_keys(keys), now=_now(now), keyset_id=keyset_id)
    _emit({"status": result.status.name, "token": result.token})
    raise typer.Exit(0 if result.status is EncryptionStatus.SUCCESS else 1)


@app.command()
def keys(
    base_url: Annotated[str | None, typer.Option(help="Operator URL (default: [uid2] base_url).")] = None,
    client_type: Annotated[ClientType | None, typer.Option("--client-type")] = None,
    save: Annotated[Path | None, typer.Option(help="Also write the decrypted response (mode 0600).")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c",
                                                help="TOML over config/default.toml")] = None,
) -> None:
    """Fetch keys from the operator now and print the key-set summary (never a secret).

    Credentials: ``[uid2]`` api_key and secret (or secret_file), usually given as UID2_API_KEY and
    UID2_SECRET / UID2_SECRET_FILE in the environment; ``[uid2] enabled`` need not be set.
    """
    uid2 = load_or_exit(config).uid2
    settings = dataclasses.replace(uid2, base_url=base_url or uid2.base_url,
                                   client_type=client_type or uid2.client_type)
    why = "required by `segment-server uid2 keys`"
    missing = [] if settings.api_key else [f"uid2.api_key: {why}: {hint('uid2', 'api_key')}"]
    if not (settings.secret or settings.secret_file):
        missing.append(f"uid2.secret: {why}: {secret_hint('uid2')}")
    if missing:
        exit_unconfigured(missing)
    try:
        secret = settings.load_secret()
    except SettingsError as exc:
        exit_unconfigured(exc.errors)
    try:
        document = asyncio.run(_fetch(settings, secret))
        key_set = parse_key_response(document)
    except (OperatorError, KeyParseError) as exc:
        typer.echo(f"key refresh failed: {exc}", err=True)
        raise typer.Exit(2) from None
    if save is not None:
        fd = os.open(save, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    _emit(key_set.summary())


async def _fetch(settings: UID2Settings, secret: bytes) -> Any:
    async with OperatorClient(
        settings.base_url,
        settings.api_key,
        secret,
        timeout=settings.timeout,
        total_timeout=settings.total_timeout_seconds,
    ) as client:
        return await client.post_enveloped(settings.client_type.key_path)
