"""Find the optional collaborators (UID2 key refreshers, the mirror outbox) in :class:`Services`.

Read by duck typing, because these subsystems are optional and wired by the lead in
``server/wiring.py``: anything in ``services.extras`` with an ``ops_state()`` method is a key
refresher (one level of dict nesting allowed, e.g. ``extras["uid2"] = {"UID2": r, "EUID": r}``);
the outbox is ``services.mirror.outbox`` or an ``extras`` value with ``stats()`` and ``depth()``.

A refresher's label is the name it is registered under (``"UID2"``, not ``"uid2.UID2"``), and
never what its key set says once loaded: a label that changed on the first refresh left a second,
frozen ``segserver_uid2_keys`` series beside the live one.
Every accessor swallows errors: a status page must render while parts of the server are broken.
"""

from __future__ import annotations

from typing import Any


def _candidates(extras: Any) -> list[tuple[str, Any]]:
    """``(name, value)`` for every extra, one dict level down named by the inner key alone."""
    if not isinstance(extras, dict):
        return []
    out: list[tuple[str, Any]] = []
    for name, value in extras.items():
        if isinstance(value, dict):
            out.extend((str(k), v) for k, v in value.items())
        else:
            out.append((str(name), value))
    return out


def refreshers(services: Any) -> dict[str, Any]:
    """``{scope: refresher}``, the scope being the name wiring registered it under (stable)."""
    return {name: value for name, value in _candidates(getattr(services, "extras", None))
            if callable(getattr(value, "ops_state", None))}


def outbox(services: Any) -> Any | None:
    mirror = getattr(services, "mirror", None)
    if mirror is not None:
        try:
            box = mirror.outbox
        except Exception:  # noqa: BLE001 -- Mirror.outbox raises before start(); disabled mirrors
            box = None
        if box is not None and callable(getattr(box, "stats", None)):
            return box
    for _, value in _candidates(getattr(services, "extras", None)):
        if callable(getattr(value, "stats", None)) and callable(getattr(value, "depth", None)):
            return value
    return None
