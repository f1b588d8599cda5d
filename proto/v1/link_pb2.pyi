from kiln.proto.v1 import environments_pb2 as _environments_pb2
from kiln.proto.v1 import nodes_pb2 as _nodes_pb2
from kiln.proto.v1 import runs_pb2 as _runs_pb2
from kiln.proto.v1 import tracking_pb2 as _tracking_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TunnelFrame(_message.Message):
    __slots__ = ("tunnel_id", "run_id", "port", "data", "error")
    TUNNEL_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    tunnel_id: str
    run_id: str
    port: int
    data: bytes
    error: str
    def __init__(self, tunnel_id: _Optional[str] = ..., run_id: _Optional[str] = ..., port: _Optional[int] = ..., data: _Optional[bytes] = ..., error: _Optional[str] = ...) -> None: ...

class SaveFolder(_message.Message):
    __slots__ = ("run_id", "attempt", "request_id", "message")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    request_id: str
    message: str
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., request_id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class OpenTunnel(_message.Message):
    __slots__ = ("tunnel_id", "run_id", "port")
    TUNNEL_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    tunnel_id: str
    run_id: str
    port: int
    def __init__(self, tunnel_id: _Optional[str] = ..., run_id: _Optional[str] = ..., port: _Optional[int] = ...) -> None: ...

class EnrollRequest(_message.Message):
    __slots__ = ("join_token", "name", "csr_pem", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    JOIN_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    join_token: str
    name: str
    csr_pem: bytes
    labels: _containers.ScalarMap[str, str]
    def __init__(self, join_token: _Optional[str] = ..., name: _Optional[str] = ..., csr_pem: _Optional[bytes] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class EnrollReply(_message.Message):
    __slots__ = ("name", "certificate_pem", "ca_pem", "agent_port")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    CA_PEM_FIELD_NUMBER: _ClassVar[int]
    AGENT_PORT_FIELD_NUMBER: _ClassVar[int]
    name: str
    certificate_pem: bytes
    ca_pem: bytes
    agent_port: int
    def __init__(self, name: _Optional[str] = ..., certificate_pem: _Optional[bytes] = ..., ca_pem: _Optional[bytes] = ..., agent_port: _Optional[int] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("run_id", "attempt", "spec", "runtime", "gpu_uuids", "user", "datasets", "environment")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    GPU_UUIDS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    spec: _runs_pb2.RunSpec
    runtime: str
    gpu_uuids: _containers.RepeatedScalarFieldContainer[str]
    user: str
    datasets: _containers.RepeatedCompositeFieldContainer[DatasetMount]
    environment: _environments_pb2.EnvironmentRef
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., spec: _Optional[_Union[_runs_pb2.RunSpec, _Mapping]] = ..., runtime: _Optional[str] = ..., gpu_uuids: _Optional[_Iterable[str]] = ..., user: _Optional[str] = ..., datasets: _Optional[_Iterable[_Union[DatasetMount, _Mapping]]] = ..., environment: _Optional[_Union[_environments_pb2.EnvironmentRef, _Mapping]] = ...) -> None: ...

class DatasetMount(_message.Message):
    __slots__ = ("name", "version", "snapshot")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    snapshot: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., snapshot: _Optional[str] = ...) -> None: ...

class HeldRun(_message.Message):
    __slots__ = ("run_id", "attempt", "state")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    state: str
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., state: _Optional[str] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("version", "runtimes", "inventory", "labels", "runs", "name", "instance")
    class RuntimesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RUNTIMES_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    version: str
    runtimes: _containers.ScalarMap[str, str]
    inventory: _nodes_pb2.Inventory
    labels: _containers.ScalarMap[str, str]
    runs: _containers.RepeatedCompositeFieldContainer[HeldRun]
    name: str
    instance: str
    def __init__(self, version: _Optional[str] = ..., runtimes: _Optional[_Mapping[str, str]] = ..., inventory: _Optional[_Union[_nodes_pb2.Inventory, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ..., runs: _Optional[_Iterable[_Union[HeldRun, _Mapping]]] = ..., name: _Optional[str] = ..., instance: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("inventory",)
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    inventory: _nodes_pb2.Inventory
    def __init__(self, inventory: _Optional[_Union[_nodes_pb2.Inventory, _Mapping]] = ...) -> None: ...

class RunUpdate(_message.Message):
    __slots__ = ("run_id", "attempt", "state", "has_exit_code", "exit_code", "reason", "output_snapshot", "time", "environment")
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    HAS_EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    state: str
    has_exit_code: bool
    exit_code: int
    reason: str
    output_snapshot: str
    time: float
    environment: _containers.ScalarMap[str, str]
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., state: _Optional[str] = ..., has_exit_code: _Optional[bool] = ..., exit_code: _Optional[int] = ..., reason: _Optional[str] = ..., output_snapshot: _Optional[str] = ..., time: _Optional[float] = ..., environment: _Optional[_Mapping[str, str]] = ...) -> None: ...

class LogBatch(_message.Message):
    __slots__ = ("run_id", "chunks")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    chunks: _containers.RepeatedCompositeFieldContainer[_runs_pb2.LogChunk]
    def __init__(self, run_id: _Optional[str] = ..., chunks: _Optional[_Iterable[_Union[_runs_pb2.LogChunk, _Mapping]]] = ...) -> None: ...

class AgentMessage(_message.Message):
    __slots__ = ("seq", "hello", "heartbeat", "run_update", "logs", "track")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    RUN_UPDATE_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    seq: int
    hello: Hello
    heartbeat: Heartbeat
    run_update: RunUpdate
    logs: LogBatch
    track: _tracking_pb2.TrackBatch
    def __init__(self, seq: _Optional[int] = ..., hello: _Optional[_Union[Hello, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., run_update: _Optional[_Union[RunUpdate, _Mapping]] = ..., logs: _Optional[_Union[LogBatch, _Mapping]] = ..., track: _Optional[_Union[_tracking_pb2.TrackBatch, _Mapping]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("node", "heartbeat_interval_s", "drained")
    NODE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    DRAINED_FIELD_NUMBER: _ClassVar[int]
    node: str
    heartbeat_interval_s: float
    drained: bool
    def __init__(self, node: _Optional[str] = ..., heartbeat_interval_s: _Optional[float] = ..., drained: _Optional[bool] = ...) -> None: ...

class Cancel(_message.Message):
    __slots__ = ("run_id", "attempt", "grace_s", "reason")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    GRACE_S_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    grace_s: float
    reason: str
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., grace_s: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class Drain(_message.Message):
    __slots__ = ("drain",)
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    drain: bool
    def __init__(self, drain: _Optional[bool] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("seq",)
    SEQ_FIELD_NUMBER: _ClassVar[int]
    seq: int
    def __init__(self, seq: _Optional[int] = ...) -> None: ...

class CoordinatorMessage(_message.Message):
    __slots__ = ("welcome", "assign", "cancel", "drain", "ack", "open_tunnel", "save_folder")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    ASSIGN_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    OPEN_TUNNEL_FIELD_NUMBER: _ClassVar[int]
    SAVE_FOLDER_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    assign: Assignment
    cancel: Cancel
    drain: Drain
    ack: Ack
    open_tunnel: OpenTunnel
    save_folder: SaveFolder
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., assign: _Optional[_Union[Assignment, _Mapping]] = ..., cancel: _Optional[_Union[Cancel, _Mapping]] = ..., drain: _Optional[_Union[Drain, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., open_tunnel: _Optional[_Union[OpenTunnel, _Mapping]] = ..., save_folder: _Optional[_Union[SaveFolder, _Mapping]] = ...) -> None: ...
