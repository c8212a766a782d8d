"""``segment-server identities …``: the ops team's identity operations from a shell.

Mounted by the main CLI with ``app.add_typer(server.auth.cli.app, name="identities")``. Talks to
the same :class:`IdentityService` as the admin API, directly on the auth database in
``--data-dir`` (safe while the server runs: SQLite WAL; workers see revocations within 1 s).
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

__all__ = ["app"]

app = typer.Typer(help="Identities and their access tokens.", no_args_is_help=True, add_completion=False)

DataDir = Annotated[
    Path,
    typer.Option("--data-dir", envvar="SEGMENT_SERVER_STORE__DATA_DIR", help="Directory holding auth.sqlite3."),
]
Scopes = Annotated[list[str] | None, typer.Option("--scope", "-s", help="rtd, segments or admin; repeatable.")]
IdentityId = Annotated[str, typer.Argument(help="Identity id (32 hex characters).")]


def _service(data_dir: Path) -> IdentityService:
    # Audit log lines go to stderr: stdout carries exactly one JSON document.
    return IdentityService(data_dir, logger=structlog.wrap_logger(structlog.PrintLogger(file=sys.stderr)))


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
    data_dir: DataDir = Path("data"),
) -> None:
    """Create an identity; prints it and its client secret (shown only now)."""
    try:
        identity, secret = _service(data_dir).create_identity(name, scope or [], with_secret=not no_secret)
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
    data_dir: DataDir = Path("data"),
) -> None:
    """Issue a token (default: every scope the identity has, 24 h)."""
    try:
        issued = _service(data_dir).get_token(identity_id, scope or None, expires_in)
    except AuthError as exc:
        raise _fail(exc) from None
    _emit(issued.to_json())


@app.command()
def revoke(identity_id: IdentityId, data_dir: DataDir = Path("data")) -> None:
    """Revoke every token issued so far to the identity."""
    try:
        not_before_ms = _service(data_dir).revoke_tokens(identity_id)
    except AuthError as exc:
        raise _fail(exc) from None
    _emit({"identity_id": identity_id, "tokens_valid_from": not_before_ms / 1000})


@app.command()
def delete(identity_id: IdentityId, data_dir: DataDir = Path("data")) -> None:
    """Delete the identity (its tokens stop working within ~1 s)."""
    try:
        _service(data_dir).delete_identity(identity_id)
    except AuthError as exc:
        raise _fail(exc) from None
    _emit({"deleted": identity_id})


@app.command("list")
def list_(data_dir: DataDir = Path("data")) -> None:
    """List identities (never secrets)."""
    _emit({"identities": [i.to_json() for i in _service(data_dir).list_identities()]})
