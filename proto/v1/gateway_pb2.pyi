from kiln.proto.v1 import deployments_pb2 as _deployments_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReplicaRoute(_message.Message):
    __slots__ = ("run_id", "node", "address")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    node: str
    address: str
    def __init__(self, run_id: _Optional[str] = ..., node: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class VersionRoute(_message.Message):
    __slots__ = ("version", "weight", "shadow", "replicas")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    version: int
    weight: int
    shadow: bool
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaRoute]
    def __init__(self, version: _Optional[int] = ..., weight: _Optional[int] = ..., shadow: _Optional[bool] = ..., replicas: _Optional[_Iterable[_Union[ReplicaRoute, _Mapping]]] = ...) -> None: ...

class EndpointRoute(_message.Message):
    __slots__ = ("project", "name", "model", "versions", "sticky_header", "sample_rate")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    STICKY_HEADER_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    model: str
    versions: _containers.RepeatedCompositeFieldContainer[VersionRoute]
    sticky_header: str
    sample_rate: float
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., model: _Optional[str] = ..., versions: _Optional[_Iterable[_Union[VersionRoute, _Mapping]]] = ..., sticky_header: _Optional[str] = ..., sample_rate: _Optional[float] = ...) -> None: ...

class RoutesRequest(_message.Message):
    __slots__ = ("generation",)
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    generation: int
    def __init__(self, generation: _Optional[int] = ...) -> None: ...

class RoutesReply(_message.Message):
    __slots__ = ("changed", "generation", "endpoints")
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    changed: bool
    generation: int
    endpoints: _containers.RepeatedCompositeFieldContainer[EndpointRoute]
    def __init__(self, changed: _Optional[bool] = ..., generation: _Optional[int] = ..., endpoints: _Optional[_Iterable[_Union[EndpointRoute, _Mapping]]] = ...) -> None: ...

class AuthorizeRequest(_message.Message):
    __slots__ = ("token", "endpoint")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    token: str
    endpoint: str
    def __init__(self, token: _Optional[str] = ..., endpoint: _Optional[str] = ...) -> None: ...

class AuthorizeReply(_message.Message):
    __slots__ = ("allowed", "caller", "status", "message")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    caller: str
    status: int
    message: str
    def __init__(self, allowed: _Optional[bool] = ..., caller: _Optional[str] = ..., status: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class RecordPredictionsRequest(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[_deployments_pb2.PredictionRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[_deployments_pb2.PredictionRecord, _Mapping]]] = ...) -> None: ...

class RecordPredictionsReply(_message.Message):
    __slots__ = ("added",)
    ADDED_FIELD_NUMBER: _ClassVar[int]
    added: int
    def __init__(self, added: _Optional[int] = ...) -> None: ...

class GatewayFeedbackRequest(_message.Message):
    __slots__ = ("endpoint", "caller_token", "labels")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    CALLER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    caller_token: str
    labels: _containers.RepeatedCompositeFieldContainer[_deployments_pb2.Label]
    def __init__(self, endpoint: _Optional[str] = ..., caller_token: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[_deployments_pb2.Label, _Mapping]]] = ...) -> None: ...
