"""``make reliability``: the figures an ops team asks for, each from the real server process (issue 22).

One module per check; each exposes ``run(quick: bool) -> CheckResult``. ``python -m
loadtest.reliability`` runs them all (``--quick``: a CI-sized smoke), prints a table and writes
``loadtest/results/reliability.json``. :data:`CHECKS` is the order they run in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadtest.reliability.harness import CheckResult

CHECK_MODULES = ("check_schema", "check_fuzz", "check_abuse", "check_damage", "check_uid2", "check_xandr",
                 "check_load_kill", "check_docker")


def _lazy(module: str) -> Callable[[bool], CheckResult]:
    def run(quick: bool) -> CheckResult:
        from importlib import import_module

        result: CheckResult = import_module(f"loadtest.reliability.{module}").run(quick)
        return result

    return run


CHECKS: dict[str, Callable[[bool], CheckResult]] = {m.removeprefix("check_"): _lazy(m) for m in CHECK_MODULES}
