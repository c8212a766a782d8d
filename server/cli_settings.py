"""How every command reads its settings: the one loader, errors on stderr, exit status 2.

``serve``, ``worker``, ``load``, ``stats``, ``mirror …``, ``uid2 …`` and ``identities …`` all
call :func:`load_or_exit`, so each reads ``config/default.toml`` ← ``SEGMENT_SERVER_CONFIG`` ←
``--config`` ← ``SEGMENT_SERVER_*`` the same way, and writes under the same ``[store] data_dir``.
A command that needs something the configuration lacks (credentials, a switch) says what to set
and how with :func:`exit_unconfigured`, one ``section.key: why: set … or ENV_VAR`` line each.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import typer

from server.config import Settings, load_settings
from server.errors import SettingsError

__all__ = ["exit_unconfigured", "load_or_exit"]


def load_or_exit(config: Path | None, **overrides: Mapping[str, object]) -> Settings:
    """The deployment's settings, with per-command ``overrides`` (empty tables are ignored)."""
    try:
        return load_settings(config, overrides={k: v for k, v in overrides.items() if v})
    except SettingsError as exc:
        exit_unconfigured(exc.errors)


def exit_unconfigured(problems: list[str]) -> NoReturn:
    """Print ``problems`` as the loader does and exit 2 (a usage / configuration error)."""
    typer.echo(str(SettingsError(problems)), err=True)
    raise typer.Exit(2)
