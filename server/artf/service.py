"""``RTBExtensionPoint/GetMutations``: auth → decode → budget → the shared chain → mutations.

Statuses (standard gRPC codes; Index's circuit breaker trips on any non-OK one, so a miss, a
store failure or a request with too little time left is OK with an empty mutation list):

=============================================  =====================  =========================
what                                           code                   HTTP ``/rtd`` equivalent
=============================================  =====================  =========================
no/invalid/expired/revoked bearer token         UNAUTHENTICATED        401
token without the ``rtd`` scope                 PERMISSION_DENIED      403
bytes that are not an ``RTBRequest``            INVALID_ARGUMENT       400 malformed JSON
no ``bid_request`` (an empty message included)  INVALID_ARGUMENT       400 not an object
message over ``[grpc] max_message_bytes``       RESOURCE_EXHAUSTED     413 (sent by gRPC core)
miss, store trouble, no time left               OK, no mutations       200 empty lists
none of our intents listed; DSP-response stage  OK, no mutations       (no HTTP equivalent)
=============================================  =====================  =========================

The handler takes and returns raw bytes (no serializer hooks): a decode failure in gRPC's own
deserializer would surface as INTERNAL, and the response is built straight to bytes.
"""

from __future__ import annotations

import time
from typing import Final

import grpc
from google.protobuf.message import DecodeError

from server.artf import convert
from server.artf.metrics import GRPC_LATENCY, GRPC_REQUESTS, GRPC_SKIPS
from server.artf.pb import agenticrtbframework_pb2 as artf
from server.artf.settings import GrpcSettings
from server.observability import hotpath
from server.rtd import RtdEndpoint

SERVICE: Final = "com.iabtechlab.bidstream.mutation.services.v1.RTBExtensionPoint"
METHOD: Final = "GetMutations"
PATH: Final = f"/{SERVICE}/{METHOD}"
SCOPE: Final = "rtd"  # the same scoped bearer tokens as POST /rtd

_CALLS: Final = hotpath.tally(GRPC_REQUESTS, prefix=(METHOD,))
_LATENCY: Final = hotpath.histogram(GRPC_LATENCY, METHOD)
_SKIPS: Final = hotpath.tally(GRPC_SKIPS)
OUR_INTENTS: Final = frozenset({artf.ACTIVATE_SEGMENTS, artf.ACTIVATE_DEALS})
# Segments and deals are activated on the bid request; at the DSP-response stage we have nothing to add.
SKIPPED_LIFECYCLES: Final = frozenset({artf.LIFECYCLE_DSP_BID_RESPONSE})
_AUTH_CODES: Final = {401: grpc.StatusCode.UNAUTHENTICATED, 403: grpc.StatusCode.PERMISSION_DENIED}


class Refusal(Exception):
    """The call gets ``code`` and ``details`` instead of an answer (bad input, auth)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class GetMutations:
    """The RPC behaviour, one per worker, around that worker's :class:`RtdEndpoint`."""

    def __init__(self, endpoint: RtdEndpoint, settings: GrpcSettings) -> None:
        self.endpoint = endpoint
        self.guard = endpoint.services.guard
        self.min_budget = settings.min_budget_ms / 1000.0
        self.api_version = settings.api_version
        self._version: int | None = None
        self._meta = artf.Metadata(api_version=self.api_version)

    async def get_mutations(self, raw: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        started = time.perf_counter()
        try:
            body = self.answer(raw, context)
        except Refusal as refusal:
            _CALLS.add(refusal.code.name)
            _LATENCY.observe(time.perf_counter() - started)
            await context.abort(refusal.code, refusal.details)
        except Exception:
            _CALLS.add(grpc.StatusCode.UNKNOWN.name)  # a bug: gRPC answers UNKNOWN, and we count it
            raise
        _CALLS.add("OK")
        _LATENCY.observe(time.perf_counter() - started)
        return body

    def answer(self, raw: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        authorization, gpc = _headers(context)
        if self.guard is not None:
            denial = self.guard.check(authorization, SCOPE)
            if denial is not None:
                code = _AUTH_CODES.get(denial.status, grpc.StatusCode.UNAUTHENTICATED)
                raise Refusal(code, getattr(denial, "description", "") or "not authorised")
        request = _decode(raw)
        bid_request = request.bid_request
        skip = self._skip(request, context)
        if skip is not None:
            _SKIPS.add(skip)
            return convert.response_bytes(request.id, None, (), (), self._metadata())
        answer = self.endpoint.run(convert.bid_request_doc(bid_request), gpc=gpc, endpoint="grpc")
        imps = convert.imp_ids(bid_request) if answer.deal_ids else []
        return convert.response_bytes(request.id, answer, request.applicable_intents, imps, self._metadata())

    def _skip(self, request: artf.RTBRequest, context: grpc.aio.ServicerContext[bytes, bytes]) -> str | None:
        """Why this call gets no mutations without a lookup, or ``None`` to answer it."""
        intents = request.applicable_intents
        if intents and OUR_INTENTS.isdisjoint(intents):
            return "no_intent"
        if request.lifecycle in SKIPPED_LIFECYCLES:
            return "lifecycle"
        budget, limit = _budget(request.tmax, context)
        return limit if budget < self.min_budget else None

    def _metadata(self) -> artf.Metadata:
        """``api_version`` from config; ``model_version`` is the store snapshot that answered
        (read after the lookup, which may have switched snapshots). Built once per version."""
        try:
            version = self.endpoint.services.store.info.version
        except Exception:  # noqa: BLE001 -- no snapshot yet: the answer is a miss, the version unknown
            version = None
        if version != self._version:
            self._version = version
            self._meta = artf.Metadata(api_version=self.api_version,
                                       model_version="" if version is None else str(version))
        return self._meta


def _headers(context: grpc.aio.ServicerContext[bytes, bytes]) -> tuple[str | None, bool]:
    """``authorization`` and ``sec-gpc`` from the call metadata (keys arrive lower-case)."""
    authorization: str | None = None
    gpc = False
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            authorization = value if isinstance(value, str) else value.decode("latin-1")
        elif key == "sec-gpc":
            gpc = value in ("1", b"1")
    return authorization, gpc


def _budget(tmax_ms: int, context: grpc.aio.ServicerContext[bytes, bytes]) -> tuple[float, str]:
    """Seconds left and what limits them: the caller's deadline or ``tmax`` (taken from now, as
    we cannot know when the exchange started its clock), whichever is less."""
    remaining = context.time_remaining()
    if tmax_ms > 0 and (remaining is None or tmax_ms / 1000.0 < remaining):
        return tmax_ms / 1000.0, "tmax"
    return (float("inf"), "none") if remaining is None else (remaining, "deadline")


def _decode(raw: bytes) -> artf.RTBRequest:
    if not raw:
        raise Refusal(grpc.StatusCode.INVALID_ARGUMENT, "empty RTBRequest: bid_request is required")
    try:
        request: artf.RTBRequest = artf.RTBRequest.FromString(raw)
    except DecodeError as exc:
        raise Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"malformed RTBRequest: {exc}") from None
    if not request.HasField("bid_request"):
        raise Refusal(grpc.StatusCode.INVALID_ARGUMENT, "RTBRequest.bid_request (field 4) is required")
    return request


def handler(endpoint: RtdEndpoint, settings: GrpcSettings) -> grpc.GenericRpcHandler:
    """The service's generic handler, bytes in and bytes out."""
    behaviour = GetMutations(endpoint, settings)
    handler = grpc.unary_unary_rpc_method_handler(behaviour.get_mutations)
    return grpc.method_handlers_generic_handler(SERVICE, {METHOD: handler})
