"""``/admin/taxonomy``: list, upsert and delete segments with their deal ids and Xandr mappings.

Upserts accept our row shape or Index's (``externalSegmentID`` / ``externalSegmentName``), as
the loader does (:func:`segments.taxonomy.segment_from_row`). A batch is validated whole and
written in one transaction, or refused whole with every bad item named by index.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from segments.store import StoreWriter
from segments.taxonomy import InvalidSegment, Segment, segment_from_row
from server.admin.common import MAX_BATCH, BatchError, StoreGetter, endpoint
from server.auth.errors import InvalidRequest
from server.auth.guard import Guard
from server.auth.jsonio import error_response, json_object, json_response


def parse_segments(data: dict[str, Any]) -> list[Segment]:
    """Validate ``{"segments": [...]}``; raise :class:`BatchError` naming every bad item."""
    items = data.get("segments")
    if not isinstance(items, list) or not items:
        raise InvalidRequest("segments must be a non-empty list")
    if len(items) > MAX_BATCH:
        raise InvalidRequest(f"at most {MAX_BATCH} segments per request; use `segment-server load` for bulk")
    segments: list[Segment] = []
    errors: list[dict[str, object]] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise InvalidSegment("each segment must be an object")
            segments.append(segment_from_row(item))
        except InvalidSegment as exc:
            errors.append({"index": index, "detail": str(exc)})
    if errors:
        raise BatchError(errors)
    return segments


def taxonomy_routes(writer: StoreWriter, get_store: StoreGetter, guard: Guard) -> list[Route]:
    async def list_segments(request: Request) -> Response:
        """Every segment of the serving snapshot (this worker's view, ≤ the store check interval old)."""
        store = get_store()
        store.reload()  # on the event loop: the store's connection is used there
        segments = sorted(store.taxonomy.segments.values(), key=lambda s: s.id)
        return json_response({"version": store.info.version, "segments": [s.as_dict() for s in segments]})

    async def upsert_segments(request: Request) -> Response:
        """Insert or replace segments:
        ``{"segments": [{"id", "name", "ttl_seconds", "deal_ids", "xandr"}]}``."""
        segments = parse_segments(await json_object(request))
        count = await run_in_threadpool(writer.upsert_segments, segments)
        return json_response({"upserted": count, "ids": [s.id for s in segments]})

    async def delete_segment(request: Request) -> Response:
        """Delete one segment from the taxonomy."""
        segment_id = request.path_params["segment_id"]
        if not await run_in_threadpool(writer.delete_segment, segment_id):
            return error_response(404, "not_found", f"segment {segment_id!r} not found")
        return Response(status_code=204)

    return [
        Route("/admin/taxonomy", endpoint(guard, list_segments), methods=["GET"], name="admin_taxonomy_list"),
        Route("/admin/taxonomy", endpoint(guard, upsert_segments), methods=["POST", "PUT"],
              name="admin_taxonomy_upsert"),
        Route("/admin/taxonomy/{segment_id:path}", endpoint(guard, delete_segment), methods=["DELETE"],
              name="admin_taxonomy_delete"),
    ]
