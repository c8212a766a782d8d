"""Progress on stderr for the long commands (``load``, ``demo``, the native build); silent when
stderr is not a terminal, so logs and CI output stay clean.

:func:`bar` shows done / total, rate and ETA when the total is known (a load: the input files'
size in bytes, whose rate and ETA hold for rows too; ``demo``: the users to generate);
:func:`stage` shows a spinner with elapsed time for work whose length is unknown.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

Update = Callable[..., None]  # update(completed=None, *, rows=None, description=None)


def enabled() -> bool:
    return sys.stderr.isatty()


@contextlib.contextmanager
def bar(description: str, total: int | None, *, unit: str = "rows", count_unit: str | None = None
        ) -> Iterator[Update]:
    """``update(completed, rows=n)``: ``completed`` in ``unit`` against ``total``; ``rows`` an
    extra count shown with its own rate (a load reports bytes for the ETA and rows for people)."""
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("ETA"),
               TimeRemainingColumn()]
    started = time.monotonic()
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=not enabled()) as progress:
        task = progress.add_task(description, total=total, counts="")

        def update(completed: int | None = None, *, rows: int | None = None,
                   description: str | None = None) -> None:
            shown = rows if rows is not None else completed
            counts = ""
            if shown is not None:
                rate = shown / max(time.monotonic() - started, 1e-6)
                counts = f"{shown:,} {count_unit or unit}, {rate:,.0f}/s"
            fields: dict[str, object] = {"counts": counts}
            if description is not None:
                fields["description"] = description
            progress.update(task, completed=completed, **fields)  # type: ignore[arg-type]

        yield update


@contextlib.contextmanager
def stage(description: str) -> Iterator[Callable[[str], None]]:
    """A spinner with elapsed time; ``next_stage("compiling C")`` changes its text."""
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=not enabled()) as progress:
        task = progress.add_task(description, total=None)
        yield lambda text: progress.update(task, description=text)
