from kiln.proto.v1 import runs_pb2 as _runs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Split(_message.Message):
    __slots__ = ("version", "weight", "shadow")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    version: int
    weight: int
    shadow: bool
    def __init__(self, version: _Optional[int] = ..., weight: _Optional[int] = ..., shadow: _Optional[bool] = ...) -> None: ...

class CreateDeploymentRequest(_message.Message):
    __slots__ = ("project", "name", "model", "version", "alias", "replicas", "resources", "environment", "sticky_header", "sample_rate")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    STICKY_HEADER_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    model: str
    version: int
    alias: str
    replicas: int
    resources: _runs_pb2.Resources
    environment: str
    sticky_header: str
    sample_rate: float
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ..., replicas: _Optional[int] = ..., resources: _Optional[_Union[_runs_pb2.Resources, _Mapping]] = ..., environment: _Optional[str] = ..., sticky_header: _Optional[str] = ..., sample_rate: _Optional[float] = ...) -> None: ...

class Replica(_message.Message):
    __slots__ = ("run_id", "version", "state", "node", "address", "ready", "started_at")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    version: int
    state: str
    node: str
    address: str
    ready: bool
    started_at: float
    def __init__(self, run_id: _Optional[str] = ..., version: _Optional[int] = ..., state: _Optional[str] = ..., node: _Optional[str] = ..., address: _Optional[str] = ..., ready: _Optional[bool] = ..., started_at: _Optional[float] = ...) -> None: ...

class DeploymentEvent(_message.Message):
    __slots__ = ("time", "state", "cause", "actor")
    TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    time: float
    state: str
    cause: str
    actor: str
    def __init__(self, time: _Optional[float] = ..., state: _Optional[str] = ..., cause: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class Deployment(_message.Message):
    __slots__ = ("project", "name", "model", "alias", "replicas", "state", "traffic", "serving", "resources", "environment", "sticky_header", "sample_rate", "created_by", "created_at", "replica_list", "events", "url")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_FIELD_NUMBER: _ClassVar[int]
    SERVING_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    STICKY_HEADER_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REPLICA_LIST_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    model: str
    alias: str
    replicas: int
    state: str
    traffic: _containers.RepeatedCompositeFieldContainer[Split]
    serving: _containers.RepeatedCompositeFieldContainer[Split]
    resources: _runs_pb2.Resources
    environment: str
    sticky_header: str
    sample_rate: float
    created_by: str
    created_at: float
    replica_list: _containers.RepeatedCompositeFieldContainer[Replica]
    events: _containers.RepeatedCompositeFieldContainer[DeploymentEvent]
    url: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., model: _Optional[str] = ..., alias: _Optional[str] = ..., replicas: _Optional[int] = ..., state: _Optional[str] = ..., traffic: _Optional[_Iterable[_Union[Split, _Mapping]]] = ..., serving: _Optional[_Iterable[_Union[Split, _Mapping]]] = ..., resources: _Optional[_Union[_runs_pb2.Resources, _Mapping]] = ..., environment: _Optional[str] = ..., sticky_header: _Optional[str] = ..., sample_rate: _Optional[float] = ..., created_by: _Optional[str] = ..., created_at: _Optional[float] = ..., replica_list: _Optional[_Iterable[_Union[Replica, _Mapping]]] = ..., events: _Optional[_Iterable[_Union[DeploymentEvent, _Mapping]]] = ..., url: _Optional[str] = ...) -> None: ...

class DeploymentList(_message.Message):
    __slots__ = ("deployments", "next_page_token")
    DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    deployments: _containers.RepeatedCompositeFieldContainer[Deployment]
    next_page_token: str
    def __init__(self, deployments: _Optional[_Iterable[_Union[Deployment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListDeploymentsRequest(_message.Message):
    __slots__ = ("project", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class DeploymentRef(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ScaleRequest(_message.Message):
    __slots__ = ("name", "replicas")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    name: str
    replicas: int
    def __init__(self, name: _Optional[str] = ..., replicas: _Optional[int] = ...) -> None: ...

class SetTrafficRequest(_message.Message):
    __slots__ = ("name", "splits", "sticky_header", "follow_alias")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    STICKY_HEADER_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_ALIAS_FIELD_NUMBER: _ClassVar[int]
    name: str
    splits: _containers.RepeatedCompositeFieldContainer[Split]
    sticky_header: str
    follow_alias: bool
    def __init__(self, name: _Optional[str] = ..., splits: _Optional[_Iterable[_Union[Split, _Mapping]]] = ..., sticky_header: _Optional[str] = ..., follow_alias: _Optional[bool] = ...) -> None: ...

class EndpointTokenRequest(_message.Message):
    __slots__ = ("deployment", "name", "ttl_s")
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TTL_S_FIELD_NUMBER: _ClassVar[int]
    deployment: str
    name: str
    ttl_s: float
    def __init__(self, deployment: _Optional[str] = ..., name: _Optional[str] = ..., ttl_s: _Optional[float] = ...) -> None: ...

class EndpointToken(_message.Message):
    __slots__ = ("id", "deployment", "name", "secret", "created_by", "created_at", "expires_at", "revoked_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    deployment: str
    name: str
    secret: str
    created_by: str
    created_at: float
    expires_at: float
    revoked_at: float
    def __init__(self, id: _Optional[str] = ..., deployment: _Optional[str] = ..., name: _Optional[str] = ..., secret: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[float] = ..., expires_at: _Optional[float] = ..., revoked_at: _Optional[float] = ...) -> None: ...

class EndpointTokenRef(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class PredictionRecord(_message.Message):
    __slots__ = ("id", "endpoint", "version", "time", "latency_ms", "status", "replica", "node", "shadow", "caller", "content_type", "request", "response", "truncated", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    endpoint: str
    version: int
    time: float
    latency_ms: float
    status: int
    replica: str
    node: str
    shadow: bool
    caller: str
    content_type: str
    request: bytes
    response: bytes
    truncated: bool
    error: str
    def __init__(self, id: _Optional[str] = ..., endpoint: _Optional[str] = ..., version: _Optional[int] = ..., time: _Optional[float] = ..., latency_ms: _Optional[float] = ..., status: _Optional[int] = ..., replica: _Optional[str] = ..., node: _Optional[str] = ..., shadow: _Optional[bool] = ..., caller: _Optional[str] = ..., content_type: _Optional[str] = ..., request: _Optional[bytes] = ..., response: _Optional[bytes] = ..., truncated: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class Prediction(_message.Message):
    __slots__ = ("record", "project", "model", "model_run", "snapshot", "datasets", "environment", "label", "labelled_at")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_RUN_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LABELLED_AT_FIELD_NUMBER: _ClassVar[int]
    record: PredictionRecord
    project: str
    model: str
    model_run: str
    snapshot: str
    datasets: _containers.RepeatedScalarFieldContainer[str]
    environment: str
    label: str
    labelled_at: float
    def __init__(self, record: _Optional[_Union[PredictionRecord, _Mapping]] = ..., project: _Optional[str] = ..., model: _Optional[str] = ..., model_run: _Optional[str] = ..., snapshot: _Optional[str] = ..., datasets: _Optional[_Iterable[str]] = ..., environment: _Optional[str] = ..., label: _Optional[str] = ..., labelled_at: _Optional[float] = ...) -> None: ...

class ListPredictionsRequest(_message.Message):
    __slots__ = ("deployment", "since", "until", "version", "page_size", "page_token", "without_bodies")
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    WITHOUT_BODIES_FIELD_NUMBER: _ClassVar[int]
    deployment: str
    since: float
    until: float
    version: int
    page_size: int
    page_token: str
    without_bodies: bool
    def __init__(self, deployment: _Optional[str] = ..., since: _Optional[float] = ..., until: _Optional[float] = ..., version: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., without_bodies: _Optional[bool] = ...) -> None: ...

class PredictionList(_message.Message):
    __slots__ = ("predictions", "next_page_token")
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    predictions: _containers.RepeatedCompositeFieldContainer[Prediction]
    next_page_token: str
    def __init__(self, predictions: _Optional[_Iterable[_Union[Prediction, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PredictionRef(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class Label(_message.Message):
    __slots__ = ("prediction_id", "label")
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    prediction_id: str
    label: str
    def __init__(self, prediction_id: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class FeedbackRequest(_message.Message):
    __slots__ = ("deployment", "labels")
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    deployment: str
    labels: _containers.RepeatedCompositeFieldContainer[Label]
    def __init__(self, deployment: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ...) -> None: ...

class FeedbackReply(_message.Message):
    __slots__ = ("joined", "unknown")
    JOINED_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    joined: int
    unknown: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, joined: _Optional[int] = ..., unknown: _Optional[_Iterable[str]] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ("deployment", "since")
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    deployment: str
    since: float
    def __init__(self, deployment: _Optional[str] = ..., since: _Optional[float] = ...) -> None: ...

class VersionCard(_message.Message):
    __slots__ = ("version", "requests", "errors", "p50_ms", "p99_ms", "rate_per_s", "labelled", "has_accuracy", "accuracy", "has_mae", "mae")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_S_FIELD_NUMBER: _ClassVar[int]
    LABELLED_FIELD_NUMBER: _ClassVar[int]
    HAS_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    HAS_MAE_FIELD_NUMBER: _ClassVar[int]
    MAE_FIELD_NUMBER: _ClassVar[int]
    version: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    rate_per_s: float
    labelled: int
    has_accuracy: bool
    accuracy: float
    has_mae: bool
    mae: float
    def __init__(self, version: _Optional[int] = ..., requests: _Optional[int] = ..., errors: _Optional[int] = ..., p50_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ..., rate_per_s: _Optional[float] = ..., labelled: _Optional[int] = ..., has_accuracy: _Optional[bool] = ..., accuracy: _Optional[float] = ..., has_mae: _Optional[bool] = ..., mae: _Optional[float] = ...) -> None: ...

class StatsReply(_message.Message):
    __slots__ = ("cards",)
    CARDS_FIELD_NUMBER: _ClassVar[int]
    cards: _containers.RepeatedCompositeFieldContainer[VersionCard]
    def __init__(self, cards: _Optional[_Iterable[_Union[VersionCard, _Mapping]]] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("project", "model", "version", "input", "output", "resources", "environment")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    project: str
    model: str
    version: int
    input: str
    output: str
    resources: _runs_pb2.Resources
    environment: str
    def __init__(self, project: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., input: _Optional[str] = ..., output: _Optional[str] = ..., resources: _Optional[_Union[_runs_pb2.Resources, _Mapping]] = ..., environment: _Optional[str] = ...) -> None: ...
