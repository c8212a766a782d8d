"""``/admin/memberships``: small live batches of membership upserts and deletions.

Rows use the loader's shape (``kind``, ``key``, ``segments``, ``expires``) and its normalisation
(:func:`segments.rows.membership_from_record`), so a key written here meets the same key seen in
a bid request. E-mail / phone rows are refused: they need the UID2 mapping the bulk loader does.
Segment ids must exist in the taxonomy. Upserts are one transaction; each deletion is its own.

With ``[cluster] enabled`` a batch is appended to the engine's edit stream and every node applies
it, in order (:mod:`server.cluster.edits`); this node applies it before answering. An engine that
cannot take it gets 503 ``cluster_unavailable``: never an edit on this node alone.
"""

from __future__ import annotations

from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from segments import keys as K
from segments.rows import DiiMembership, Membership, RowError, membership_from_record
from segments.store import StoreWriter
from server.admin.common import MAX_BATCH, BatchError, StoreGetter, endpoint
from server.auth.errors import InvalidRequest
from server.auth.guard import Guard
from server.auth.jsonio import json_object, json_response
from server.cluster.edits import Op, membership_ops
from server.cluster.errors import ClusterUnavailable


class SharedEdits(Protocol):
    """``server.cluster.datasync.DataSync``: appends an edit for every node, then applies it here."""

    async def edit(self, ops: list[Op]) -> dict[str, Any]: ...


def _shared_edits(request: Request) -> tuple[bool, SharedEdits | None]:
    """(``[cluster]`` on?, this worker's data sync once started). Looked up per admin request only."""
    services = getattr(request.app.state, "services", None)
    settings = getattr(services, "settings", None)
    if settings is None or not settings.cluster.enabled:
        return False, None
    node = services.extras.get("cluster") if services is not None else None
    return True, getattr(node, "data", None)


def _normalise_key(item: dict[str, Any]) -> str:
    kind, value = item.get("kind"), item.get("key")
    if not isinstance(kind, str) or not isinstance(value, str) or not value.strip():
        raise RowError("kind and key are required strings")
    kind = kind.strip().lower()
    try:
        return K.make(kind, K.normalise(kind, value))
    except K.InvalidKey as exc:
        raise RowError(str(exc)) from None


Deletions = list[tuple[str, list[str] | None]]


def parse_batch(data: dict[str, Any], known_segments: set[str]) -> tuple[list[Membership], Deletions]:
    """Validate ``{"upsert": [...], "delete": [...]}`` whole; raise :class:`BatchError` per bad item."""
    upserts_raw, deletes_raw = data.get("upsert", []), data.get("delete", [])
    if not isinstance(upserts_raw, list) or not isinstance(deletes_raw, list):
        raise InvalidRequest("upsert and delete must be lists")
    if not upserts_raw and not deletes_raw:
        raise InvalidRequest("nothing to do: give upsert and/or delete")
    if len(upserts_raw) + len(deletes_raw) > MAX_BATCH:
        raise InvalidRequest(f"at most {MAX_BATCH} items per request; use `segment-server load` for bulk")
    errors: list[dict[str, object]] = []
    upserts: list[Membership] = []
    for index, item in enumerate(upserts_raw):
        try:
            if not isinstance(item, dict):
                raise RowError("each item must be an object")
            row = membership_from_record(item)
            if isinstance(row, DiiMembership):
                raise RowError("email/phone rows need UID2 mapping: load them with `segment-server load`")
            unknown = [s for s in row.segments if s not in known_segments]
            if unknown:
                raise RowError(f"unknown segment id(s) {unknown}; add them to /admin/taxonomy first")
            upserts.append(row)
        except RowError as exc:
            errors.append({"list": "upsert", "index": index, "detail": str(exc)})
    deletes: Deletions = []
    for index, item in enumerate(deletes_raw):
        try:
            if not isinstance(item, dict):
                raise RowError("each item must be an object")
            segments = item.get("segments")
            if segments is not None and (
                not isinstance(segments, list) or not all(isinstance(s, str) for s in segments)
            ):
                raise RowError("segments must be a list of ids "
                               "(omit it to delete every membership of the key)")
            deletes.append((_normalise_key(item), segments))
        except RowError as exc:
            errors.append({"list": "delete", "index": index, "detail": str(exc)})
    if errors:
        raise BatchError(errors)
    return upserts, deletes


def membership_routes(writer: StoreWriter, get_store: StoreGetter, guard: Guard) -> list[Route]:
    async def change_memberships(request: Request) -> Response:
        """Apply ``{"upsert": [{"kind","key","segments","expires"}],
        "delete": [{"kind","key","segments"?}]}``."""
        data = await json_object(request)
        store = get_store()
        store.reload()  # on the event loop: the store's connection is used there
        upserts, deletes = parse_batch(data, set(store.taxonomy.segments))
        clustered, shared = _shared_edits(request)
        if clustered:  # every node applies it, in order, or nobody does (503)
            ops = membership_ops(((m.key, dict.fromkeys(m.segments, m.expires)) for m in upserts), deletes)
            if shared is None:
                raise ClusterUnavailable("the cluster link of this worker is starting: nothing was changed")
            return json_response(await shared.edit(ops))  # ClusterUnavailable → 503 (exception table)

        def apply() -> dict[str, Any]:
            upserted = writer.upsert_memberships(
                (m.key, dict.fromkeys(m.segments, m.expires)) for m in upserts
            ) if upserts else 0
            deleted = writer.delete_memberships_many(deletes) if deletes else {}
            return {"upserted": upserted, "deleted": deleted}

        return json_response(await run_in_threadpool(apply))

    async def get_memberships(request: Request) -> Response:
        """One key's memberships: ``?kind=domain&key=example.com`` → ``{segment_id: expires|null}``."""
        key = _normalise_key(dict(request.query_params))
        segments = await run_in_threadpool(writer.get_memberships, key)
        return json_response({"key": key, "segments": segments})

    return [
        Route("/admin/memberships", endpoint(guard, change_memberships), methods=["POST"],
              name="admin_memberships_change"),
        Route("/admin/memberships", endpoint(guard, get_memberships), methods=["GET"],
              name="admin_memberships_get"),
    ]
