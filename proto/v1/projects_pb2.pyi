from kiln.proto.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Member(_message.Message):
    __slots__ = ("user", "role")
    USER_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    user: str
    role: str
    def __init__(self, user: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class SetValidatorRequest(_message.Message):
    __slots__ = ("project", "user", "validator")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    project: str
    user: str
    validator: bool
    def __init__(self, project: _Optional[str] = ..., user: _Optional[str] = ..., validator: _Optional[bool] = ...) -> None: ...

class Project(_message.Message):
    __slots__ = ("name", "description", "created_by", "created_at", "archived_at", "members", "my_role", "validators")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_AT_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    MY_ROLE_FIELD_NUMBER: _ClassVar[int]
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    created_by: str
    created_at: float
    archived_at: float
    members: _containers.RepeatedCompositeFieldContainer[Member]
    my_role: str
    validators: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[float] = ..., archived_at: _Optional[float] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., my_role: _Optional[str] = ..., validators: _Optional[_Iterable[str]] = ...) -> None: ...

class ProjectSummaryRequest(_message.Message):
    __slots__ = ("project", "metric", "direction")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    project: str
    metric: str
    direction: str
    def __init__(self, project: _Optional[str] = ..., metric: _Optional[str] = ..., direction: _Optional[str] = ...) -> None: ...

class RunStateCount(_message.Message):
    __slots__ = ("state", "runs")
    STATE_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    state: str
    runs: int
    def __init__(self, state: _Optional[str] = ..., runs: _Optional[int] = ...) -> None: ...

class BestRun(_message.Message):
    __slots__ = ("run_id", "name", "metric", "direction", "value", "finished_at")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    name: str
    metric: str
    direction: str
    value: float
    finished_at: float
    def __init__(self, run_id: _Optional[str] = ..., name: _Optional[str] = ..., metric: _Optional[str] = ..., direction: _Optional[str] = ..., value: _Optional[float] = ..., finished_at: _Optional[float] = ...) -> None: ...

class ProjectSummary(_message.Message):
    __slots__ = ("project", "runs", "last_activity", "storage_bytes", "storage_blobs", "members", "best")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    STORAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STORAGE_BLOBS_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    BEST_FIELD_NUMBER: _ClassVar[int]
    project: str
    runs: _containers.RepeatedCompositeFieldContainer[RunStateCount]
    last_activity: float
    storage_bytes: int
    storage_blobs: int
    members: int
    best: BestRun
    def __init__(self, project: _Optional[str] = ..., runs: _Optional[_Iterable[_Union[RunStateCount, _Mapping]]] = ..., last_activity: _Optional[float] = ..., storage_bytes: _Optional[int] = ..., storage_blobs: _Optional[int] = ..., members: _Optional[int] = ..., best: _Optional[_Union[BestRun, _Mapping]] = ...) -> None: ...

class ProjectList(_message.Message):
    __slots__ = ("projects", "next_page_token")
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    projects: _containers.RepeatedCompositeFieldContainer[Project]
    next_page_token: str
    def __init__(self, projects: _Optional[_Iterable[_Union[Project, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateProjectRequest(_message.Message):
    __slots__ = ("name", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ListProjectsRequest(_message.Message):
    __slots__ = ("include_archived", "page_size", "page_token")
    INCLUDE_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    include_archived: bool
    page_size: int
    page_token: str
    def __init__(self, include_archived: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SetMemberRequest(_message.Message):
    __slots__ = ("project", "user", "role")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    project: str
    user: str
    role: str
    def __init__(self, project: _Optional[str] = ..., user: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class RemoveMemberRequest(_message.Message):
    __slots__ = ("project", "user")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    project: str
    user: str
    def __init__(self, project: _Optional[str] = ..., user: _Optional[str] = ...) -> None: ...

class BlobRef(_message.Message):
    __slots__ = ("digest", "size")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    digest: str
    size: int
    def __init__(self, digest: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class FindMissingBlobsRequest(_message.Message):
    __slots__ = ("project", "blobs")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    BLOBS_FIELD_NUMBER: _ClassVar[int]
    project: str
    blobs: _containers.RepeatedCompositeFieldContainer[BlobRef]
    def __init__(self, project: _Optional[str] = ..., blobs: _Optional[_Iterable[_Union[BlobRef, _Mapping]]] = ...) -> None: ...

class FindMissingBlobsReply(_message.Message):
    __slots__ = ("missing",)
    MISSING_FIELD_NUMBER: _ClassVar[int]
    missing: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, missing: _Optional[_Iterable[str]] = ...) -> None: ...

class UploadBlobsRequest(_message.Message):
    __slots__ = ("project", "parts")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    project: str
    parts: _containers.RepeatedCompositeFieldContainer[_common_pb2.BlobPart]
    def __init__(self, project: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[_common_pb2.BlobPart, _Mapping]]] = ...) -> None: ...

class UploadBlobsReply(_message.Message):
    __slots__ = ("stored", "bytes_received")
    STORED_FIELD_NUMBER: _ClassVar[int]
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    stored: _containers.RepeatedScalarFieldContainer[str]
    bytes_received: int
    def __init__(self, stored: _Optional[_Iterable[str]] = ..., bytes_received: _Optional[int] = ...) -> None: ...

class CreateSnapshotRequest(_message.Message):
    __slots__ = ("project", "entries", "parent", "message", "expected_id", "base", "removed")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_ID_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    project: str
    entries: _containers.RepeatedCompositeFieldContainer[_common_pb2.ManifestEntry]
    parent: str
    message: str
    expected_id: str
    base: str
    removed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[_common_pb2.ManifestEntry, _Mapping]]] = ..., parent: _Optional[str] = ..., message: _Optional[str] = ..., expected_id: _Optional[str] = ..., base: _Optional[str] = ..., removed: _Optional[_Iterable[str]] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("id", "project", "parent", "message", "author", "created_at", "files", "bytes")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    project: str
    parent: str
    message: str
    author: str
    created_at: float
    files: int
    bytes: int
    def __init__(self, id: _Optional[str] = ..., project: _Optional[str] = ..., parent: _Optional[str] = ..., message: _Optional[str] = ..., author: _Optional[str] = ..., created_at: _Optional[float] = ..., files: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class SnapshotList(_message.Message):
    __slots__ = ("snapshots", "next_page_token")
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[Snapshot]
    next_page_token: str
    def __init__(self, snapshots: _Optional[_Iterable[_Union[Snapshot, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListSnapshotsRequest(_message.Message):
    __slots__ = ("project", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetSnapshotRequest(_message.Message):
    __slots__ = ("project", "id", "summary_only", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    id: str
    summary_only: bool
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., id: _Optional[str] = ..., summary_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SnapshotManifest(_message.Message):
    __slots__ = ("snapshot", "entries", "next_page_token")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    snapshot: Snapshot
    entries: _containers.RepeatedCompositeFieldContainer[_common_pb2.ManifestEntry]
    next_page_token: str
    def __init__(self, snapshot: _Optional[_Union[Snapshot, _Mapping]] = ..., entries: _Optional[_Iterable[_Union[_common_pb2.ManifestEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReadBlobsRequest(_message.Message):
    __slots__ = ("project", "digests")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DIGESTS_FIELD_NUMBER: _ClassVar[int]
    project: str
    digests: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project: _Optional[str] = ..., digests: _Optional[_Iterable[str]] = ...) -> None: ...
