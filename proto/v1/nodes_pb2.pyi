from kiln.proto.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateJoinTokenRequest(_message.Message):
    __slots__ = ("uses", "ttl_seconds")
    USES_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    uses: int
    ttl_seconds: float
    def __init__(self, uses: _Optional[int] = ..., ttl_seconds: _Optional[float] = ...) -> None: ...

class JoinToken(_message.Message):
    __slots__ = ("id", "token", "uses", "expires_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    token: str
    uses: int
    expires_at: float
    def __init__(self, id: _Optional[str] = ..., token: _Optional[str] = ..., uses: _Optional[int] = ..., expires_at: _Optional[float] = ...) -> None: ...

class Gpu(_message.Message):
    __slots__ = ("uuid", "model", "memory_bytes", "utilization", "memory_used_bytes", "temperature_c")
    UUID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    uuid: str
    model: str
    memory_bytes: int
    utilization: float
    memory_used_bytes: float
    temperature_c: float
    def __init__(self, uuid: _Optional[str] = ..., model: _Optional[str] = ..., memory_bytes: _Optional[int] = ..., utilization: _Optional[float] = ..., memory_used_bytes: _Optional[float] = ..., temperature_c: _Optional[float] = ...) -> None: ...

class Inventory(_message.Message):
    __slots__ = ("cpus", "memory_bytes", "disk_bytes", "gpus", "cpu_percent", "memory_used_bytes", "disk_free_bytes", "driver_version", "cuda_version", "environments")
    CPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_BYTES_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DRIVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    CUDA_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENTS_FIELD_NUMBER: _ClassVar[int]
    cpus: float
    memory_bytes: int
    disk_bytes: int
    gpus: _containers.RepeatedCompositeFieldContainer[Gpu]
    cpu_percent: float
    memory_used_bytes: int
    disk_free_bytes: int
    driver_version: str
    cuda_version: str
    environments: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cpus: _Optional[float] = ..., memory_bytes: _Optional[int] = ..., disk_bytes: _Optional[int] = ..., gpus: _Optional[_Iterable[_Union[Gpu, _Mapping]]] = ..., cpu_percent: _Optional[float] = ..., memory_used_bytes: _Optional[int] = ..., disk_free_bytes: _Optional[int] = ..., driver_version: _Optional[str] = ..., cuda_version: _Optional[str] = ..., environments: _Optional[_Iterable[str]] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("name", "state", "labels", "runtimes", "inventory", "drained", "last_seen", "created_at", "version", "runs", "quarantined", "duplicates", "duplicate_at", "duplicate_from")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class RuntimesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    RUNTIMES_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    DRAINED_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_AT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FROM_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: str
    labels: _containers.ScalarMap[str, str]
    runtimes: _containers.ScalarMap[str, str]
    inventory: Inventory
    drained: bool
    last_seen: float
    created_at: float
    version: str
    runs: _containers.RepeatedScalarFieldContainer[str]
    quarantined: int
    duplicates: int
    duplicate_at: float
    duplicate_from: str
    def __init__(self, name: _Optional[str] = ..., state: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., runtimes: _Optional[_Mapping[str, str]] = ..., inventory: _Optional[_Union[Inventory, _Mapping]] = ..., drained: _Optional[bool] = ..., last_seen: _Optional[float] = ..., created_at: _Optional[float] = ..., version: _Optional[str] = ..., runs: _Optional[_Iterable[str]] = ..., quarantined: _Optional[int] = ..., duplicates: _Optional[int] = ..., duplicate_at: _Optional[float] = ..., duplicate_from: _Optional[str] = ...) -> None: ...

class NodeList(_message.Message):
    __slots__ = ("nodes", "next_page_token")
    NODES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[Node]
    next_page_token: str
    def __init__(self, nodes: _Optional[_Iterable[_Union[Node, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class NodeRef(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class SetDrainRequest(_message.Message):
    __slots__ = ("name", "drain")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    name: str
    drain: bool
    def __init__(self, name: _Optional[str] = ..., drain: _Optional[bool] = ...) -> None: ...

class QuarantinedMessage(_message.Message):
    __slots__ = ("node", "seq", "kind", "message", "error", "failures", "time")
    NODE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    node: str
    seq: int
    kind: str
    message: str
    error: str
    failures: int
    time: float
    def __init__(self, node: _Optional[str] = ..., seq: _Optional[int] = ..., kind: _Optional[str] = ..., message: _Optional[str] = ..., error: _Optional[str] = ..., failures: _Optional[int] = ..., time: _Optional[float] = ...) -> None: ...

class QuarantineList(_message.Message):
    __slots__ = ("messages", "next_page_token")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[QuarantinedMessage]
    next_page_token: str
    def __init__(self, messages: _Optional[_Iterable[_Union[QuarantinedMessage, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListQuarantinedRequest(_message.Message):
    __slots__ = ("name", "page_size", "page_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    page_size: int
    page_token: str
    def __init__(self, name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...
