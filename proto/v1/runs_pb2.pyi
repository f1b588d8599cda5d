from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Resources(_message.Message):
    __slots__ = ("cpus", "memory_bytes", "gpus", "gpu_model")
    CPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    GPU_MODEL_FIELD_NUMBER: _ClassVar[int]
    cpus: float
    memory_bytes: int
    gpus: int
    gpu_model: str
    def __init__(self, cpus: _Optional[float] = ..., memory_bytes: _Optional[int] = ..., gpus: _Optional[int] = ..., gpu_model: _Optional[str] = ...) -> None: ...

class RunSpec(_message.Message):
    __slots__ = ("project", "command", "snapshot", "image", "runtime", "resources", "priority", "node_labels", "retries", "env", "network", "datasets", "parent_run", "rerun_of", "environment", "builds")
    class NodeLabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    NODE_LABELS_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_FIELD_NUMBER: _ClassVar[int]
    RERUN_OF_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    BUILDS_FIELD_NUMBER: _ClassVar[int]
    project: str
    command: _containers.RepeatedScalarFieldContainer[str]
    snapshot: str
    image: str
    runtime: str
    resources: Resources
    priority: str
    node_labels: _containers.ScalarMap[str, str]
    retries: int
    env: _containers.ScalarMap[str, str]
    network: str
    datasets: _containers.RepeatedScalarFieldContainer[str]
    parent_run: str
    rerun_of: str
    environment: str
    builds: str
    def __init__(self, project: _Optional[str] = ..., command: _Optional[_Iterable[str]] = ..., snapshot: _Optional[str] = ..., image: _Optional[str] = ..., runtime: _Optional[str] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., priority: _Optional[str] = ..., node_labels: _Optional[_Mapping[str, str]] = ..., retries: _Optional[int] = ..., env: _Optional[_Mapping[str, str]] = ..., network: _Optional[str] = ..., datasets: _Optional[_Iterable[str]] = ..., parent_run: _Optional[str] = ..., rerun_of: _Optional[str] = ..., environment: _Optional[str] = ..., builds: _Optional[str] = ...) -> None: ...

class RunEvent(_message.Message):
    __slots__ = ("time", "state", "cause", "node", "attempt")
    TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    time: float
    state: str
    cause: str
    node: str
    attempt: int
    def __init__(self, time: _Optional[float] = ..., state: _Optional[str] = ..., cause: _Optional[str] = ..., node: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ("id", "spec", "user", "state", "created_at", "node", "attempt", "gpu_uuids", "has_exit_code", "exit_code", "reason", "started_at", "finished_at", "output_snapshot", "cancel_requested", "events", "runtime", "log_dropped_bytes", "log_cap_bytes")
    ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    GPU_UUIDS_FIELD_NUMBER: _ClassVar[int]
    HAS_EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    LOG_DROPPED_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOG_CAP_BYTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    spec: RunSpec
    user: str
    state: str
    created_at: float
    node: str
    attempt: int
    gpu_uuids: _containers.RepeatedScalarFieldContainer[str]
    has_exit_code: bool
    exit_code: int
    reason: str
    started_at: float
    finished_at: float
    output_snapshot: str
    cancel_requested: bool
    events: _containers.RepeatedCompositeFieldContainer[RunEvent]
    runtime: str
    log_dropped_bytes: int
    log_cap_bytes: int
    def __init__(self, id: _Optional[str] = ..., spec: _Optional[_Union[RunSpec, _Mapping]] = ..., user: _Optional[str] = ..., state: _Optional[str] = ..., created_at: _Optional[float] = ..., node: _Optional[str] = ..., attempt: _Optional[int] = ..., gpu_uuids: _Optional[_Iterable[str]] = ..., has_exit_code: _Optional[bool] = ..., exit_code: _Optional[int] = ..., reason: _Optional[str] = ..., started_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., output_snapshot: _Optional[str] = ..., cancel_requested: _Optional[bool] = ..., events: _Optional[_Iterable[_Union[RunEvent, _Mapping]]] = ..., runtime: _Optional[str] = ..., log_dropped_bytes: _Optional[int] = ..., log_cap_bytes: _Optional[int] = ...) -> None: ...

class RunRef(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("project", "state", "limit", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    state: str
    limit: int
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., state: _Optional[str] = ..., limit: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class RunList(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[Run]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[Run, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class LogChunk(_message.Message):
    __slots__ = ("attempt", "seq", "stream", "data", "time", "offset")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    seq: int
    stream: str
    data: bytes
    time: float
    offset: int
    def __init__(self, attempt: _Optional[int] = ..., seq: _Optional[int] = ..., stream: _Optional[str] = ..., data: _Optional[bytes] = ..., time: _Optional[float] = ..., offset: _Optional[int] = ...) -> None: ...

class ReadLogsRequest(_message.Message):
    __slots__ = ("id", "follow", "after_attempt", "after_seq", "tail_bytes", "before_attempt", "before_seq")
    ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    AFTER_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    TAIL_BYTES_FIELD_NUMBER: _ClassVar[int]
    BEFORE_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    BEFORE_SEQ_FIELD_NUMBER: _ClassVar[int]
    id: str
    follow: bool
    after_attempt: int
    after_seq: int
    tail_bytes: int
    before_attempt: int
    before_seq: int
    def __init__(self, id: _Optional[str] = ..., follow: _Optional[bool] = ..., after_attempt: _Optional[int] = ..., after_seq: _Optional[int] = ..., tail_bytes: _Optional[int] = ..., before_attempt: _Optional[int] = ..., before_seq: _Optional[int] = ...) -> None: ...
