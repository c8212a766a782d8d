"""ARTF protobuf ⇄ the shared chain: a bid request in, an :class:`~server.lookup.Answer` out.

In: the protobuf ``BidRequest`` becomes the dict :func:`server.openrtb.parse_request` reads for
HTTP, so both protocols share one parser with one set of rules (2.6 vs 2.5 locations, limits,
normalisation). Our schema holds only fields the chain reads (``proto/openrtb.proto``), so the
conversion is a generic walk over the fields *present* (explicit presence under
``edition = "2023"``): absent stays absent, an explicit ``gdpr = false`` stays ``0``.

Out: segment ids become one ``ACTIVATE_SEGMENTS`` mutation on ``/user/data/segment``; deal ids an
``ACTIVATE_DEALS`` mutation per impression on ``/imp/{id}``, the only eligible path in ARTF's
activate-deals doc (a request without imp ids gets no deal mutation: there is nowhere to put it).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Final

from server.artf.pb import agenticrtbframework_pb2 as artf
from server.artf.pb import openrtb_pb2 as openrtb
from server.lookup import Answer

SEGMENTS_PATH: Final = "/user/data/segment"  # ARTF docs/intents/activate-segments.md
MAX_DEAL_IMPS: Final = 64  # ACTIVATE_DEALS mutations per answer, one per imp id
ACTIVATE_SEGMENTS: Final = artf.ACTIVATE_SEGMENTS
ACTIVATE_DEALS: Final = artf.ACTIVATE_DEALS


def bid_request_doc(request: openrtb.BidRequest) -> dict[str, Any]:
    """The OpenRTB JSON-shaped dict of the fields set in ``request`` (same names as the JSON).

    ``imp`` is left out: the parser does not read it (:func:`imp_ids` does, for deal paths).
    """
    return _walk(request, _BID_REQUEST)


# A plan per message type, worked out once from the descriptors: (field name, kind, sub-plan).
# Walking it with HasField/getattr costs ~5 µs for Index's samples; ``ListFields`` builds descriptor
# objects per call and cost ~25 µs (upb backend, measured).
_SCALAR, _FLAG, _MESSAGE, _SCALARS, _MESSAGES = range(5)
Plan = tuple[tuple[str, int, "Plan"], ...]


def _plan(descriptor: Any) -> Plan:
    fields: list[tuple[str, int, Plan]] = []
    for field in descriptor.fields:
        if field.message_type is not None:
            sub = _plan(field.message_type)
            fields.append((field.name, _MESSAGES if field.is_repeated else _MESSAGE, sub))
        elif field.is_repeated:
            fields.append((field.name, _SCALARS, ()))
        else:
            flag = field.type == field.TYPE_BOOL  # OpenRTB's JSON flags are 0/1 integers (coppa, gdpr, lmt)
            fields.append((field.name, _FLAG if flag else _SCALAR, ()))
    return tuple(fields)


def _walk(message: Any, plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, kind, sub in plan:
        if kind >= _SCALARS:
            values = getattr(message, name)
            if values:
                out[name] = list(values) if kind == _SCALARS else [_walk(v, sub) for v in values]
        elif message.HasField(name):  # explicit presence (edition 2023): absent stays absent
            value = getattr(message, name)
            out[name] = _walk(value, sub) if kind == _MESSAGE else int(value) if kind == _FLAG else value
    return out


_BID_REQUEST: Final = tuple(f for f in _plan(openrtb.BidRequest.DESCRIPTOR) if f[0] != "imp")


def bid_request_from_json(doc: dict[str, Any]) -> openrtb.BidRequest:
    """The other way, for tools and tests: an OpenRTB JSON bid request as our protobuf message.

    JSON's 0/1 flags become bools; names outside our subset are dropped (``ext`` locations
    included where declared: ``user.ext.eids``, ``regs.ext.gdpr``…). Not used when serving.
    """
    from google.protobuf import json_format

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: bool(v) if k in _FLAGS and v.__class__ is int else fix(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    message: openrtb.BidRequest = json_format.ParseDict(fix(doc), openrtb.BidRequest(),
                                                        ignore_unknown_fields=True)
    return message


_FLAGS: Final = frozenset({"coppa", "gdpr", "lmt"})


def imp_ids(request: openrtb.BidRequest) -> list[str]:
    """Distinct non-empty imp ids, in request order, at most :data:`MAX_DEAL_IMPS`."""
    ids = dict.fromkeys(imp.id for imp in request.imp[:MAX_DEAL_IMPS] if imp.id)
    return list(ids)


def response_bytes(request_id: str, answer: Answer | None, intents: Collection[int], imps: Sequence[str],
                   metadata: artf.Metadata) -> bytes:
    """The serialised ``RTBResponse``; ``intents`` empty means every intent may be sent."""
    response = artf.RTBResponse(id=request_id, metadata=metadata)
    if answer is not None:
        if answer.segment_ids and (not intents or ACTIVATE_SEGMENTS in intents):
            response.mutations.add(intent=ACTIVATE_SEGMENTS, op=artf.OPERATION_ADD, path=SEGMENTS_PATH,
                                   ids=artf.IDsPayload(id=answer.segment_ids))
        if answer.deal_ids and (not intents or ACTIVATE_DEALS in intents):
            for imp in imps:
                response.mutations.add(intent=ACTIVATE_DEALS, op=artf.OPERATION_ADD, path=f"/imp/{imp}",
                                       ids=artf.IDsPayload(id=answer.deal_ids))
    data: bytes = response.SerializeToString()
    return data
