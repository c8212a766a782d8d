from server.artf.pb import openrtb_pb2 as _openrtb_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf.internal import python_message as _python_message
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Lifecycle(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIFECYCLE_UNSPECIFIED: _ClassVar[Lifecycle]
    LIFECYCLE_PUBLISHER_BID_REQUEST: _ClassVar[Lifecycle]
    LIFECYCLE_DSP_BID_RESPONSE: _ClassVar[Lifecycle]

class Operation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPERATION_UNSPECIFIED: _ClassVar[Operation]
    OPERATION_ADD: _ClassVar[Operation]
    OPERATION_REMOVE: _ClassVar[Operation]
    OPERATION_REPLACE: _ClassVar[Operation]

class Intent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTENT_UNSPECIFIED: _ClassVar[Intent]
    ACTIVATE_SEGMENTS: _ClassVar[Intent]
    ACTIVATE_DEALS: _ClassVar[Intent]
    SUPPRESS_DEALS: _ClassVar[Intent]
    ADJUST_DEAL_FLOOR: _ClassVar[Intent]
    ADJUST_DEAL_MARGIN: _ClassVar[Intent]
    BID_SHADE: _ClassVar[Intent]
    ADD_METRICS: _ClassVar[Intent]
    ADD_CIDS: _ClassVar[Intent]
    VALIDATE_PRIVACY: _ClassVar[Intent]
LIFECYCLE_UNSPECIFIED: Lifecycle
LIFECYCLE_PUBLISHER_BID_REQUEST: Lifecycle
LIFECYCLE_DSP_BID_RESPONSE: Lifecycle
OPERATION_UNSPECIFIED: Operation
OPERATION_ADD: Operation
OPERATION_REMOVE: Operation
OPERATION_REPLACE: Operation
INTENT_UNSPECIFIED: Intent
ACTIVATE_SEGMENTS: Intent
ACTIVATE_DEALS: Intent
SUPPRESS_DEALS: Intent
ADJUST_DEAL_FLOOR: Intent
ADJUST_DEAL_MARGIN: Intent
BID_SHADE: Intent
ADD_METRICS: Intent
ADD_CIDS: Intent
VALIDATE_PRIVACY: Intent

class RTBRequest(_message.Message):
    __slots__ = ("lifecycle", "id", "tmax", "bid_request", "applicable_intents", "ext")
    class Ext(_message.Message):
        __slots__ = ()
        Extensions: _python_message._ExtensionDict
        def __init__(self) -> None: ...
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TMAX_FIELD_NUMBER: _ClassVar[int]
    BID_REQUEST_FIELD_NUMBER: _ClassVar[int]
    APPLICABLE_INTENTS_FIELD_NUMBER: _ClassVar[int]
    EXT_FIELD_NUMBER: _ClassVar[int]
    lifecycle: Lifecycle
    id: str
    tmax: int
    bid_request: _openrtb_pb2.BidRequest
    applicable_intents: _containers.RepeatedScalarFieldContainer[Intent]
    ext: RTBRequest.Ext
    def __init__(self, lifecycle: _Optional[_Union[Lifecycle, str]] = ..., id: _Optional[str] = ..., tmax: _Optional[int] = ..., bid_request: _Optional[_Union[_openrtb_pb2.BidRequest, _Mapping]] = ..., applicable_intents: _Optional[_Iterable[_Union[Intent, str]]] = ..., ext: _Optional[_Union[RTBRequest.Ext, _Mapping]] = ...) -> None: ...

class RTBResponse(_message.Message):
    __slots__ = ("id", "mutations", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    MUTATIONS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    mutations: _containers.RepeatedCompositeFieldContainer[Mutation]
    metadata: Metadata
    def __init__(self, id: _Optional[str] = ..., mutations: _Optional[_Iterable[_Union[Mutation, _Mapping]]] = ..., metadata: _Optional[_Union[Metadata, _Mapping]] = ...) -> None: ...

class Mutation(_message.Message):
    __slots__ = ("intent", "op", "path", "ids")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    intent: Intent
    op: Operation
    path: str
    ids: IDsPayload
    def __init__(self, intent: _Optional[_Union[Intent, str]] = ..., op: _Optional[_Union[Operation, str]] = ..., path: _Optional[str] = ..., ids: _Optional[_Union[IDsPayload, _Mapping]] = ...) -> None: ...

class Metadata(_message.Message):
    __slots__ = ("api_version", "model_version")
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    api_version: str
    model_version: str
    def __init__(self, api_version: _Optional[str] = ..., model_version: _Optional[str] = ...) -> None: ...

class IDsPayload(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[_Iterable[str]] = ...) -> None: ...
