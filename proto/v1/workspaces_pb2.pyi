from kiln.proto.v1 import runs_pb2 as _runs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StartWorkspaceRequest(_message.Message):
    __slots__ = ("project", "name", "tool", "spec", "python", "idle_limit_s")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    PYTHON_FIELD_NUMBER: _ClassVar[int]
    IDLE_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    tool: str
    spec: _runs_pb2.RunSpec
    python: str
    idle_limit_s: float
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., tool: _Optional[str] = ..., spec: _Optional[_Union[_runs_pb2.RunSpec, _Mapping]] = ..., python: _Optional[str] = ..., idle_limit_s: _Optional[float] = ...) -> None: ...

class ListWorkspacesRequest(_message.Message):
    __slots__ = ("project", "all")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    project: str
    all: bool
    def __init__(self, project: _Optional[str] = ..., all: _Optional[bool] = ...) -> None: ...

class WorkspaceRef(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class SaveWorkspaceRequest(_message.Message):
    __slots__ = ("project", "name", "message")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    message: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Workspace(_message.Message):
    __slots__ = ("project", "name", "run_id", "tool", "owner", "state", "node", "gpus", "created_at", "last_active", "idle_limit_s", "warned_at", "last_saved", "last_saved_at", "port", "path", "stop_reason", "shared")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    IDLE_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    WARNED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SAVED_FIELD_NUMBER: _ClassVar[int]
    LAST_SAVED_AT_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    run_id: str
    tool: str
    owner: str
    state: str
    node: str
    gpus: int
    created_at: float
    last_active: float
    idle_limit_s: float
    warned_at: float
    last_saved: str
    last_saved_at: float
    port: int
    path: str
    stop_reason: str
    shared: bool
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., run_id: _Optional[str] = ..., tool: _Optional[str] = ..., owner: _Optional[str] = ..., state: _Optional[str] = ..., node: _Optional[str] = ..., gpus: _Optional[int] = ..., created_at: _Optional[float] = ..., last_active: _Optional[float] = ..., idle_limit_s: _Optional[float] = ..., warned_at: _Optional[float] = ..., last_saved: _Optional[str] = ..., last_saved_at: _Optional[float] = ..., port: _Optional[int] = ..., path: _Optional[str] = ..., stop_reason: _Optional[str] = ..., shared: _Optional[bool] = ...) -> None: ...

class ShareWorkspaceRequest(_message.Message):
    __slots__ = ("project", "name", "shared")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    shared: bool
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., shared: _Optional[bool] = ...) -> None: ...

class WorkspaceList(_message.Message):
    __slots__ = ("workspaces",)
    WORKSPACES_FIELD_NUMBER: _ClassVar[int]
    workspaces: _containers.RepeatedCompositeFieldContainer[Workspace]
    def __init__(self, workspaces: _Optional[_Iterable[_Union[Workspace, _Mapping]]] = ...) -> None: ...
