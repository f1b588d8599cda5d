from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnvironmentDefinition(_message.Message):
    __slots__ = ("kind", "text", "python", "context")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PYTHON_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    text: str
    python: str
    context: str
    def __init__(self, kind: _Optional[str] = ..., text: _Optional[str] = ..., python: _Optional[str] = ..., context: _Optional[str] = ...) -> None: ...

class Environment(_message.Message):
    __slots__ = ("project", "name", "version", "definition", "digest", "state", "created_by", "created_at", "build_run", "reason", "source", "python_version", "packages", "image_id", "image_snapshot", "size_bytes", "cached_on")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    BUILD_RUN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CACHED_ON_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    version: int
    definition: EnvironmentDefinition
    digest: str
    state: str
    created_by: str
    created_at: float
    build_run: str
    reason: str
    source: str
    python_version: str
    packages: _containers.RepeatedScalarFieldContainer[str]
    image_id: str
    image_snapshot: str
    size_bytes: int
    cached_on: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., definition: _Optional[_Union[EnvironmentDefinition, _Mapping]] = ..., digest: _Optional[str] = ..., state: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[float] = ..., build_run: _Optional[str] = ..., reason: _Optional[str] = ..., source: _Optional[str] = ..., python_version: _Optional[str] = ..., packages: _Optional[_Iterable[str]] = ..., image_id: _Optional[str] = ..., image_snapshot: _Optional[str] = ..., size_bytes: _Optional[int] = ..., cached_on: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateEnvironmentRequest(_message.Message):
    __slots__ = ("project", "name", "definition", "source")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    definition: EnvironmentDefinition
    source: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., definition: _Optional[_Union[EnvironmentDefinition, _Mapping]] = ..., source: _Optional[str] = ...) -> None: ...

class ListEnvironmentsRequest(_message.Message):
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

class EnvironmentList(_message.Message):
    __slots__ = ("environments", "next_page_token", "default_environment")
    ENVIRONMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    environments: _containers.RepeatedCompositeFieldContainer[Environment]
    next_page_token: str
    default_environment: str
    def __init__(self, environments: _Optional[_Iterable[_Union[Environment, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., default_environment: _Optional[str] = ...) -> None: ...

class EnvironmentRequest(_message.Message):
    __slots__ = ("project", "ref")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    project: str
    ref: str
    def __init__(self, project: _Optional[str] = ..., ref: _Optional[str] = ...) -> None: ...

class EnvironmentRef(_message.Message):
    __slots__ = ("name", "version", "definition", "image_id", "image_snapshot", "build")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    BUILD_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    definition: EnvironmentDefinition
    image_id: str
    image_snapshot: str
    build: bool
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., definition: _Optional[_Union[EnvironmentDefinition, _Mapping]] = ..., image_id: _Optional[str] = ..., image_snapshot: _Optional[str] = ..., build: _Optional[bool] = ...) -> None: ...
