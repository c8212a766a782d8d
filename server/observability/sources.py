"""Find the optional collaborators (UID2 key refreshers, the mirror outbox) in :class:`Services`.

Read by duck typing, because these subsystems are optional and wired by the lead in
``server/wiring.py``: anything in ``services.extras`` with an ``ops_state()`` method is a key
refresher (one level of dict nesting allowed, e.g. ``extras["uid2"] = {"UID2": r, "EUID": r}``);
the outbox is ``services.mirror.outbox`` or an ``extras`` value with ``stats()`` and ``depth()``.
Every accessor swallows errors: a status page must render while parts of the server are broken.
"""

from __future__ import annotations

from typing import Any


def _candidates(extras: Any) -> list[tuple[str, Any]]:
    if not isinstance(extras, dict):
        return []
    out: list[tuple[str, Any]] = []
    for name, value in extras.items():
        if isinstance(value, dict):
            out.extend((f"{name}.{k}", v) for k, v in value.items())
        else:
            out.append((str(name), value))
    return out


def refreshers(services: Any) -> dict[str, Any]:
    """``{label: refresher}``; the label is the key set's identity scope when it has loaded."""
    found: dict[str, Any] = {}
    for name, value in _candidates(getattr(services, "extras", None)):
        if callable(getattr(value, "ops_state", None)):
            snapshot = getattr(value, "snapshot", None)
            scope = getattr(getattr(snapshot, "identity_scope", None), "name", None)
            found[str(scope or name)] = value
    return found


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
