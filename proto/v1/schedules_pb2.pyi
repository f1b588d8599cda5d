from kiln.proto.v1 import runs_pb2 as _runs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateScheduleRequest(_message.Message):
    __slots__ = ("project", "name", "cron", "tz", "every", "overlap", "catch_up", "spec", "rerun_of", "on", "dry_run")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    TZ_FIELD_NUMBER: _ClassVar[int]
    EVERY_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    CATCH_UP_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    RERUN_OF_FIELD_NUMBER: _ClassVar[int]
    ON_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    cron: str
    tz: str
    every: str
    overlap: str
    catch_up: str
    spec: _runs_pb2.RunSpec
    rerun_of: str
    on: str
    dry_run: bool
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., cron: _Optional[str] = ..., tz: _Optional[str] = ..., every: _Optional[str] = ..., overlap: _Optional[str] = ..., catch_up: _Optional[str] = ..., spec: _Optional[_Union[_runs_pb2.RunSpec, _Mapping]] = ..., rerun_of: _Optional[str] = ..., on: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class ScheduleRef(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListSchedulesRequest(_message.Message):
    __slots__ = ("project", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ScheduleFire(_message.Message):
    __slots__ = ("nominal", "fired_at", "outcome", "run_id", "reason", "run_state")
    NOMINAL_FIELD_NUMBER: _ClassVar[int]
    FIRED_AT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RUN_STATE_FIELD_NUMBER: _ClassVar[int]
    nominal: float
    fired_at: float
    outcome: str
    run_id: str
    reason: str
    run_state: str
    def __init__(self, nominal: _Optional[float] = ..., fired_at: _Optional[float] = ..., outcome: _Optional[str] = ..., run_id: _Optional[str] = ..., reason: _Optional[str] = ..., run_state: _Optional[str] = ...) -> None: ...

class Schedule(_message.Message):
    __slots__ = ("id", "project", "name", "spec", "cron", "tz", "every_s", "anchor", "overlap", "overlap_max", "catch_up", "rerun_of", "state", "created_by", "created_at", "last_nominal", "description", "next_fires", "fires", "fire_count", "trigger", "would_fire")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    TZ_FIELD_NUMBER: _ClassVar[int]
    EVERY_S_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_MAX_FIELD_NUMBER: _ClassVar[int]
    CATCH_UP_FIELD_NUMBER: _ClassVar[int]
    RERUN_OF_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_NOMINAL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIRES_FIELD_NUMBER: _ClassVar[int]
    FIRES_FIELD_NUMBER: _ClassVar[int]
    FIRE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    WOULD_FIRE_FIELD_NUMBER: _ClassVar[int]
    id: str
    project: str
    name: str
    spec: _runs_pb2.RunSpec
    cron: str
    tz: str
    every_s: int
    anchor: float
    overlap: str
    overlap_max: int
    catch_up: str
    rerun_of: str
    state: str
    created_by: str
    created_at: float
    last_nominal: float
    description: str
    next_fires: _containers.RepeatedScalarFieldContainer[float]
    fires: _containers.RepeatedCompositeFieldContainer[ScheduleFire]
    fire_count: int
    trigger: str
    would_fire: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., project: _Optional[str] = ..., name: _Optional[str] = ..., spec: _Optional[_Union[_runs_pb2.RunSpec, _Mapping]] = ..., cron: _Optional[str] = ..., tz: _Optional[str] = ..., every_s: _Optional[int] = ..., anchor: _Optional[float] = ..., overlap: _Optional[str] = ..., overlap_max: _Optional[int] = ..., catch_up: _Optional[str] = ..., rerun_of: _Optional[str] = ..., state: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[float] = ..., last_nominal: _Optional[float] = ..., description: _Optional[str] = ..., next_fires: _Optional[_Iterable[float]] = ..., fires: _Optional[_Iterable[_Union[ScheduleFire, _Mapping]]] = ..., fire_count: _Optional[int] = ..., trigger: _Optional[str] = ..., would_fire: _Optional[_Iterable[str]] = ...) -> None: ...

class ScheduleList(_message.Message):
    __slots__ = ("schedules", "next_page_token")
    SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    schedules: _containers.RepeatedCompositeFieldContainer[Schedule]
    next_page_token: str
    def __init__(self, schedules: _Optional[_Iterable[_Union[Schedule, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
