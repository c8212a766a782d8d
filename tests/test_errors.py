"""The error tree drawn in ``server/errors.py``'s docstring is the tree the code has: every class
drawn exists under the parent drawn, and every exception of ours (a ``SegmentServerError``
subclass anywhere under ``server/``) is drawn."""

from __future__ import annotations

import importlib
import pkgutil
import re

import server
from server import errors
from server.errors import SegmentServerError

DRAWN = re.compile(r"^    (?P<indent>(?:│   |    )*)(?:[├└]── )?(?P<name>[A-Z]\w+)\s")


def drawn_tree() -> dict[str, str | None]:
    """Class name → the name of its parent in the drawing (``None`` for the root)."""
    doc = errors.__doc__ or ""
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    parents: dict[str, str | None] = {}
    path: list[str] = []
    for line in block.splitlines():
        match = DRAWN.match(line)
        if match is None:
            continue  # a continuation line of the text beside a class
        depth = len(match["indent"]) // 4 + (1 if line.lstrip(" │").startswith(("├", "└")) else 0)
        path = [*path[:depth], match["name"]]
        parents[match["name"]] = path[-2] if len(path) > 1 else None
    return parents


def code_tree() -> dict[str, str | None]:
    for module in pkgutil.walk_packages(server.__path__, "server."):
        if ".pb" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    parents: dict[str, str | None] = {SegmentServerError.__name__: None}
    todo = [SegmentServerError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            parents[sub.__name__] = cls.__name__
            todo.append(sub)
    return parents


def test_the_drawing_parses() -> None:
    drawn = drawn_tree()
    assert drawn["SegmentServerError"] is None and drawn["IdentityNotFound"] == "AuthError"


def test_the_drawn_tree_is_the_code_tree() -> None:
    assert drawn_tree() == code_tree()
