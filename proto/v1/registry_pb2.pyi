from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AddDatasetVersionRequest(_message.Message):
    __slots__ = ("project", "name", "snapshot", "description")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    snapshot: str
    description: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., snapshot: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class DatasetVersion(_message.Message):
    __slots__ = ("project", "name", "version", "snapshot", "created_by", "created_at", "files", "bytes")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    version: int
    snapshot: str
    created_by: str
    created_at: float
    files: int
    bytes: int
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., snapshot: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[float] = ..., files: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class DatasetList(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[DatasetVersion]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[DatasetVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ("project", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class RegisterModelRequest(_message.Message):
    __slots__ = ("run_id", "path", "name", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    path: str
    name: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, run_id: _Optional[str] = ..., path: _Optional[str] = ..., name: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ModelVersion(_message.Message):
    __slots__ = ("project", "name", "version", "run_id", "path", "snapshot", "created_by", "created_at", "tags", "metrics", "aliases")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    version: int
    run_id: str
    path: str
    snapshot: str
    created_by: str
    created_at: float
    tags: _containers.ScalarMap[str, str]
    metrics: _containers.ScalarMap[str, float]
    aliases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., run_id: _Optional[str] = ..., path: _Optional[str] = ..., snapshot: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[float] = ..., tags: _Optional[_Mapping[str, str]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., aliases: _Optional[_Iterable[str]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("project", "name", "versions", "aliases", "required_approvals", "next_page_token")
    class AliasesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    versions: _containers.RepeatedCompositeFieldContainer[ModelVersion]
    aliases: _containers.ScalarMap[str, int]
    required_approvals: int
    next_page_token: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., versions: _Optional[_Iterable[_Union[ModelVersion, _Mapping]]] = ..., aliases: _Optional[_Mapping[str, int]] = ..., required_approvals: _Optional[int] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ModelList(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("project", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ModelRef(_message.Message):
    __slots__ = ("project", "name", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class RequestAliasRequest(_message.Message):
    __slots__ = ("project", "name", "version", "alias", "message")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    version: int
    alias: str
    message: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("reviewer", "approve", "message", "time")
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    reviewer: str
    approve: bool
    message: str
    time: float
    def __init__(self, reviewer: _Optional[str] = ..., approve: _Optional[bool] = ..., message: _Optional[str] = ..., time: _Optional[float] = ...) -> None: ...

class AliasRequest(_message.Message):
    __slots__ = ("id", "project", "name", "version", "alias", "requester", "state", "created_at", "decided_at", "reviews", "required_approvals", "message")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    project: str
    name: str
    version: int
    alias: str
    requester: str
    state: str
    created_at: float
    decided_at: float
    reviews: _containers.RepeatedCompositeFieldContainer[Review]
    required_approvals: int
    message: str
    def __init__(self, id: _Optional[str] = ..., project: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ..., requester: _Optional[str] = ..., state: _Optional[str] = ..., created_at: _Optional[float] = ..., decided_at: _Optional[float] = ..., reviews: _Optional[_Iterable[_Union[Review, _Mapping]]] = ..., required_approvals: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class AliasRequestList(_message.Message):
    __slots__ = ("requests", "next_page_token")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[AliasRequest]
    next_page_token: str
    def __init__(self, requests: _Optional[_Iterable[_Union[AliasRequest, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListRequestsRequest(_message.Message):
    __slots__ = ("project", "name", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ReviewRequest(_message.Message):
    __slots__ = ("project", "name", "version", "approve", "message")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    version: int
    approve: bool
    message: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., approve: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class HistoryRequest(_message.Message):
    __slots__ = ("project", "name", "at", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    at: float
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., at: _Optional[float] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class AliasMove(_message.Message):
    __slots__ = ("alias", "version", "time", "actor", "request_id")
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    alias: str
    version: int
    time: float
    actor: str
    request_id: str
    def __init__(self, alias: _Optional[str] = ..., version: _Optional[int] = ..., time: _Optional[float] = ..., actor: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class AliasHistory(_message.Message):
    __slots__ = ("moves", "next_page_token")
    MOVES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    moves: _containers.RepeatedCompositeFieldContainer[AliasMove]
    next_page_token: str
    def __init__(self, moves: _Optional[_Iterable[_Union[AliasMove, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SetPolicyRequest(_message.Message):
    __slots__ = ("project", "required_approvals")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    project: str
    required_approvals: int
    def __init__(self, project: _Optional[str] = ..., required_approvals: _Optional[int] = ...) -> None: ...

class Policy(_message.Message):
    __slots__ = ("project", "required_approvals")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    project: str
    required_approvals: int
    def __init__(self, project: _Optional[str] = ..., required_approvals: _Optional[int] = ...) -> None: ...

class AddCommentRequest(_message.Message):
    __slots__ = ("entity", "text", "project")
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    entity: str
    text: str
    project: str
    def __init__(self, entity: _Optional[str] = ..., text: _Optional[str] = ..., project: _Optional[str] = ...) -> None: ...

class Comment(_message.Message):
    __slots__ = ("id", "entity", "project", "author", "text", "time")
    ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    entity: str
    project: str
    author: str
    text: str
    time: float
    def __init__(self, id: _Optional[str] = ..., entity: _Optional[str] = ..., project: _Optional[str] = ..., author: _Optional[str] = ..., text: _Optional[str] = ..., time: _Optional[float] = ...) -> None: ...

class CommentList(_message.Message):
    __slots__ = ("comments", "next_page_token")
    COMMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    comments: _containers.RepeatedCompositeFieldContainer[Comment]
    next_page_token: str
    def __init__(self, comments: _Optional[_Iterable[_Union[Comment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListCommentsRequest(_message.Message):
    __slots__ = ("id", "project", "page_size", "page_token")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    id: str
    project: str
    page_size: int
    page_token: str
    def __init__(self, id: _Optional[str] = ..., project: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class LineageRequest(_message.Message):
    __slots__ = ("id", "direction", "depth")
    ID_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    id: str
    direction: str
    depth: int
    def __init__(self, id: _Optional[str] = ..., direction: _Optional[str] = ..., depth: _Optional[int] = ...) -> None: ...

class LineageNode(_message.Message):
    __slots__ = ("id", "kind", "label", "project")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    label: str
    project: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., label: _Optional[str] = ..., project: _Optional[str] = ...) -> None: ...

class LineageEdge(_message.Message):
    __slots__ = ("src", "dst", "relation")
    SRC_FIELD_NUMBER: _ClassVar[int]
    DST_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    src: str
    dst: str
    relation: str
    def __init__(self, src: _Optional[str] = ..., dst: _Optional[str] = ..., relation: _Optional[str] = ...) -> None: ...

class LineageGraph(_message.Message):
    __slots__ = ("root", "nodes", "edges")
    ROOT_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    root: str
    nodes: _containers.RepeatedCompositeFieldContainer[LineageNode]
    edges: _containers.RepeatedCompositeFieldContainer[LineageEdge]
    def __init__(self, root: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[LineageNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[LineageEdge, _Mapping]]] = ...) -> None: ...

class ExportRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: str
    def __init__(self, project: _Optional[str] = ...) -> None: ...

class OpenLineageEvent(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...
