"""``segment-server identities …``: the ops team's identity operations from a shell.

Mounted by the main CLI with ``app.add_typer(server.auth.cli.app, name="identities")``. Talks to
the same :class:`IdentityService` as the admin API, directly on the auth database in the data dir
(``--data-dir``, else ``[store] data_dir`` from the usual config layers, ``--config`` included),
with the deployment's ``[auth]`` settings. Safe while the server runs (SQLite WAL); workers see
revocations within 1 s.
Output is one JSON object on stdout. ``create`` prints the client secret and ``token`` the token
— that is the only time either is shown; nothing is logged.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import structlog
import typer

from server.auth.errors import AuthError, IdentityNotFound
from server.auth.service import IdentityService
from server.auth.settings import AuthSettings
from server.config import ConfigError, load_settings

__all__ = ["app"]

app = typer.Typer(help="Identities and their access tokens.", no_args_is_help=True, add_completion=False)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Directory holding auth.sqlite3 (default: [store] data_dir)."),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML file layered over config/default.toml")
]
Scopes = Annotated[list[str] | None, typer.Option("--scope", "-s",
                                                  help="rtd, segments or admin; repeatable.")]
IdentityId = Annotated[str, typer.Argument(help="Identity id (32 hex characters).")]


def _service(data_dir: Path | None, config: Path | None) -> IdentityService:
    """The service with the deployment's ``[auth]`` settings (scrypt cost, default lifetime, key
    rotation) and data dir, so the CLI behaves exactly like the running server."""
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        sys.stderr.write(str(exc) + "\n")
        raise typer.Exit(2) from None
    auth = settings.sections.get("auth")
    # Audit log lines go to stderr: stdout carries exactly one JSON document.
    return IdentityService(
        data_dir or settings.data_dir,
        auth if isinstance(auth, AuthSettings) else AuthSettings(),
        logger=structlog.wrap_logger(structlog.PrintLogger(file=sys.stderr)),
    )


def _emit(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _fail(exc: AuthError) -> typer.Exit:
    code = "not_found" if isinstance(exc, IdentityNotFound) else type(exc).__name__
    detail = f"identity {exc} not found" if isinstance(exc, IdentityNotFound) else str(exc)
    sys.stderr.write(orjson.dumps({"error": code, "detail": detail}).decode() + "\n")
    return typer.Exit(2 if isinstance(exc, IdentityNotFound) else 1)


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    scope: Scopes = None,
    no_secret: Annotated[bool, typer.Option("--no-secret", help="No OAuth client secret.")] = False,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Create an identity; prints it and its client secret (shown only now)."""
    try:
        identity, secret = _service(data_dir, config).create_identity(name, scope or [],
                                                                      with_secret=not no_secret)
    except AuthError as exc:
        raise _fail(exc) from None
    _emit({"identity": identity.to_json(), "client_secret": secret})


@app.command()
def token(
    identity_id: IdentityId,
    scope: Scopes = None,
    expires_in: Annotated[
        int | None, typer.Option("--expires-in", help="Seconds, 3600–86400 (default 86400).")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Issue a token (default: every scope the identity has, 24 h)."""
    try:
        issued = _service(data_dir, config).get_token(identity_id, scope or None, expires_in)
    except AuthError as exc:
        raise _fail(exc) from None
    _emit(issued.to_json())


@app.command()
def revoke(identity_id: IdentityId, data_dir: DataDir = None, config: ConfigOpt = None) -> None:
    """Revoke every token issued so far to the identity."""
    try:
        not_before_ms = _service(data_dir, config).revoke_tokens(identity_id)
    except AuthError as exc:
        raise _fail(exc) from None
    _emit({"identity_id": identity_id, "tokens_valid_from": not_before_ms / 1000})


@app.command()
def delete(identity_id: IdentityId, data_dir: DataDir = None, config: ConfigOpt = None) -> None:
    """Delete the identity (its tokens stop working within ~1 s)."""
    try:
        _service(data_dir, config).delete_identity(identity_id)
    except AuthError as exc:
        raise _fail(exc) from None
    _emit({"deleted": identity_id})


@app.command("list")
def list_(data_dir: DataDir = None, config: ConfigOpt = None) -> None:
    """List identities (never secrets)."""
    try:
        identities = _service(data_dir, config).list_identities()
    except AuthError as exc:
        raise _fail(exc) from None
    _emit({"identities": [i.to_json() for i in identities]})
